//! The NAS-Bench-201 network in tch (Dong & Yang 2020, Fig. 1; the macro skeleton of their
//! `TinyNetwork`), for any input size and channel count:
//!
//! * stem: 3×3 conv (`in_channels → C`) + BN;
//! * three stages of `N` cells with `C`, `2C`, `4C` channels; between stages a residual
//!   reduction block, the ResNet basic block: ReLU–3×3 conv stride 2–BN, ReLU–3×3 conv–BN, plus
//!   a shortcut of a 2×2 average pool (stride 2) and a 1×1 conv (no BN);
//! * BN + ReLU, global average pool, linear classifier.
//!
//! Inside a cell every op keeps the channels and the size (stride 1). Convolutions are
//! ReLU–conv–BN without bias; the 3×3 average pool pads by 1 and does not count the padding.
//! Every op and block gives `ceil(H / stride)`, odd sizes included: the shortcut's pool uses
//! `ceil_mode` (its last window averages the pixels it covers), where the reference's floor would
//! disagree with the 3×3 stride-2 conv on an odd size (7×7 → 4×4 vs 3×3). On even sizes the two
//! are the same.
//!
//! The evaluation network's BN is affine with running statistics; the weight-sharing search
//! network builds the cells' ops with a non-affine BN (DARTS), the skeleton affine as the
//! reference's search model does.

use crate::cell::{Cell, Op, EDGES, EDGE_ENDS, NODES};
use xnas_tch::layers::{batch_norm, linear, out_size, Conv, ConvSpec, ReluConvBn};
use xnas_tch::tch::{nn, Kind, Tensor};

/// The shape of a network; the cell gives its ops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkConfig {
    /// `N`: cells per stage.
    pub cells: usize,
    /// `C`: channels of the first stage.
    pub channels: usize,
    pub in_channels: usize,
    pub classes: usize,
    /// `[H, W]` of the input images.
    pub image_size: [usize; 2],
}

impl NetworkConfig {
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("channels", self.channels),
            ("in_channels", self.in_channels),
            ("classes", self.classes),
            ("image height", self.image_size[0]),
            ("image width", self.image_size[1]),
        ] {
            if v == 0 {
                return Err(format!("the network's {name} must be at least 1, not 0"));
            }
        }
        if self.channels > crate::params::MAX_CHANNELS || self.cells > crate::params::MAX_CELLS {
            return Err(format!(
                "a network of {} cells per stage with {} channels is too large",
                self.cells, self.channels
            ));
        }
        Ok(())
    }

    /// What each layer after the stem is: a cell of `c` channels on `[h, w]` maps, or a
    /// reduction block from `cin` to `cout` reading `[h, w]` maps.
    pub fn plan(&self) -> Vec<LayerPlan> {
        let mut size = self.image_size;
        let mut c = self.channels;
        let mut plan = Vec::new();
        for stage in 0..3 {
            if stage > 0 {
                plan.push(LayerPlan::Reduce {
                    cin: c,
                    cout: 2 * c,
                    size,
                });
                c *= 2;
                size = size.map(|s| out_size(s, 2));
            }
            plan.extend(std::iter::repeat_n(LayerPlan::Cell { c, size }, self.cells));
        }
        plan
    }

    /// Channels after the last stage (`4C`).
    pub fn out_channels(&self) -> usize {
        4 * self.channels
    }
}

/// One layer after the stem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerPlan {
    Cell {
        c: usize,
        size: [usize; 2],
    },
    Reduce {
        cin: usize,
        cout: usize,
        size: [usize; 2],
    },
}

/// One op of an edge built for `C` channels. `none` has no module: the edge adds nothing (the
/// reference multiplies by 0, which gives the same sum and no gradient).
#[derive(Debug)]
pub enum EdgeOp {
    Zero,
    Identity,
    Conv(ReluConvBn),
    AvgPool,
}

impl EdgeOp {
    /// `affine`: whether a conv op's BN learns a scale and a shift.
    pub fn new(p: &nn::Path, op: Op, c: usize, affine: bool) -> EdgeOp {
        match op {
            Op::None => EdgeOp::Zero,
            Op::Skip => EdgeOp::Identity,
            Op::Conv1x1 | Op::Conv3x3 => EdgeOp::Conv(ReluConvBn::with_affine(
                p,
                &[conv_spec(op, c).expect("a conv op")],
                affine,
            )),
            Op::AvgPool3x3 => EdgeOp::AvgPool,
        }
    }

    /// The op's output, `None` for the zero op.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Option<Tensor> {
        match self {
            EdgeOp::Zero => None,
            EdgeOp::Identity => Some(x.shallow_clone()),
            EdgeOp::Conv(m) => Some(m.forward_t(x, train)),
            EdgeOp::AvgPool => Some(x.avg_pool2d([3, 3], [1, 1], [1, 1], false, false, None)),
        }
    }
}

/// The convolution of a conv op at `C` channels.
pub fn conv_spec(op: Op, c: usize) -> Option<ConvSpec> {
    match op {
        Op::Conv1x1 => Some(ConvSpec::square(c, c, 1, 1)),
        Op::Conv3x3 => Some(ConvSpec::square(c, c, 3, 1)),
        _ => None,
    }
}

/// Trainable parameters of an op at `C` channels with an affine BN.
pub fn op_parameters(op: Op, c: usize) -> u64 {
    conv_spec(op, c).map_or(0, |s| s.parameters() + 2 * c as u64)
}

/// Sums node inputs: `nodes[i] = Σ_{j<i} edge(i, j)(nodes[j])`; `edge(e, x)` is edge `e`'s
/// output (`None` when it adds nothing). A node with nothing coming in is zero.
pub fn cell_forward(x: &Tensor, mut edge: impl FnMut(usize, &Tensor) -> Option<Tensor>) -> Tensor {
    let mut nodes: Vec<Option<Tensor>> = vec![Some(x.shallow_clone())];
    for to in 1..NODES {
        let mut sum: Option<Tensor> = None;
        for (e, &(t, from)) in EDGE_ENDS.iter().enumerate() {
            if t != to {
                continue;
            }
            let Some(input) = &nodes[from] else { continue };
            if let Some(y) = edge(e, input) {
                sum = Some(match sum {
                    None => y,
                    Some(s) => s + y,
                });
            }
        }
        nodes.push(sum);
    }
    nodes.pop().flatten().unwrap_or_else(|| x.zeros_like())
}

/// One cell of the evaluation network.
#[derive(Debug)]
pub struct CellModule {
    edges: Vec<EdgeOp>,
}

impl CellModule {
    pub fn new(p: &nn::Path, cell: &Cell, c: usize) -> CellModule {
        CellModule {
            edges: (0..EDGES)
                .map(|e| {
                    let (to, from) = EDGE_ENDS[e];
                    EdgeOp::new(&(p / format!("{to}<-{from}")), cell.ops[e], c, true)
                })
                .collect(),
        }
    }

    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        cell_forward(x, |e, input| self.edges[e].forward_t(input, train))
    }
}

/// The residual reduction block between stages (the ResNet basic block at stride 2).
#[derive(Debug)]
pub struct ResidualBlock {
    conv_a: ReluConvBn,
    conv_b: ReluConvBn,
    shortcut: Conv,
}

impl ResidualBlock {
    pub fn specs(cin: usize, cout: usize) -> [ConvSpec; 3] {
        [
            ConvSpec::square(cin, cout, 3, 2),
            ConvSpec::square(cout, cout, 3, 1),
            ConvSpec::square(cin, cout, 1, 1),
        ]
    }

    pub fn new(p: &nn::Path, cin: usize, cout: usize) -> ResidualBlock {
        let [a, b, s] = Self::specs(cin, cout);
        ResidualBlock {
            conv_a: ReluConvBn::new(&(p / "conv_a"), &[a]),
            conv_b: ReluConvBn::new(&(p / "conv_b"), &[b]),
            shortcut: s.build(&(p / "shortcut")),
        }
    }

    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let y = self
            .conv_b
            .forward_t(&self.conv_a.forward_t(x, train), train);
        let short = x
            .avg_pool2d([2, 2], [2, 2], [0, 0], true, true, None)
            .apply(&self.shortcut);
        y + short
    }
}

/// A layer after the stem: a cell (of the evaluation or the search network) or a reduction.
#[derive(Debug)]
pub enum Layer<L> {
    Cell(L),
    Reduce(Box<ResidualBlock>),
}

/// The stem: 3×3 conv to `C` channels + BN.
#[derive(Debug)]
pub struct Stem {
    conv: Conv,
    bn: nn::BatchNorm,
}

impl Stem {
    pub fn new(p: &nn::Path, in_channels: usize, c: usize) -> Stem {
        Stem {
            conv: ConvSpec::square(in_channels, c, 3, 1).build(&(p / "conv")),
            bn: batch_norm(&(p / "bn"), c),
        }
    }

    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        x.apply(&self.conv).apply_t(&self.bn, train)
    }
}

/// The macro skeleton after the stem, around cells of type `L`: three stages, the reductions
/// between them, the last BN–ReLU and global average pooling. Parameters live under
/// `layers.{i}.*` and `last_bn.*`.
#[derive(Debug)]
pub struct Body<L> {
    layers: Vec<Layer<L>>,
    last_bn: nn::BatchNorm,
}

impl<L> Body<L> {
    /// Builds the layers `cfg.plan()` lists; `make_cell(path, C)` builds each cell.
    pub fn new(
        p: &nn::Path,
        cfg: &NetworkConfig,
        mut make_cell: impl FnMut(&nn::Path, usize) -> L,
    ) -> Body<L> {
        let layers_path = p / "layers";
        let layers = cfg
            .plan()
            .into_iter()
            .enumerate()
            .map(|(i, plan)| match plan {
                LayerPlan::Cell { c, .. } => Layer::Cell(make_cell(&(&layers_path / i), c)),
                LayerPlan::Reduce { cin, cout, .. } => {
                    Layer::Reduce(Box::new(ResidualBlock::new(&(&layers_path / i), cin, cout)))
                }
            })
            .collect();
        Body {
            layers,
            last_bn: batch_norm(&(p / "last_bn"), cfg.out_channels()),
        }
    }

    pub fn layers(&self) -> &[Layer<L>] {
        &self.layers
    }

    /// Pooled features `[B, 4C]` of the stem's output `h`; `cell(layer, x)` runs a cell.
    pub fn forward_t(
        &self,
        h: &Tensor,
        train: bool,
        mut cell: impl FnMut(&L, &Tensor) -> Tensor,
    ) -> Tensor {
        let mut h = h.shallow_clone();
        for layer in &self.layers {
            h = match layer {
                Layer::Cell(l) => cell(l, &h),
                Layer::Reduce(r) => r.forward_t(&h, train),
            };
        }
        h.apply_t(&self.last_bn, train)
            .relu()
            .mean_dim([2i64, 3].as_slice(), false, None::<Kind>)
    }
}

/// The evaluation network of one cell. Parameters live under `stem.*`, `layers.{i}.*`,
/// `last_bn.*` and `classifier.*`.
#[derive(Debug)]
pub struct Network {
    stem: Stem,
    body: Body<CellModule>,
    classifier: nn::Linear,
}

impl Network {
    /// Builds the modules (parameters drawn from torch's generator: seed it first, e.g. with
    /// `xnas_tch::seed::with_torch_seed`). Fails on an invalid configuration only.
    pub fn new(cell: &Cell, cfg: &NetworkConfig, p: &nn::Path) -> Result<Network, String> {
        cfg.validate()?;
        Ok(Network {
            stem: Stem::new(&(p / "stem"), cfg.in_channels, cfg.channels),
            body: Body::new(p, cfg, |p, c| CellModule::new(p, cell, c)),
            classifier: linear(&(p / "classifier"), cfg.out_channels(), cfg.classes),
        })
    }

    /// Logits `[B, classes]`.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.body
            .forward_t(&self.stem.forward_t(x, train), train, |cell, h| {
                cell.forward_t(h, train)
            })
            .apply(&self.classifier)
    }
}

impl xnas_tch::train::Classifier for Network {
    fn forward_t(&self, x: &Tensor, train: bool, _drop_path: f64) -> (Tensor, Option<Tensor>) {
        (Network::forward_t(self, x, train), None)
    }
}

/// Trainable parameters of the evaluation network, counted from the configuration.
pub fn parameter_count(cell: &Cell, cfg: &NetworkConfig) -> u64 {
    let c = cfg.channels as u64;
    let stem = ConvSpec::square(cfg.in_channels, cfg.channels, 3, 1).parameters() + 2 * c;
    let layers: u64 = cfg
        .plan()
        .iter()
        .map(|plan| match *plan {
            LayerPlan::Cell { c, .. } => cell.ops.iter().map(|&op| op_parameters(op, c)).sum(),
            LayerPlan::Reduce { cout, cin, .. } => {
                let convs: u64 = ResidualBlock::specs(cin, cout)
                    .iter()
                    .map(ConvSpec::parameters)
                    .sum();
                convs + 4 * cout as u64
            }
        })
        .sum();
    let out = cfg.out_channels() as u64;
    stem + layers + 2 * out + out * cfg.classes as u64 + cfg.classes as u64
}

/// Multiply-accumulates of one image's forward pass: every convolution and the classifier (BN,
/// ReLU, pools and sums are not counted), the "FLOPs" NAS-Bench-201 reports.
pub fn flops(cell: &Cell, cfg: &NetworkConfig) -> u64 {
    if cfg.validate().is_err() {
        return 0;
    }
    let [h, w] = cfg.image_size;
    let stem = ConvSpec::square(cfg.in_channels, cfg.channels, 3, 1).mult_adds(h, w);
    let layers: u64 = cfg
        .plan()
        .iter()
        .map(|plan| match *plan {
            LayerPlan::Cell { c, size: [h, w] } => cell
                .ops
                .iter()
                .filter_map(|&op| conv_spec(op, c))
                .map(|s| s.mult_adds(h, w))
                .sum(),
            LayerPlan::Reduce {
                cin,
                cout,
                size: [h, w],
            } => {
                let [a, b, s] = ResidualBlock::specs(cin, cout);
                let (ho, wo) = (out_size(h, 2), out_size(w, 2));
                a.mult_adds(h, w) + b.mult_adds(ho, wo) + s.mult_adds(ho, wo)
            }
        })
        .sum();
    stem + layers + (cfg.out_channels() * cfg.classes) as u64
}
