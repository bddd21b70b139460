//! Two similarity measures that need no data of their own:
//!
//! * `landmark-archs`: `k` fixed architectures, sampled from the search space with a fixed seed,
//!   are evaluated on every task (by the host, through the space: a benchmark's table or real
//!   training); a task is embedded as its landmarks' validation metrics, and the distance of two
//!   tasks is 1 − Spearman's ρ of those metrics (0 = they rank the landmarks alike, 2 = in
//!   reverse). Architectures that rank alike across tasks is what transfer needs.
//! * `random`: every task gets a number drawn from (run seed, task name), distance = their
//!   difference. With `top_k` it keeps k random sources: the control for a real measure.

use serde::Deserialize;
use std::collections::HashSet;
use xnas_core::{
    capability, component_seed, derive_seed, spearman, CheckParams, Checked, Meta, PluginError,
    PluginResult, PluginSet, SearchSpace, Similarity, SimilarityInit, SpaceBox,
};

/// `[similarity.params]` of `landmark-archs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LandmarkParams {
    /// Number of landmark architectures (each is evaluated on every task; the target's count
    /// against the search budget).
    #[serde(default = "default_k")]
    pub k: usize,
    /// Seed choosing the landmarks. Fixed (not the run's seed) so that every run and every
    /// experiment on the same space embeds tasks with the same architectures.
    #[serde(default)]
    pub seed: u64,
    /// Datasets of trainable spaces are the space's business; accepted and ignored here so the
    /// host can pass the space's `tasks` table to every similarity plugin.
    #[serde(default)]
    pub tasks: Option<serde::de::IgnoredAny>,
}

fn default_k() -> usize {
    10
}

pub struct LandmarkArchs {
    space: SpaceBox,
    params: LandmarkParams,
}

impl CheckParams for LandmarkParams {
    fn check(&self) -> PluginResult<()> {
        if self.k < 3 {
            return Err(PluginError::invalid_params(format!(
                "`k = {}`: a rank correlation needs at least 3 landmark architectures",
                self.k
            )));
        }
        Ok(())
    }
}

impl LandmarkArchs {
    pub fn new(params: LandmarkParams, init: &SimilarityInit) -> PluginResult<Self> {
        params.check()?;
        Ok(LandmarkArchs {
            space: init.space.clone(),
            params,
        })
    }
}

/// Draws beyond `k` allowed while looking for distinct architectures (tiny spaces run out).
const MAX_DRAWS_PER_LANDMARK: usize = 50;

impl Similarity for LandmarkArchs {
    fn embed(&mut self, _task: &str) -> PluginResult<Vec<f32>> {
        Err(PluginError::unsupported(
            "landmark-archs embeds a task from its landmarks' scores (embed_scores)",
        ))
    }

    fn landmarks(&mut self) -> PluginResult<Vec<Vec<u32>>> {
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(self.params.k);
        let mut draw = 0u64;
        while out.len() < self.params.k {
            if draw as usize >= self.params.k * MAX_DRAWS_PER_LANDMARK {
                return Err(PluginError::invalid_params(format!(
                    "k = {}: the search space gave only {} distinct architectures in {draw} draws",
                    self.params.k,
                    out.len()
                )));
            }
            let g = self.space.sample(derive_seed(self.params.seed, draw))?;
            draw += 1;
            let canonical = self.space.canonical(&g)?.genome.to_vec();
            if seen.insert(canonical.clone()) {
                out.push(canonical);
            }
        }
        Ok(out)
    }

    fn embed_scores(&mut self, task: &str, scores: &[f64]) -> PluginResult<Vec<f32>> {
        let ok = scores.iter().filter(|s| s.is_finite()).count();
        if ok < 3 {
            return Err(PluginError::evaluation(format!(
                "task `{task}`: only {ok} of {} landmark architectures evaluated successfully; \
                 at least 3 are needed for a rank correlation",
                scores.len()
            )));
        }
        Ok(scores.iter().map(|&s| s as f32).collect())
    }

    fn distance(&self, a: &[f32], b: &[f32]) -> PluginResult<f64> {
        if a.len() != b.len() {
            return Err(PluginError::invalid_params(format!(
                "embeddings of different lengths ({} and {}): they come from different landmarks",
                a.len(),
                b.len()
            )));
        }
        let (x, y): (Vec<f64>, Vec<f64>) = a
            .iter()
            .zip(b)
            .filter(|(p, q)| p.is_finite() && q.is_finite())
            .map(|(&p, &q)| (f64::from(p), f64::from(q)))
            .unzip();
        if x.len() < 3 {
            return Err(PluginError::evaluation(format!(
                "only {} landmark architectures evaluated on both tasks; at least 3 are needed",
                x.len()
            )));
        }
        // Constant scores on either task carry no ranking: ρ = 0 (distance 1), not NaN.
        let rho = spearman(&x, &y);
        Ok(1.0 - if rho.is_nan() { 0.0 } else { rho })
    }
}

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
            name: "landmark-archs",
            version: env!("CARGO_PKG_VERSION"),
            description: "k fixed architectures evaluated on every task; distance = 1 - Spearman rho of their scores",
            capabilities: &[capability::LANDMARKS],
        },
        // Checked as parsed: `xnas validate` refuses k < 3 too.
        |Checked(p): Checked<LandmarkParams>, init: &SimilarityInit| LandmarkArchs::new(p, init),
    )
    .similarity(
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
