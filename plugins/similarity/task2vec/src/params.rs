//! `[similarity.params]` of `task2vec` (docs/plugins/similarity.md).

use serde::Deserialize;
use std::path::PathBuf;
use xnas_core::{CheckParams, PluginError, PluginResult};
use xnas_tch::data::DatasetSpec;
use xnas_tch::image_tasks::TaskTables;
use xnas_tch::probe::{at_least_one, check_input};

fn preset(name: &str) -> DatasetSpec {
    DatasetSpec {
        preset: Some(name.into()),
        ..Default::default()
    }
}

/// `task2vec`. Defaults follow the reference code (awslabs/aws-cv-task2vec task2vec.py and
/// conf/*.yaml) where it applies to a small probe trained here; docs/plugins/similarity.md lists
/// them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Task2VecParams {
    pub tasks: TaskTables,
    /// The dataset the probe is trained on once (the paper's probe is ImageNet-pretrained; none
    /// can be downloaded here).
    pub probe: DatasetSpec,
    pub probe_epochs: usize,
    /// Training images of the probe dataset used (its first n after the seeded split).
    pub probe_samples: usize,
    /// Where trained probes are kept (default `$XNAS_CACHE_DIR/probes`, else `~/.cache/xnas/probes`).
    pub probe_dir: Option<PathBuf>,
    /// Probe input: every task's images are brought to `channels` × `size` × `size`.
    pub channels: i64,
    pub size: i64,
    /// Training images of a task whose probe features fit its classifier.
    pub max_samples: usize,
    pub classifier_epochs: usize,
    pub classifier_lr: f64,
    pub classifier_weight_decay: f64,
    /// Class-balanced draws (with replacement) of the Monte-Carlo Fisher estimate.
    pub fisher_samples: usize,
    /// Batch of the classifier fit and the Fisher estimate (the estimate depends on it: keep it
    /// fixed across tasks).
    pub batch: usize,
    /// Seeds the probe, the classifier and the Fisher draws. Fixed by default (not the run's
    /// seed) so that a task's embedding is the same in every run.
    pub seed: u64,
    pub device: String,
    /// libtorch intra-op threads (process-wide); 0 leaves libtorch's default.
    pub threads: usize,
}

impl Default for Task2VecParams {
    fn default() -> Self {
        Task2VecParams {
            tasks: TaskTables::default(),
            probe: preset("fashion-mnist"),
            probe_epochs: 3,
            probe_samples: 20_000,
            probe_dir: None,
            channels: 1,
            size: 28,
            max_samples: 1000,
            classifier_epochs: 10,
            classifier_lr: 1e-2,
            classifier_weight_decay: 1e-4,
            fisher_samples: 10_000,
            batch: 64,
            seed: 0,
            device: "cpu".into(),
            threads: 0,
        }
    }
}

impl CheckParams for Task2VecParams {
    fn check(&self) -> PluginResult<()> {
        check_input(self.channels, self.size, self.batch)?;
        at_least_one(&[
            ("probe_epochs", self.probe_epochs),
            ("probe_samples", self.probe_samples),
            ("max_samples", self.max_samples),
            ("classifier_epochs", self.classifier_epochs),
        ])?;
        if self.fisher_samples < self.batch {
            return Err(PluginError::invalid_params(format!(
                "`fisher_samples = {}` is less than one batch ({}): the estimate would be empty",
                self.fisher_samples, self.batch
            )));
        }
        if !self.classifier_lr.is_finite() || self.classifier_lr <= 0.0 {
            return Err(PluginError::invalid_params(format!(
                "`classifier_lr = {}`: expected a positive number",
                self.classifier_lr
            )));
        }
        Ok(())
    }
}

impl Task2VecParams {
    pub fn probe_dir(&self) -> PathBuf {
        self.probe_dir.clone().unwrap_or_else(|| {
            match std::env::var_os("XNAS_CACHE_DIR") {
                Some(d) if !d.is_empty() => PathBuf::from(d),
                _ => {
                    PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/xnas")
                }
            }
            .join("probes")
        })
    }
}
