//! `landmark-archs`, a similarity measure that needs no data of its own: `k` fixed
//! architectures, sampled from the search space with a fixed seed, are evaluated on every task
//! (by the host, through the space: a benchmark's table or real training); a task is embedded as
//! its landmarks' validation metrics, and the distance of two tasks is 1 − Spearman's ρ of those
//! metrics (0 = they rank the landmarks alike, 2 = in reverse). Architectures that rank alike
//! across tasks is what transfer needs.

use serde::Deserialize;
use std::collections::HashSet;
use xnas_core::{
    capability, derive_seed, spearman, CheckParams, Checked, Meta, PluginError, PluginResult,
    PluginSet, SearchSpace, Similarity, SimilarityInit, SpaceBox,
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
    );
}

xnas_core::builtin_plugins!(register);
