//! Shared pieces of the benchmarks: a NASNet-size cell space for timing, NAS-Bench-Graph access,
//! observations and Spearman's rank correlation.

use xnas_core::abi_stable::std_types::{RNone, RString, RVec};
use xnas_core::*;
use xnas_space_nasbench_graph::{NasBenchGraph, NasBenchGraphParams};

/// NASNet cells as decisions: 2 cells × `blocks` × [in1, op1, in2, op2], inputs of block b choose
/// among b + 2 states (as NAO_pytorch NAO_V1/utils.py `generate_arch`). Only for timing: `evaluate` is not used by the benches.
pub struct NasnetCells {
    pub blocks: u32,
    pub ops: u32,
}

impl NasnetCells {
    fn choices(&self) -> Vec<(String, u32, &'static str)> {
        let mut v = Vec::new();
        for cell in ["normal", "reduce"] {
            for b in 0..self.blocks {
                for (what, n, group) in [
                    ("in1", b + 2, "node"),
                    ("op1", self.ops, "op"),
                    ("in2", b + 2, "node"),
                    ("op2", self.ops, "op"),
                ] {
                    v.push((format!("{cell}.b{b}.{what}"), n, group));
                }
            }
        }
        v
    }
}

impl SearchSpace for NasnetCells {
    fn describe(&self) -> PluginResult<SpaceDesc> {
        Ok(SpaceDesc {
            positions: self
                .choices()
                .into_iter()
                .map(|(name, choices, group)| Position {
                    name: name.into(),
                    choices,
                    group: group.into(),
                    labels: RVec::new(),
                })
                .collect(),
            tasks: RVec::new(),
            size: 0,
        })
    }
    fn sample(&self, seed: u64) -> PluginResult<Vec<u32>> {
        let mut rng = SplitMix64::new(seed);
        Ok(self
            .choices()
            .iter()
            .map(|(_, n, _)| rng.below(*n))
            .collect())
    }
    fn mutate(&self, genome: &[u32], seed: u64) -> PluginResult<Vec<u32>> {
        let mut g = genome.to_vec();
        let mut rng = SplitMix64::new(seed);
        let c = self.choices();
        let i = rng.below(c.len() as u32) as usize;
        g[i] = rng.below(c[i].1);
        Ok(g)
    }
    fn canonical(&self, genome: &[u32]) -> PluginResult<Arch> {
        let c = self.choices();
        if genome.len() != c.len() || genome.iter().zip(&c).any(|(g, (_, n, _))| g >= n) {
            return Err(PluginError::invalid_architecture(
                "not a NASNet cell genome",
            ));
        }
        let text: Vec<String> = genome.iter().map(|g| g.to_string()).collect();
        Ok(Arch {
            genome: genome.to_vec().into(),
            text: text.join("-").into(),
        })
    }
    fn parse(&self, text: &str) -> PluginResult<Vec<u32>> {
        text.split('-')
            .map(|t| {
                t.parse()
                    .map_err(|_| PluginError::invalid_architecture("not a number"))
            })
            .collect()
    }
    fn evaluate(&self, _request: &EvalRequest) -> PluginResult<EvalResult> {
        Err(PluginError::unsupported("timing space: no evaluation"))
    }
}

/// The NAS-Bench-Graph space over `tasks`, all ops, from the cached data (`make data`).
pub fn nasbench_graph(tasks: &[&str]) -> SpaceBox {
    let init = SpaceInit {
        tasks: tasks.iter().map(|&t| RString::from(t)).collect(),
        base_dir: RString::new(),
        data_dir: RString::new(),
    };
    let params: NasBenchGraphParams = parse_params("ops = \"all\"").expect("nasbench-graph params");
    let space = NasBenchGraph::new(params, &init)
        .unwrap_or_else(|e| panic!("NAS-Bench-Graph data (run `make data`): {e}"));
    space_box(space)
}

/// An observation of `genome` with `metric`.
pub fn observation(trial_id: u64, task: &str, genome: Vec<u32>, metric: f64) -> Observation {
    let mut o = failed_observation(trial_id, task, genome);
    o.metric = metric;
    o.status = TrialStatus::OK;
    o
}

/// The validation metric of `genome` on `task`, or None where the table has none.
pub fn lookup(space: &SpaceBox, task: &str, genome: &[u32]) -> Option<f64> {
    let request = EvalRequest {
        trial_id: 0,
        task: task.into(),
        genome: genome.to_vec().into(),
        seed: 0,
        budget: RNone,
    };
    space
        .evaluate(&request)
        .ok()
        .map(|r| r.metric)
        .filter(|m| m.is_finite())
}

/// Spearman's rank correlation (`xnas_core::spearman`); 0 when either side is constant.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let rho = xnas_core::spearman(a, b);
    if rho.is_nan() {
        0.0
    } else {
        rho
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_of_monotone_and_reversed() {
        let a = [1.0, 2.0, 3.0, 4.0];
        assert!((spearman(&a, &[10.0, 20.0, 30.0, 40.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&a, &[4.0, 3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        assert_eq!(spearman(&a, &[1.0, 1.0, 1.0, 1.0]), 0.0);
    }
}
