//! The network a [`Genotype`] describes (NASNet cells, Zoph et al. 2018; as NAO_pytorch
//! NAO_V1/model_search.py builds them), built in tch.
//!
//! Layout (NASNet/DARTS CIFAR style): a stem (3×3 conv + BN to `stem_multiplier·F` channels),
//! then three stages of `N` normal cells with `F`, `2F` and `4F` channels, separated by reduction
//! cells (`2F`, `4F`): `N × normal, reduce, N × normal, reduce, N × normal`; global average pool,
//! linear classifier. An optional auxiliary head reads the second reduction cell's output.
//!
//! A cell with `C` channels:
//! * preprocesses its inputs to `C` channels: `h1` by ReLU–1×1 conv–BN; `h0` the same, or by a
//!   [`FactorizedReduce`] when the previous cell reduced (so `h0`, two cells back, has the
//!   spatial size of `h1`);
//! * block `b`: `s_{b+2} = combine(op1(s_i1), op2(s_i2))`. In a reduction cell ops reading `h0`/`h1`
//!   have stride 2, ops reading block outputs stride 1 (those are already reduced);
//! * **concat** combination: the two `C`-channel branches are concatenated (`2C`) and a 1×1
//!   ReLU–conv–BN brings the result back to `C`, so every state has `C` channels whatever
//!   reads it (NASNet concatenates; the squeeze is this framework's choice, and costs
//!   `2C·C + 2C` parameters per concat block);
//! * output: the channel concatenation of the loose ends ([`Cell::loose_ends`]), `C·|loose|`
//!   channels; or, with [`NetworkConfig::concat_all`], of every block (DARTS's cell, whose
//!   `multiplier` is its number of nodes).
//!
//! Drop-path (DARTS): in training, each op output except the stride-1 identity is multiplied by
//! a per-sample Bernoulli(1−p) mask divided by 1−p. The masks come from the network's own seeded
//! generator ([`Network::set_drop_path_seed`]), not torch's, so training is reproducible even when
//! other threads draw from torch's global generator.
//!
//! No dropout before the classifier (DARTS's CIFAR default; drop-path is the regulariser).

use crate::genome::{Cell, Combine, Genotype};
use crate::ops::{
    batch_norm, op_mult_adds, out_size, Conv, ConvSpec, FactorizedReduce, OpModule, ReluConvBn,
};
use std::sync::Mutex;
use xnas_core::SplitMix64;
use xnas_tch::layers::linear;
use xnas_tch::tch::{nn, Device, Kind, Tensor};

/// The shape of a network; the genotype gives its cells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkConfig {
    /// `N`: normal cells per stage (≥ 0; the two reduction cells are always there).
    pub cells: usize,
    /// `F`: channels of the first stage's cells.
    pub filters: usize,
    pub in_channels: usize,
    pub classes: usize,
    /// `[H, W]` of the input images.
    pub image_size: [usize; 2],
    /// An auxiliary classifier after the second reduction cell (training only).
    pub auxiliary: bool,
    /// The stem's output has `stem_multiplier · F` channels (DARTS: 3).
    pub stem_multiplier: usize,
    /// A cell's output concatenates every block (DARTS's cell), not only the loose ends.
    pub concat_all: bool,
}

impl NetworkConfig {
    /// A configuration with no auxiliary head and stem multiplier 3.
    pub fn new(
        cells: usize,
        filters: usize,
        in_channels: usize,
        classes: usize,
        image_size: [usize; 2],
    ) -> Self {
        NetworkConfig {
            cells,
            filters,
            in_channels,
            classes,
            image_size,
            auxiliary: false,
            stem_multiplier: 3,
            concat_all: false,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("filters", self.filters),
            ("in_channels", self.in_channels),
            ("classes", self.classes),
            ("stem_multiplier", self.stem_multiplier),
            ("image height", self.image_size[0]),
            ("image width", self.image_size[1]),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(format!("the network's {name} must be at least 1, not 0"));
            }
        }
        // Keep channel counts and per-image sizes far from overflow.
        if self.filters > 1 << 16 || self.cells > 1 << 10 {
            return Err(format!(
                "a network of {} cells per stage with {} filters is too large",
                self.cells, self.filters
            ));
        }
        Ok(())
    }
}

/// Checks that every block reads only states that exist before it and each cell has a block.
pub fn validate_genotype(g: &Genotype) -> Result<(), String> {
    for (name, cell) in [("normal", &g.normal), ("reduce", &g.reduce)] {
        if cell.blocks.is_empty() {
            return Err(format!("the {name} cell has no blocks"));
        }
        for (b, blk) in cell.blocks.iter().enumerate() {
            for &i in &blk.inputs {
                if i > b + 1 {
                    return Err(format!(
                        "{name} block {b} reads state {i}, but only states 0..={} exist before it",
                        b + 1
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Where one cell sits and what it sees.
#[derive(Clone, Copy, Debug)]
struct CellPlan {
    reduction: bool,
    reduction_prev: bool,
    /// The cell's channels `C`.
    c: usize,
    c_pp: usize,
    c_p: usize,
    /// Spatial size of `h0` (before preprocessing) and of `h1` (= the cell's working size).
    size_pp: [usize; 2],
    size_p: [usize; 2],
}

/// The cells in order: `N` normal, reduce, `N` normal, reduce, `N` normal.
fn plan(g: &Genotype, cfg: &NetworkConfig) -> (Vec<CellPlan>, usize, [usize; 2]) {
    let stem_c = cfg.stem_multiplier * cfg.filters;
    let (mut c_pp, mut c_p) = (stem_c, stem_c);
    let (mut size_pp, mut size_p) = (cfg.image_size, cfg.image_size);
    let mut c = cfg.filters;
    let mut reduction_prev = false;
    let mut cells = Vec::new();
    for stage in 0..3 {
        let kinds = std::iter::repeat_n(false, cfg.cells).chain((stage < 2).then_some(true));
        for reduction in kinds {
            if reduction {
                c *= 2;
            }
            let cell = if reduction { &g.reduce } else { &g.normal };
            cells.push(CellPlan {
                reduction,
                reduction_prev,
                c,
                c_pp,
                c_p,
                size_pp,
                size_p,
            });
            let out = if reduction {
                size_p.map(|s| out_size(s, 2))
            } else {
                size_p
            };
            (c_pp, c_p) = (c_p, c * cell.outputs(cfg.concat_all).len());
            (size_pp, size_p) = (size_p, out);
            reduction_prev = reduction;
        }
    }
    (cells, c_p, size_p)
}

/// The stride of an op reading `input` in a cell.
fn stride(reduction: bool, input: usize) -> usize {
    if reduction && input < 2 {
        2
    } else {
        1
    }
}

#[derive(Debug)]
enum Preprocess {
    Conv(ReluConvBn),
    Reduce(Box<FactorizedReduce>),
}

impl Preprocess {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        match self {
            Preprocess::Conv(m) => m.forward_t(x, train),
            Preprocess::Reduce(m) => m.forward_t(x, train),
        }
    }
}

#[derive(Debug)]
struct BlockModule {
    inputs: [usize; 2],
    ops: [OpModule; 2],
    /// Row of the per-forward drop-path mask for each op (`None`: identity, never dropped).
    drop: [Option<usize>; 2],
    /// The 1×1 squeeze after a concat (2C → C).
    squeeze: Option<ReluConvBn>,
}

#[derive(Debug)]
struct CellModule {
    pre0: Preprocess,
    pre1: ReluConvBn,
    blocks: Vec<BlockModule>,
    loose: Vec<usize>,
}

impl CellModule {
    fn new(
        p: &nn::Path,
        cell: &Cell,
        plan: &CellPlan,
        concat_all: bool,
        droppable: &mut usize,
    ) -> Self {
        let c = plan.c;
        let pre0 = if plan.reduction_prev {
            Preprocess::Reduce(Box::new(FactorizedReduce::new(&(p / "pre0"), plan.c_pp, c)))
        } else {
            Preprocess::Conv(ReluConvBn::pointwise(&(p / "pre0"), plan.c_pp, c))
        };
        let pre1 = ReluConvBn::pointwise(&(p / "pre1"), plan.c_p, c);
        let blocks = cell
            .blocks
            .iter()
            .enumerate()
            .map(|(b, blk)| {
                let bp = p / format!("b{b}");
                let ops = [0, 1].map(|k| {
                    OpModule::new(
                        &(&bp / format!("op{k}")),
                        blk.ops[k],
                        c,
                        stride(plan.reduction, blk.inputs[k]),
                    )
                });
                let drop = [0, 1].map(|k| {
                    (!ops[k].is_identity()).then(|| {
                        *droppable += 1;
                        *droppable - 1
                    })
                });
                let squeeze = (blk.combine == Combine::Concat)
                    .then(|| ReluConvBn::pointwise(&(&bp / "squeeze"), 2 * c, c));
                BlockModule {
                    inputs: blk.inputs,
                    ops,
                    drop,
                    squeeze,
                }
            })
            .collect();
        CellModule {
            pre0,
            pre1,
            blocks,
            loose: cell.outputs(concat_all),
        }
    }

    /// `masks`: `[droppable, B, 1, 1, 1]` drop-path masks (already divided by the keep
    /// probability), or `None` for no drop-path.
    fn forward_t(&self, s0: &Tensor, s1: &Tensor, train: bool, masks: Option<&Tensor>) -> Tensor {
        let mut states = Vec::with_capacity(self.blocks.len() + 2);
        states.push(self.pre0.forward_t(s0, train));
        states.push(self.pre1.forward_t(s1, train));
        for blk in &self.blocks {
            let [a, b] = [0, 1].map(|k| {
                let h = blk.ops[k].forward_t(&states[blk.inputs[k]], train);
                match (masks, blk.drop[k]) {
                    (Some(m), Some(row)) => h * m.get(row as i64),
                    _ => h,
                }
            });
            let s = match &blk.squeeze {
                None => a + b,
                Some(sq) => sq.forward_t(&Tensor::cat(&[a, b], 1), train),
            };
            states.push(s);
        }
        let outs: Vec<&Tensor> = self.loose.iter().map(|&i| &states[i]).collect();
        if outs.len() == 1 {
            outs[0].shallow_clone()
        } else {
            Tensor::cat(&outs, 1)
        }
    }
}

/// The auxiliary classifier (NASNet/DARTS): ReLU, avg pool to 2×2, 1×1 conv to 128, BN, ReLU,
/// 2×2 conv to 768, BN, ReLU, linear. The pool is DARTS's 5×5 stride-3 pool (no padding) where
/// that gives 2×2 (8–10 pixel maps, e.g. CIFAR's 8×8), else an adaptive average pool to 2×2
/// (MNIST's 7×7, digits' 2×2).
#[derive(Debug)]
struct AuxHead {
    conv1: Conv,
    bn1: nn::BatchNorm,
    conv2: Conv,
    bn2: nn::BatchNorm,
    linear: nn::Linear,
}

impl AuxHead {
    fn new(p: &nn::Path, c: usize, classes: usize) -> Self {
        AuxHead {
            conv1: ConvSpec::square(c, 128, 1, 1).build(&(p / "conv1")),
            bn1: batch_norm(&(p / "bn1"), 128),
            conv2: ConvSpec {
                kernel: [2, 2],
                ..ConvSpec::square(128, 768, 2, 1)
            }
            .build(&(p / "conv2")),
            bn2: batch_norm(&(p / "bn2"), 768),
            linear: linear(&(p / "linear"), 768, classes),
        }
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let size = x.size();
        let darts_pool = |s: i64| s >= 5 && (s - 5) / 3 + 1 == 2;
        let x = x.relu();
        let x = if darts_pool(size[2]) && darts_pool(size[3]) {
            x.avg_pool2d([5, 5], [3, 3], [0, 0], false, false, None)
        } else {
            x.adaptive_avg_pool2d([2, 2])
        };
        x.apply(&self.conv1)
            .apply_t(&self.bn1, train)
            .relu()
            .apply(&self.conv2)
            .apply_t(&self.bn2, train)
            .relu()
            .flatten(1, -1)
            .apply(&self.linear)
    }
}

/// A NASNet-style network. Parameters live under the `nn::Path` it was built on: `stem.*`,
/// `cells.{i}.*`, `classifier.*` and, when present, `auxiliary.*`.
#[derive(Debug)]
pub struct Network {
    stem_conv: Conv,
    stem_bn: nn::BatchNorm,
    cells: Vec<CellModule>,
    /// The auxiliary head and the index of the cell whose output it reads.
    aux: Option<(usize, AuxHead)>,
    classifier: nn::Linear,
    droppable: usize,
    drop_rng: Mutex<SplitMix64>,
    config: NetworkConfig,
}

impl Network {
    /// Builds the network's modules (parameters drawn from torch's generator: seed it first,
    /// e.g. with `xnas_tch::seed::with_torch_seed`). Fails on an invalid configuration or
    /// genotype, never on an image size (every op keeps `ceil(H/stride)`, down to 1×1).
    pub fn new(genotype: &Genotype, cfg: &NetworkConfig, p: &nn::Path) -> Result<Self, String> {
        cfg.validate()?;
        validate_genotype(genotype)?;
        let stem_c = cfg.stem_multiplier * cfg.filters;
        let stem_conv =
            ConvSpec::square(cfg.in_channels, stem_c, 3, 1).build(&(p / "stem" / "conv"));
        let stem_bn = batch_norm(&(p / "stem" / "bn"), stem_c);
        let (plans, c_out, _) = plan(genotype, cfg);
        let mut droppable = 0;
        let cells_path = p / "cells";
        let cells = plans
            .iter()
            .enumerate()
            .map(|(i, pl)| {
                let cell = if pl.reduction {
                    &genotype.reduce
                } else {
                    &genotype.normal
                };
                CellModule::new(&(&cells_path / i), cell, pl, cfg.concat_all, &mut droppable)
            })
            .collect();
        let aux = if cfg.auxiliary {
            // After the second reduction cell.
            let at = plans
                .iter()
                .enumerate()
                .filter(|(_, pl)| pl.reduction)
                .nth(1)
                .map(|(i, _)| i)
                .unwrap_or(plans.len() - 1);
            let c = plans.get(at + 1).map_or(c_out, |next| next.c_p);
            Some((at, AuxHead::new(&(p / "auxiliary"), c, cfg.classes)))
        } else {
            None
        };
        Ok(Network {
            stem_conv,
            stem_bn,
            cells,
            aux,
            classifier: linear(&(p / "classifier"), c_out, cfg.classes),
            droppable,
            drop_rng: Mutex::new(SplitMix64::new(0)),
            config: cfg.clone(),
        })
    }

    pub fn config(&self) -> &NetworkConfig {
        &self.config
    }

    /// The number of ops drop-path acts on (every op but the stride-1 identities).
    pub fn droppable_ops(&self) -> usize {
        self.droppable
    }

    /// Re-seeds the generator of the drop-path masks (seeded with 0 at construction).
    pub fn set_drop_path_seed(&self, seed: u64) {
        *self.drop_rng.lock().unwrap_or_else(|e| e.into_inner()) = SplitMix64::new(seed);
    }

    /// Per-sample keep masks for every droppable op, `[droppable, batch, 1, 1, 1]`, values
    /// `0` or `1/(1−p)`.
    fn drop_masks(&self, batch: usize, p: f64, x: &Tensor) -> Tensor {
        let keep = 1.0 - p;
        let scale = if keep > 0.0 { (1.0 / keep) as f32 } else { 0.0 };
        let mut rng = self.drop_rng.lock().unwrap_or_else(|e| e.into_inner());
        let v: Vec<f32> = (0..self.droppable * batch)
            .map(|_| if rng.next_f64() < keep { scale } else { 0.0 })
            .collect();
        Tensor::from_slice(&v)
            .view([self.droppable as i64, batch as i64, 1, 1, 1])
            .to_device(x.device())
            .to_kind(x.kind())
    }

    /// Logits `[B, classes]`, and the auxiliary head's logits when the network has one and
    /// `train` is true. `drop_prob` is the drop-path probability (used only when training).
    pub fn forward_t(&self, x: &Tensor, train: bool, drop_prob: f64) -> (Tensor, Option<Tensor>) {
        let masks = (train && drop_prob > 0.0 && self.droppable > 0)
            .then(|| self.drop_masks(x.size()[0] as usize, drop_prob, x));
        let stem = x.apply(&self.stem_conv);
        // Channels-last (NHWC strides, same shape) on the CPU: every later op keeps the layout,
        // and oneDNN's depthwise convolutions and pools then skip im2col/col2im. 1.5–1.8× the
        // images per second (bench/RESULTS.md); tch 0.26 has no memory-format argument, hence
        // the permute.
        let stem = if stem.device() == Device::Cpu {
            stem.permute([0, 2, 3, 1])
                .contiguous()
                .permute([0, 3, 1, 2])
        } else {
            stem
        };
        let stem = stem.apply_t(&self.stem_bn, train);
        let (mut s0, mut s1) = (stem.shallow_clone(), stem);
        let mut aux_logits = None;
        for (i, cell) in self.cells.iter().enumerate() {
            let out = cell.forward_t(&s0, &s1, train, masks.as_ref());
            (s0, s1) = (s1, out);
            if let Some((at, head)) = &self.aux {
                if train && *at == i {
                    aux_logits = Some(head.forward_t(&s1, train));
                }
            }
        }
        let pooled = s1.mean_dim([2i64, 3].as_slice(), false, None::<Kind>);
        (pooled.apply(&self.classifier), aux_logits)
    }
}

pub use xnas_tch::train::parameter_count;

/// Multiply-accumulates of one forward pass of one image at inference, counted from the
/// shapes: every convolution (stem, cell preprocessing, ops, concat squeezes, FactorizedReduce)
/// as `C_out · H_out · W_out · (C_in / groups) · k_h · k_w`, plus the classifier's
/// `C · classes`. Not counted: BN, ReLU, pooling, additions, concatenation, drop-path (none is a
/// multiply-add of weights) and the auxiliary head (training only). This is the "mult-adds"
/// NASNet and DARTS report as FLOPs. Returns 0 for an invalid configuration or genotype.
pub fn flops(genotype: &Genotype, cfg: &NetworkConfig) -> u64 {
    if cfg.validate().is_err() || validate_genotype(genotype).is_err() {
        return 0;
    }
    let [h, w] = cfg.image_size;
    let stem_c = cfg.stem_multiplier * cfg.filters;
    let mut total = ConvSpec::square(cfg.in_channels, stem_c, 3, 1).mult_adds(h, w);
    let (plans, c_out, _) = plan(genotype, cfg);
    for pl in &plans {
        let cell = if pl.reduction {
            &genotype.reduce
        } else {
            &genotype.normal
        };
        let [hp, wp] = pl.size_p;
        total += if pl.reduction_prev {
            let [hpp, wpp] = pl.size_pp;
            FactorizedReduce::specs(pl.c_pp, pl.c)
                .iter()
                .map(|s| s.mult_adds(hpp, wpp))
                .sum()
        } else {
            ConvSpec::square(pl.c_pp, pl.c, 1, 1).mult_adds(hp, wp)
        };
        total += ConvSpec::square(pl.c_p, pl.c, 1, 1).mult_adds(hp, wp);
        let [ho, wo] = if pl.reduction {
            [out_size(hp, 2), out_size(wp, 2)]
        } else {
            [hp, wp]
        };
        for blk in &cell.blocks {
            for k in 0..2 {
                let s = stride(pl.reduction, blk.inputs[k]);
                // States ≥ 2 are already at the output size.
                let (hi, wi) = if blk.inputs[k] < 2 {
                    (hp, wp)
                } else {
                    (ho, wo)
                };
                total += op_mult_adds(blk.ops[k], pl.c, s, hi, wi);
            }
            if blk.combine == Combine::Concat {
                total += ConvSpec::square(2 * pl.c, pl.c, 1, 1).mult_adds(ho, wo);
            }
        }
    }
    total + (c_out * cfg.classes) as u64
}
