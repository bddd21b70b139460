//! `[similarity.params]` of `task2vec` and `landmark-net` (docs/plugins/similarity.md).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use xnas_core::{CheckParams, PluginError, PluginResult};
use xnas_tch::data::{DatasetSpec, PRESETS};

/// One dataset per task; a task without a table that is named like a preset reads the preset.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct TaskTables(pub BTreeMap<String, DatasetSpec>);

impl TaskTables {
    pub fn spec(&self, task: &str) -> PluginResult<DatasetSpec> {
        if let Some(s) = self.0.get(task) {
            return Ok(s.clone());
        }
        if PRESETS.contains(&task) {
            return Ok(DatasetSpec {
                preset: Some(task.to_string()),
                ..Default::default()
            });
        }
        Err(PluginError::unknown_task(format!(
            "task `{task}` has no dataset: add a `[similarity.params.tasks.{task}]` table (or a \
             `[search_space.params.tasks.{task}]` one, which the similarity plugin also reads), for \
             example `preset = \"fashion-mnist\"`; see docs/data.md"
        )))
    }
}

fn preset(name: &str) -> DatasetSpec {
    DatasetSpec {
        preset: Some(name.into()),
        ..Default::default()
    }
}

/// `task2vec`. Defaults follow the reference code (aws-cv-task2vec) where it applies to a small
/// probe trained here; ALGORITHMS.md §6.2 lists them.
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

fn check_common(channels: i64, size: i64, batch: usize) -> PluginResult<()> {
    if channels != 1 && channels != 3 {
        return Err(PluginError::invalid_params(format!(
            "`channels = {channels}`: the probe takes 1 (grey) or 3 (colour) channels"
        )));
    }
    if !(8..=256).contains(&size) {
        return Err(PluginError::invalid_params(format!(
            "`size = {size}`: the probe's input side must be between 8 and 256 pixels"
        )));
    }
    if batch == 0 {
        return Err(PluginError::invalid_params(
            "`batch = 0`: expected at least 1",
        ));
    }
    Ok(())
}

/// The first of `fields` that is 0, as the error naming it.
fn at_least_one(fields: &[(&str, usize)]) -> PluginResult<()> {
    match fields.iter().find(|(_, v)| *v == 0) {
        Some((k, _)) => Err(PluginError::invalid_params(format!(
            "`{k} = 0`: expected at least 1"
        ))),
        None => Ok(()),
    }
}

impl CheckParams for Task2VecParams {
    fn check(&self) -> PluginResult<()> {
        check_common(self.channels, self.size, self.batch)?;
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
        check_common(self.channels, self.size, self.batch)?;
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
