//! DARTS's search operations and mixed op (Liu et al. 2019; quark0/darts `operations.py`,
//! `model_search.py`): the 8 primitives, every batch norm non-affine, pools followed by a batch
//! norm, the strided skip a factorized reduction.

use crate::genome::Op;
use crate::ops::{batch_norm_affine, conv_units, FactorizedReduce, ReluConvBn};
use xnas_tch::supernet::Pass;
use xnas_tch::tch::{nn, Tensor};

/// DARTS's primitives, in DARTS's order (`genotypes.py` `PRIMITIVES`): the layout's op indices.
pub const PRIMITIVES: [&str; 8] = [
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
];

/// The layout index of `none`.
pub const NONE: u32 = 0;
/// The layout index of `skip_connect`.
pub const SKIP: u32 = 3;

/// The op of this space that a primitive (other than `none`) becomes in a derived cell:
/// DARTS's `dil_conv_k` is `dil_sep_conv_k` here, `skip_connect` is `identity`.
pub fn space_op(primitive: u32) -> Option<Op> {
    Some(match primitive {
        1 => Op::MaxPool(3),
        2 => Op::AvgPool(3),
        3 => Op::Identity,
        4 => Op::SepConv(3),
        5 => Op::SepConv(5),
        6 => Op::DilSepConv(3),
        7 => Op::DilSepConv(5),
        _ => return None,
    })
}

/// One candidate of a mixed op.
#[derive(Debug)]
enum Candidate {
    /// `none`: contributes nothing (DARTS multiplies its input by 0; skipping it gives the same
    /// output and a zero gradient for its weight).
    Zero,
    /// 3×3 max or average pool (padding 1; the average does not count the padding), then BN.
    Pool { max: bool, bn: nn::BatchNorm },
    /// `skip_connect` at stride 1, followed by the pass's skip dropout (P-DARTS).
    Identity,
    /// `skip_connect` at stride 2.
    Reduce(Box<FactorizedReduce>),
    /// `sep_conv` (two units) or `dil_conv` (one); the first unit reads the edge's shared ReLU.
    Convs(Vec<ReluConvBn>),
}

/// The weighted sum of an edge's candidates.
#[derive(Debug)]
pub struct MixedOp {
    stride: i64,
    candidates: Vec<Candidate>,
}

impl MixedOp {
    /// The candidates `ops` (layout indices into [`PRIMITIVES`]) on `c` channels; each op's
    /// variables live under `p / <primitive name>`, so weights match by name whatever the
    /// columns are.
    pub fn new(p: &nn::Path, ops: &[u32], c: usize, stride: usize) -> Self {
        let candidates = ops
            .iter()
            .map(|&op| {
                let q = p / PRIMITIVES[op as usize];
                match op {
                    NONE => Candidate::Zero,
                    1 | 2 => Candidate::Pool {
                        max: op == 1,
                        bn: batch_norm_affine(&(&q / "bn"), c, false),
                    },
                    SKIP if stride == 1 => Candidate::Identity,
                    SKIP => {
                        Candidate::Reduce(Box::new(FactorizedReduce::with_affine(&q, c, c, false)))
                    }
                    _ => {
                        let op = space_op(op).expect("a conv primitive");
                        Candidate::Convs(
                            conv_units(op, c, stride)
                                .iter()
                                .enumerate()
                                .map(|(i, u)| {
                                    ReluConvBn::with_affine(&(&q / format!("unit{i}")), u, false)
                                })
                                .collect(),
                        )
                    }
                }
            })
            .collect();
        MixedOp {
            stride: stride as i64,
            candidates,
        }
    }

    /// Adds `Σ_k weights[k] · op_k(x)` into `acc` (starting it when `None`). The sum is formed in
    /// place (one buffer per node); the convolutions and the factorized reduction share one
    /// `relu(x)`.
    pub fn accumulate(
        &self,
        x: &Tensor,
        weights: &[Tensor],
        pass: &Pass,
        acc: &mut Option<Tensor>,
    ) {
        let train = pass.is_train();
        let s = self.stride;
        let mut relu: Option<Tensor> = None;
        for (cand, w) in self.candidates.iter().zip(weights) {
            let out = match cand {
                Candidate::Zero => continue,
                Candidate::Pool { max, bn } => {
                    let y = if *max {
                        x.max_pool2d([3, 3], [s, s], [1, 1], [1, 1], false)
                    } else {
                        x.avg_pool2d([3, 3], [s, s], [1, 1], false, false, None)
                    };
                    y.apply_t(bn, train)
                }
                Candidate::Identity => pass.skip_dropout(x),
                Candidate::Reduce(r) => {
                    r.forward_relued(relu.get_or_insert_with(|| x.relu()), train)
                }
                Candidate::Convs(units) => {
                    let mut y =
                        units[0].forward_relued(relu.get_or_insert_with(|| x.relu()), train);
                    for u in &units[1..] {
                        y = u.forward_t(&y, train);
                    }
                    y
                }
            };
            match acc {
                None => *acc = Some(&out * w),
                Some(a) => {
                    let _ = a.addcmul_(&out, w);
                }
            }
        }
    }
}
