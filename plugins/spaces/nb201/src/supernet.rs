//! The NAS-Bench-201 weight-sharing search network (the supernet protocol; trained by
//! `xnas_tch::supernet::SupernetEngine`), as the paper's DARTS baseline searches it (Dong & Yang
//! 2020, §5; their `TinyNetworkDarts`):
//!
//! * the evaluation network's skeleton (stem, three stages of N cells, residual reductions,
//!   BN–ReLU, pooling) with one classifier per task of the spec and one stem per input channel
//!   count;
//! * every cell a **mixed cell**: each of the 6 edges computes `Σ_k mix[e, k] · op_k(x)` over
//!   the edge's candidate ops, and every cell reads the same mixing matrix (one α for the whole
//!   network: rows = the 6 edges in genome order, columns = the edge's candidates);
//! * the candidates' BN is non-affine (DARTS's `affine=False`); the skeleton's is affine, as the
//!   reference search model builds it. The conv candidates of an edge share one ReLU of the
//!   edge's input. `none` adds nothing (its weight's gradient is 0, as `x·0` gives).
//!   `skip_connect` goes through the pass's skip dropout (P-DARTS).
//!
//! Variables are named by what they are: `layers.{i}.{to}<-{from}.{op}.conv0.weight`, so weights
//! move by name between supernets with other candidate sets.

use crate::cell::{Op, EDGES, EDGE_ENDS};
use crate::network::{cell_forward, Body, EdgeOp, NetworkConfig, Stem};
use crate::{params, Nb201};
use xnas_core::{PluginError, PluginResult, SupernetSpec};
use xnas_tch::data::TaskData;
use xnas_tch::layers::linear;
use xnas_tch::supernet::{
    EngineConfig, Pass, SearchNetwork, StemSharing, SupernetEngine, TaskShape,
};
use xnas_tch::tch::{nn, Kind, Tensor};

/// One edge's candidates, in the mixing matrix's column order.
#[derive(Debug)]
struct MixedEdge {
    ops: Vec<(Op, EdgeOp)>,
}

/// A cell of the search network.
#[derive(Debug)]
pub struct MixedCell {
    edges: Vec<MixedEdge>,
}

impl MixedCell {
    /// `candidates[e]`: the ops of edge `e`, in column order.
    pub fn new(p: &nn::Path, candidates: &[Vec<Op>], c: usize) -> MixedCell {
        let edges = EDGE_ENDS
            .iter()
            .zip(candidates)
            .map(|(&(to, from), ops)| {
                let ep = p / format!("{to}<-{from}");
                MixedEdge {
                    ops: ops
                        .iter()
                        .map(|&op| (op, EdgeOp::new(&(&ep / op.name()), op, c, false)))
                        .collect(),
                }
            })
            .collect();
        MixedCell { edges }
    }

    /// The cell's output with `mix: [6, candidates]` (every row one edge's weights).
    pub fn forward(&self, x: &Tensor, mix: &Tensor, pass: &Pass) -> Tensor {
        let train = pass.is_train();
        cell_forward(x, |e, input| {
            let weights = mix.get(e as i64);
            let edge = &self.edges[e];
            let relued = edge
                .ops
                .iter()
                .any(|(_, m)| matches!(m, EdgeOp::Conv(_)))
                .then(|| input.relu());
            let mut sum: Option<Tensor> = None;
            for (k, (_, module)) in edge.ops.iter().enumerate() {
                let y = match module {
                    EdgeOp::Zero => continue,
                    EdgeOp::Identity => pass.skip_dropout(input),
                    EdgeOp::Conv(unit) => {
                        unit.forward_relued(relued.as_ref().expect("computed above"), train)
                    }
                    other => other.forward_t(input, train).expect("not the zero op"),
                };
                let y = y * weights.get(k as i64);
                sum = Some(match sum {
                    None => y,
                    Some(s) => s + y,
                });
            }
            sum
        })
    }
}

/// The search network: per-channel-count (or per-shape) stems, the shared body of mixed cells, per-task
/// classifiers.
#[derive(Debug)]
pub struct SearchNet {
    /// One per channel count (or image shape) among the tasks ([`StemSharing`]).
    stems: Vec<Stem>,
    /// The stem index of each task.
    task_stem: Vec<usize>,
    body: Body<MixedCell>,
    classifiers: Vec<nn::Linear>,
}

/// Where the per-task classifiers live (the variables Reptile leaves alone).
const CLASSIFIERS: &str = "classifiers";

impl SearchNet {
    /// `cells` and `channels`: N and C; `candidates[e]`: the ops of edge `e`.
    pub fn new(
        p: &nn::Path,
        tasks: &[TaskShape],
        cells: usize,
        channels: usize,
        candidates: &[Vec<Op>],
        stem_sharing: StemSharing,
    ) -> Result<SearchNet, String> {
        let first = tasks.first().ok_or("a supernet needs at least one task")?;
        let cfg = NetworkConfig {
            cells,
            channels,
            in_channels: first.shape[0],
            classes: first.classes,
            image_size: [first.shape[1], first.shape[2]],
        };
        cfg.validate()?;
        if candidates.len() != EDGES {
            return Err(format!(
                "{} candidate lists for the {EDGES} edges",
                candidates.len()
            ));
        }
        let (stems, task_stem) = stem_sharing.stems(tasks, |key, cin| {
            Stem::new(&(p / "stems" / key), cin, channels)
        });
        let body = Body::new(p, &cfg, |p, c| MixedCell::new(p, candidates, c));
        let classifiers = tasks
            .iter()
            .enumerate()
            .map(|(i, t)| linear(&(p / CLASSIFIERS / i), cfg.out_channels(), t.classes))
            .collect();
        Ok(SearchNet {
            stems,
            task_stem,
            body,
            classifiers,
        })
    }
}

impl SearchNetwork for SearchNet {
    fn forward(&self, x: &Tensor, mix: &Tensor, task: usize, pass: &Pass) -> Tensor {
        let train = pass.is_train();
        let stem = &self.stems[self.task_stem[task]];
        self.body
            .forward_t(&stem.forward_t(x, train), train, |cell, h| {
                cell.forward(h, mix, pass)
            })
            .apply(&self.classifiers[task])
    }

    fn is_task_specific(&self, name: &str) -> bool {
        name.split('.').next() == Some(CLASSIFIERS)
    }
}

impl Nb201 {
    /// The supernet a spec asks for, its weights of `kind` (`Kind::Double` for gradient checks).
    pub fn supernet_engine(
        &self,
        spec: &SupernetSpec,
        kind: Kind,
    ) -> PluginResult<SupernetEngine<SearchNet>> {
        let bad = |m: String| PluginError::invalid_params(format!("nb201 supernet: {m}"));
        let candidates: Vec<Vec<u32>> = if spec.candidates.is_empty() {
            vec![(0..self.ops.len() as u32).collect(); EDGES]
        } else {
            spec.candidates.iter().map(|c| c.to_vec()).collect()
        };
        if candidates.len() != EDGES {
            return Err(bad(format!(
                "{} candidate lists, but the cell has {EDGES} edges",
                candidates.len()
            )));
        }
        let mut ops = Vec::with_capacity(EDGES);
        for (e, list) in candidates.iter().enumerate() {
            let (to, from) = EDGE_ENDS[e];
            let mut edge = Vec::with_capacity(list.len());
            for &k in list {
                let op = *self.ops.ops().get(k as usize).ok_or_else(|| {
                    bad(format!(
                        "edge {to}<-{from}: candidate {k} is not an op index (0..{})",
                        self.ops.len()
                    ))
                })?;
                if edge.contains(&op) {
                    return Err(bad(format!(
                        "edge {to}<-{from}: `{op}` is a candidate twice"
                    )));
                }
                edge.push(op);
            }
            ops.push(edge);
        }
        let or = |v: u32, default: usize| if v == 0 { default } else { v as usize };
        let cells = or(spec.cells, self.params.cells);
        let channels = or(spec.channels, self.params.channels);
        if cells > params::MAX_CELLS || channels > params::MAX_CHANNELS {
            return Err(bad(format!(
                "{cells} cells per stage with {channels} channels is too large"
            )));
        }
        let data = spec
            .tasks
            .iter()
            .map(|t| self.task_data(t.as_str()))
            .collect::<PluginResult<Vec<_>>>()?;
        let data: Vec<&TaskData> = data.iter().map(|d| d.as_ref()).collect();
        let cfg = EngineConfig {
            owner: "nb201.supernet".into(),
            candidates,
            recipe: spec.recipe.clone(),
            seed: spec.seed,
            device: self.device,
            threads: self.params.threads,
            kind,
            eval_batch_size: self.params.eval_batch_size,
        };
        let stems = self.params.supernet_stems;
        SupernetEngine::new(cfg, &data, |p, shapes| {
            SearchNet::new(p, shapes, cells, channels, &ops, stems).map_err(bad)
        })
    }
}
