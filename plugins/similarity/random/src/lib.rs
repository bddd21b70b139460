//! `random`, the control similarity measure: every task gets a number drawn from (run seed,
//! task name), distance = their difference. With `top_k` it keeps k random sources: the control
//! for a real measure.

use serde::Deserialize;
use xnas_core::{
    component_seed, Meta, PluginError, PluginResult, PluginSet, Similarity, SimilarityInit,
};

/// `[similarity.params]` of `random`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomParams {
    #[serde(default)]
    pub tasks: Option<serde::de::IgnoredAny>,
}

pub struct RandomSimilarity {
    seed: u64,
}

impl Similarity for RandomSimilarity {
    fn embed(&mut self, task: &str) -> PluginResult<Vec<f32>> {
        // FNV-1a of the name, mixed with the run's seed: a new draw per seed, stable per task.
        let u = component_seed(self.seed, task) >> 11;
        Ok(vec![(u as f64 / (1u64 << 53) as f64) as f32])
    }

    fn distance(&self, a: &[f32], b: &[f32]) -> PluginResult<f64> {
        match (a, b) {
            ([x], [y]) => Ok(f64::from((x - y).abs())),
            _ => Err(PluginError::invalid_params(
                "random similarity embeddings have one value",
            )),
        }
    }
}

pub fn register(set: &mut PluginSet) {
    set.similarity(
        Meta {
            name: "random",
            version: env!("CARGO_PKG_VERSION"),
            description: "control: ranks the sources at random (a new draw per run seed)",
            capabilities: &[],
        },
        |_p: RandomParams, init: &SimilarityInit| Ok(RandomSimilarity { seed: init.seed }),
    );
}

xnas_core::builtin_plugins!(register);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_draws_differ_by_seed_and_are_stable_per_task() {
        let mut a = RandomSimilarity { seed: 1 };
        let mut b = RandomSimilarity { seed: 2 };
        let x = a.embed("cora").unwrap();
        assert_eq!(x, a.embed("cora").unwrap());
        assert_ne!(x, b.embed("cora").unwrap());
        assert_ne!(x, a.embed("citeseer").unwrap());
        assert!((0.0..1.0).contains(&x[0]));
    }
}
