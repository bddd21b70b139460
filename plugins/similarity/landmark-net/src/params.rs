//! `[similarity.params]` of `landmark-net` (docs/plugins/similarity.md).

use serde::Deserialize;
use xnas_core::{CheckParams, PluginError, PluginResult};
use xnas_tch::image_tasks::TaskTables;
use xnas_tch::probe::{at_least_one, check_input};

/// `landmark-net`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LandmarkNetParams {
    pub tasks: TaskTables,
    pub channels: i64,
    pub size: i64,
    pub epochs: usize,
    pub batch: usize,
    pub learning_rate: f64,
    /// Training images used (the first n of the task's seeded training split).
    pub max_train: usize,
    /// Validation images scored.
    pub max_valid: usize,
    /// Independent trainings averaged (TAPAS: the DCN is comparable only averaged over seeds).
    pub repeats: usize,
    pub seed: u64,
    pub device: String,
    pub threads: usize,
}

impl Default for LandmarkNetParams {
    fn default() -> Self {
        LandmarkNetParams {
            tasks: TaskTables::default(),
            channels: 1,
            size: 28,
            epochs: 2,
            batch: 64,
            learning_rate: 1e-3,
            max_train: 5000,
            max_valid: 2000,
            repeats: 2,
            seed: 0,
            device: "cpu".into(),
            threads: 0,
        }
    }
}

impl CheckParams for LandmarkNetParams {
    fn check(&self) -> PluginResult<()> {
        check_input(self.channels, self.size, self.batch)?;
        at_least_one(&[
            ("epochs", self.epochs),
            ("max_train", self.max_train),
            ("max_valid", self.max_valid),
            ("repeats", self.repeats),
        ])?;
        if !self.learning_rate.is_finite() || self.learning_rate <= 0.0 {
            return Err(PluginError::invalid_params(format!(
                "`learning_rate = {}`: expected a positive number",
                self.learning_rate
            )));
        }
        Ok(())
    }
}
