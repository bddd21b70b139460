//! DARTS's search cell and network (quark0/darts `model_search.py`), for any input size and
//! channel count, with one classifier per task and one stem per input channel count or image
//! shape ([`StemSharing`]).

use super::mixed::{MixedOp, Shared};
use super::{CELL_EDGES, NODES};
use crate::ops::{batch_norm, Conv, ConvSpec, FactorizedReduce, ReluConvBn};
use xnas_core::{PluginError, PluginResult};
use xnas_tch::layers::linear;
use xnas_tch::supernet::{Pass, SearchNetwork, StemSharing, TaskShape};
use xnas_tch::tch::{nn, Device, Kind, Tensor};

/// Stem channels = `STEM_MULTIPLIER · C` (DARTS).
const STEM_MULTIPLIER: usize = 3;

/// Whether cell `i` of `cells` is a reduction cell: DARTS reduces at ⌊L/3⌋ and ⌊2L/3⌋.
pub fn is_reduction(i: usize, cells: usize) -> bool {
    i == cells / 3 || i == 2 * cells / 3
}

#[derive(Debug)]
enum Preprocess {
    Conv(ReluConvBn),
    Reduce(Box<FactorizedReduce>),
}

/// One search cell: `s0` (two cells back) through a ReLU–1×1 conv–BN, or a factorized reduction
/// after a reduction cell; `s1` through a ReLU–1×1 conv–BN; node `i` sums a mixed op on every
/// earlier state (edge `offset(i) + j`); the output concatenates the 4 nodes.
#[derive(Debug)]
struct SearchCell {
    reduction: bool,
    pre0: Preprocess,
    pre1: ReluConvBn,
    edges: Vec<MixedOp>,
}

impl SearchCell {
    fn new(
        p: &nn::Path,
        candidates: &[Vec<u32>],
        c_pp: usize,
        c_p: usize,
        c: usize,
        reduction: bool,
        reduction_prev: bool,
    ) -> Self {
        let pre0 = if reduction_prev {
            Preprocess::Reduce(Box::new(FactorizedReduce::with_affine(
                &(p / "pre0"),
                c_pp,
                c,
                false,
            )))
        } else {
            Preprocess::Conv(ReluConvBn::with_affine(
                &(p / "pre0"),
                &[ConvSpec::square(c_pp, c, 1, 1)],
                false,
            ))
        };
        let pre1 = ReluConvBn::with_affine(&(p / "pre1"), &[ConvSpec::square(c_p, c, 1, 1)], false);
        let mut edges = Vec::with_capacity(CELL_EDGES);
        for node in 0..NODES {
            for input in 0..node + 2 {
                let e = edges.len();
                let stride = if reduction && input < 2 { 2 } else { 1 };
                edges.push(MixedOp::new(&(p / "edges" / e), &candidates[e], c, stride));
            }
        }
        SearchCell {
            reduction,
            pre0,
            pre1,
            edges,
        }
    }

    /// `weights[e]`: the 0-d mixing weights of edge `e`'s candidates.
    fn forward(&self, s0: &Tensor, s1: &Tensor, weights: &[Vec<Tensor>], pass: &Pass) -> Tensor {
        let train = pass.is_train();
        let mut states = Vec::with_capacity(NODES + 2);
        states.push(match &self.pre0 {
            Preprocess::Conv(m) => m.forward_t(s0, train),
            Preprocess::Reduce(m) => m.forward_t(s0, train),
        });
        states.push(self.pre1.forward_t(s1, train));
        let mut shared: Vec<Shared> = vec![Shared::default(), Shared::default()];
        let mut e = 0;
        for _ in 0..NODES {
            let mut acc = None;
            for (state, sh) in states.iter().zip(shared.iter_mut()) {
                self.edges[e].accumulate(state, sh, &weights[e], pass, &mut acc);
                e += 1;
            }
            let node = acc.unwrap_or_else(|| self.zeros(&states[1]));
            states.push(node);
            shared.push(Shared::default());
        }
        Tensor::cat(&states[2..], 1)
    }

    /// A node whose every candidate is `none`: zeros of a node's shape.
    fn zeros(&self, s1: &Tensor) -> Tensor {
        let mut size = s1.size();
        if self.reduction {
            size[2] = (size[2] + 1) / 2;
            size[3] = (size[3] + 1) / 2;
        }
        Tensor::zeros(size.as_slice(), (s1.kind(), s1.device()))
    }
}

#[derive(Debug)]
struct Stem {
    conv: Conv,
    bn: nn::BatchNorm,
}

/// DARTS's search network: stem (3×3 conv to 3C, BN), `cells` search cells with C channels
/// doubling at the reduction cells, global average pooling, a linear classifier per task.
///
/// Variables: `stem.{key}.{conv,bn}.*` (the key by [`StemSharing`]), `cells.{i}.{pre0,pre1}.*`,
/// `cells.{i}.edges.{e}.{primitive}.*`, `classifier.t{task}.*` (task-specific).
#[derive(Debug)]
pub struct DartsSearchNet {
    stems: Vec<Stem>,
    /// Task → its stem.
    task_stem: Vec<usize>,
    cells: Vec<SearchCell>,
    classifiers: Vec<nn::Linear>,
}

impl DartsSearchNet {
    /// `candidates`: one list per layout edge (the 14 normal edges, then the 14 reduce edges).
    pub fn new(
        p: &nn::Path,
        tasks: &[TaskShape],
        candidates: &[Vec<u32>],
        channels: usize,
        cells: usize,
        stem_sharing: StemSharing,
    ) -> PluginResult<Self> {
        if candidates.len() != 2 * CELL_EDGES {
            return Err(PluginError::invalid_params(format!(
                "the DARTS search network needs {} candidate lists, got {}",
                2 * CELL_EDGES,
                candidates.len()
            )));
        }
        let stem_c = STEM_MULTIPLIER * channels;
        let (stems, task_stem) = stem_sharing.stems(tasks, |key, cin| {
            let q = p / "stem" / key;
            Stem {
                conv: ConvSpec::square(cin, stem_c, 3, 1).build(&(&q / "conv")),
                // DARTS's search stem keeps PyTorch's default (affine) batch norm.
                bn: batch_norm(&(&q / "bn"), stem_c),
            }
        });
        let (mut c_pp, mut c_p, mut c) = (stem_c, stem_c, channels);
        let mut reduction_prev = false;
        let mut built = Vec::with_capacity(cells);
        for i in 0..cells {
            let reduction = is_reduction(i, cells);
            if reduction {
                c *= 2;
            }
            let rows = if reduction {
                &candidates[CELL_EDGES..]
            } else {
                &candidates[..CELL_EDGES]
            };
            built.push(SearchCell::new(
                &(p / "cells" / i),
                rows,
                c_pp,
                c_p,
                c,
                reduction,
                reduction_prev,
            ));
            (c_pp, c_p) = (c_p, NODES * c);
            reduction_prev = reduction;
        }
        let classifiers = tasks
            .iter()
            .enumerate()
            .map(|(i, t)| linear(&(p / "classifier" / format!("t{i}")), c_p, t.classes))
            .collect();
        Ok(DartsSearchNet {
            stems,
            task_stem,
            cells: built,
            classifiers,
        })
    }
}

impl SearchNetwork for DartsSearchNet {
    fn forward(&self, x: &Tensor, mix: &Tensor, task: usize, pass: &Pass) -> Tensor {
        let train = pass.is_train();
        let stem = &self.stems[self.task_stem[task]];
        let s = x.apply(&stem.conv);
        // Channels-last activations on the CPU (as `crate::network::Network`): oneDNN's depthwise
        // convolutions and pools then skip im2col/col2im.
        let s = if s.device() == Device::Cpu {
            s.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
        } else {
            s
        };
        let s = s.apply_t(&stem.bn, train);
        let weights: Vec<Vec<Tensor>> = mix.unbind(0).iter().map(|row| row.unbind(0)).collect();
        let (normal, reduce) = weights.split_at(CELL_EDGES);
        let (mut s0, mut s1) = (s.shallow_clone(), s);
        for cell in &self.cells {
            let w = if cell.reduction { reduce } else { normal };
            let out = cell.forward(&s0, &s1, w, pass);
            (s0, s1) = (s1, out);
        }
        s1.mean_dim([2i64, 3].as_slice(), false, None::<Kind>)
            .apply(&self.classifiers[task])
    }

    fn is_task_specific(&self, name: &str) -> bool {
        name.starts_with("classifier.")
    }
}
