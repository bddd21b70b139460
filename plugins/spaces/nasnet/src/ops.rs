//! The candidate operations of the NASNet cell space (Zoph et al. 2018) as tch modules.
//!
//! Every op maps `C` channels to `C` channels and has a stride, 1 or 2; its output's spatial size
//! is `ceil(H / stride) × ceil(W / stride)` for every input size (odd and even, down to 1×1):
//!
//! * convolutions use "same" padding `dilation·(k−1)/2` (all their kernels are odd);
//! * pools with odd kernels pad symmetrically by `(k−1)/2` (max/min pools with −∞, avg pools
//!   without counting the padding, `count_include_pad = false`); the 2×2 pools pad as
//!   TensorFlow's `SAME` does, the odd pixel going right/bottom, and the 2×2 avg pool divides each
//!   window by its number of real pixels;
//! * identity at stride 2 is a [`FactorizedReduce`], whose shifted branch pads one pixel at the
//!   right/bottom so odd sizes also give `ceil(H/2)`.
//!
//! Conv ops are ReLU–conv–BN (as quark0/darts cnn/operations.py):
//!
//! | op | layers |
//! |---|---|
//! | `conv_kxk` | ReLU, conv k×k stride s, BN |
//! | `conv_1xk_kx1` | ReLU, conv 1×k stride s, conv k×1, BN |
//! | `dil_conv_kxk` | ReLU, conv k×k dilation 2 stride s, BN |
//! | `sep_conv_kxk` | (ReLU, depthwise k×k stride s, pointwise 1×1, BN), then (ReLU, depthwise k×k, pointwise, BN) |
//! | `dil_sep_conv_kxk` | ReLU, depthwise k×k dilation 2 stride s, pointwise 1×1, BN |
//!
//! Design choices:
//! * **BN is affine** (learned scale and shift, initialised to 1 and 0, as PyTorch does) and keeps
//!   running statistics for evaluation. These networks are trained from scratch and evaluated,
//!   which is DARTS's *evaluation* network (`model.py`, `affine=True`), not its weight-sharing
//!   search network (`affine=False`).
//! * Convolutions have no bias (BN follows each); weights start as PyTorch's default
//!   (kaiming-uniform with `a = √5`, i.e. uniform in ±1/√fan_in), so a network here and the same
//!   network in PyTorch start from the same distribution.
//! * Pools have no BN after them (as in DARTS's evaluation network).

use crate::genome::Op;
// The generic pieces live in xnas-tch (shared with the other trainable spaces); re-exported so
// this module stays the one place nasnet's ops are named.
pub use xnas_tch::layers::{
    batch_norm, batch_norm_affine, out_size, torch_default_init, Conv, ConvSpec, ReluConvBn,
};
use xnas_tch::tch::nn;
use xnas_tch::tch::Tensor;

/// Halves the spatial size with two 1×1 stride-2 convolutions, the second on the input shifted
/// by one pixel, concatenated (DARTS's `FactorizedReduce`): ReLU → [conv(x), conv(shift(x))] →
/// concat → BN. `cout` need not be even (the first branch gets the odd channel); the shift pads
/// one zero pixel at the right/bottom so both branches give `ceil(H/2) × ceil(W/2)`.
#[derive(Debug)]
pub struct FactorizedReduce {
    conv1: Conv,
    conv2: Option<Conv>,
    bn: nn::BatchNorm,
}

impl FactorizedReduce {
    /// The two branch convolutions.
    pub fn specs(cin: usize, cout: usize) -> Vec<ConvSpec> {
        let c2 = cout / 2;
        let mut v = vec![ConvSpec::square(cin, cout - c2, 1, 2)];
        if c2 > 0 {
            v.push(ConvSpec::square(cin, c2, 1, 2));
        }
        v
    }

    pub fn new(p: &nn::Path, cin: usize, cout: usize) -> Self {
        Self::with_affine(p, cin, cout, true)
    }

    /// [`FactorizedReduce::new`] with an affine or a non-affine BN.
    pub fn with_affine(p: &nn::Path, cin: usize, cout: usize, affine: bool) -> Self {
        let specs = Self::specs(cin, cout);
        FactorizedReduce {
            conv1: specs[0].build(&(p / "conv1")),
            conv2: specs.get(1).map(|s| s.build(&(p / "conv2"))),
            bn: batch_norm_affine(&(p / "bn"), cout, affine),
        }
    }

    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.forward_relued(&x.relu(), train)
    }

    /// The reduction of an input that has been through the ReLU already.
    pub fn forward_relued(&self, x: &Tensor, train: bool) -> Tensor {
        let a = x.apply(&self.conv1);
        let y = match &self.conv2 {
            // Negative padding crops: drop the first row/column, add a zero one at the end.
            Some(c) => Tensor::cat(&[a, x.constant_pad_nd([-1, 1, -1, 1]).apply(c)], 1),
            None => a,
        };
        y.apply_t(&self.bn, train)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PoolKind {
    Max,
    Avg,
    Min,
}

#[derive(Debug)]
enum OpKind {
    Identity,
    Reduce(Box<FactorizedReduce>),
    Convs(Vec<ReluConvBn>),
    Pool(PoolKind, usize),
}

/// One op of a cell, built for `C` channels and a stride.
#[derive(Debug)]
pub struct OpModule {
    op: Op,
    stride: usize,
    kind: OpKind,
}

/// The ReLU–conv–BN units of a conv op (empty for pools and identity).
pub fn conv_units(op: Op, c: usize, stride: usize) -> Vec<Vec<ConvSpec>> {
    let dw = |k: usize, s: usize, d: usize| ConvSpec {
        cin: c,
        cout: c,
        kernel: [k, k],
        stride: s,
        dilation: d,
        groups: c,
    };
    let pw = ConvSpec::square(c, c, 1, 1);
    match op {
        Op::Conv(k) => vec![vec![ConvSpec::square(c, c, k, stride)]],
        Op::ConvFactored(k) => vec![vec![
            ConvSpec {
                kernel: [1, k],
                ..ConvSpec::square(c, c, k, stride)
            },
            ConvSpec {
                kernel: [k, 1],
                ..ConvSpec::square(c, c, k, 1)
            },
        ]],
        Op::DilConv(k) => vec![vec![ConvSpec {
            dilation: 2,
            ..ConvSpec::square(c, c, k, stride)
        }]],
        Op::SepConv(k) => vec![vec![dw(k, stride, 1), pw], vec![dw(k, 1, 1), pw]],
        Op::DilSepConv(k) => vec![vec![dw(k, stride, 2), pw]],
        Op::Identity | Op::MaxPool(_) | Op::AvgPool(_) | Op::MinPool(_) => Vec::new(),
    }
}

/// The convolutions of an op in order of application (for counting).
fn op_convs(op: Op, c: usize, stride: usize) -> Vec<ConvSpec> {
    if op == Op::Identity && stride > 1 {
        FactorizedReduce::specs(c, c)
    } else {
        conv_units(op, c, stride).concat()
    }
}

/// Multiply-accumulates of an op on a `C × h × w` input (convolutions only; pools, BN, ReLU
/// are not counted).
pub fn op_mult_adds(op: Op, c: usize, stride: usize, h: usize, w: usize) -> u64 {
    if op == Op::Identity && stride > 1 {
        // Both branches read the full input at stride 2.
        return FactorizedReduce::specs(c, c)
            .iter()
            .map(|s| s.mult_adds(h, w))
            .sum();
    }
    let (mut h, mut w) = (h, w);
    let mut total = 0;
    for s in op_convs(op, c, stride) {
        total += s.mult_adds(h, w);
        h = out_size(h, s.stride);
        w = out_size(w, s.stride);
    }
    total
}

/// Trainable parameters of an op at `C` channels (conv weights and BN scale/shift).
pub fn op_parameters(op: Op, c: usize, stride: usize) -> u64 {
    if op == Op::Identity && stride > 1 {
        return FactorizedReduce::specs(c, c)
            .iter()
            .map(ConvSpec::parameters)
            .sum::<u64>()
            + 2 * c as u64;
    }
    conv_units(op, c, stride)
        .iter()
        .map(|u| u.iter().map(ConvSpec::parameters).sum::<u64>() + 2 * c as u64)
        .sum()
}

impl OpModule {
    /// `stride` is 1 or 2.
    pub fn new(p: &nn::Path, op: Op, c: usize, stride: usize) -> Self {
        let kind = match op {
            Op::Identity if stride == 1 => OpKind::Identity,
            Op::Identity => OpKind::Reduce(Box::new(FactorizedReduce::new(p, c, c))),
            Op::MaxPool(k) => OpKind::Pool(PoolKind::Max, k),
            Op::AvgPool(k) => OpKind::Pool(PoolKind::Avg, k),
            Op::MinPool(k) => OpKind::Pool(PoolKind::Min, k),
            _ => OpKind::Convs(
                conv_units(op, c, stride)
                    .iter()
                    .enumerate()
                    .map(|(i, u)| ReluConvBn::new(&(p / format!("unit{i}")), u))
                    .collect(),
            ),
        };
        OpModule { op, stride, kind }
    }

    pub fn op(&self) -> Op {
        self.op
    }

    pub fn stride(&self) -> usize {
        self.stride
    }

    /// True for the pass-through identity (stride 1), the one op drop-path skips.
    pub fn is_identity(&self) -> bool {
        matches!(self.kind, OpKind::Identity)
    }

    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        match &self.kind {
            OpKind::Identity => x.shallow_clone(),
            OpKind::Reduce(r) => r.forward_t(x, train),
            OpKind::Convs(units) => {
                let mut y = units[0].forward_t(x, train);
                for u in &units[1..] {
                    y = u.forward_t(&y, train);
                }
                y
            }
            OpKind::Pool(kind, k) => pool(x, *kind, *k, self.stride),
        }
    }
}

impl nn::ModuleT for OpModule {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        OpModule::forward_t(self, xs, train)
    }
}

/// TensorFlow `SAME` padding of one dimension: (before, after).
fn same_padding(size: usize, k: usize, s: usize) -> (i64, i64) {
    let total = ((out_size(size, s) - 1) * s + k).saturating_sub(size) as i64;
    (total / 2, total - total / 2)
}

fn pool(x: &Tensor, kind: PoolKind, k: usize, stride: usize) -> Tensor {
    let (ki, si) = (k as i64, stride as i64);
    if k % 2 == 1 {
        let p = (ki - 1) / 2;
        let max = |t: &Tensor| t.max_pool2d([ki, ki], [si, si], [p, p], [1, 1], false);
        return match kind {
            PoolKind::Max => max(x),
            PoolKind::Min => max(&x.neg()).neg(),
            PoolKind::Avg => x.avg_pool2d([ki, ki], [si, si], [p, p], false, false, None),
        };
    }
    // Even kernel: asymmetric SAME padding.
    let size = x.size();
    let (h, w) = (size[2] as usize, size[3] as usize);
    let (top, bottom) = same_padding(h, k, stride);
    let (left, right) = same_padding(w, k, stride);
    let pad = [left, right, top, bottom];
    let padded = pad.iter().any(|&p| p > 0);
    let max = |t: &Tensor| {
        let t = if padded {
            t.pad(pad, "constant", f64::NEG_INFINITY)
        } else {
            t.shallow_clone()
        };
        t.max_pool2d([ki, ki], [si, si], [0, 0], [1, 1], false)
    };
    match kind {
        PoolKind::Max => max(x),
        PoolKind::Min => max(&x.neg()).neg(),
        PoolKind::Avg if !padded => x.avg_pool2d([ki, ki], [si, si], [0, 0], false, true, None),
        PoolKind::Avg => {
            // Window sums over the zero-padded input, divided by each window's real pixels.
            let sum = |t: &Tensor| {
                t.constant_pad_nd(pad)
                    .avg_pool2d([ki, ki], [si, si], [0, 0], false, true, Some(1))
            };
            let ones = Tensor::ones([1, 1, h as i64, w as i64], (x.kind(), x.device()));
            sum(x) / sum(&ones)
        }
    }
}
