//! Source knowledge: what the optimizer is told about the source tasks before the search, from up
//! to three origins, combined in this order:
//!
//! 1. `source_samples`: architectures per source task sampled by the host and evaluated, stored
//!    as `role = source` trials of this run;
//! 2. `source_runs`: the successful trials (source and target roles alike) of earlier runs on
//!    this run's source tasks, read from their stores without writing to them;
//! 3. `source_file`: a meta-dataset CSV (`task,arch,metric[,test_metric,cost_seconds]`, or a
//!    run's `trials.csv`).
//!
//! The target task never enters: a run or file with a row on the target is refused, not filtered,
//! since it means the user pointed at the wrong data. What was loaded (counts per origin and task
//! and a fingerprint of each imported origin) is recorded in the store and in `sources.json`; a
//! resumed run re-reads the origins and stops if they changed, so it is told exactly what the
//! interrupted run was told.
//!
//! Imported observations are never trials of this run: they get trial ids from
//! [`IMPORTED_TRIAL_ID_BASE`] upward in load order, far above any id this run gives its own trials
//! and below the seed tags at the top of the u64 range.
//!
//! [`meta_csv`] reads the meta-dataset file, [`imported`] loads the imported origins and
//! [`gather`] is the run's side: sampling, combining, recording and checking on resume.

mod gather;
mod imported;
mod meta_csv;

pub use imported::load_imported;
pub use meta_csv::{read_meta_csv, MetaRow, MetaRows};

use crate::config::Experiment;
use crate::error::{HostError, HostResult};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use xnas_core::abi_stable::std_types::{RNone, RVec};
use xnas_core::{Observation, SearchSpace, SpaceBox, TrialStatus};

/// A successful observation known by its metric alone (no test metric, cost, budget or curve).
pub fn successful(trial_id: u64, task: &str, genome: &[u32], metric: f64) -> Observation {
    Observation {
        trial_id,
        task: task.into(),
        genome: genome.to_vec().into(),
        metric,
        test_metric: RNone,
        cost_seconds: 0.0,
        budget: RNone,
        curve: RVec::new(),
        status: TrialStatus::OK,
    }
}

/// First trial id of imported observations (2^62).
pub const IMPORTED_TRIAL_ID_BASE: u64 = 1 << 62;

/// Where source knowledge came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OriginKind {
    /// Sampled by this run (`source_samples`).
    Samples,
    /// An earlier run directory (`source_runs`).
    Run,
    /// A meta-dataset file (`source_file`).
    File,
    /// The similarity plugin's landmark architectures, evaluated on the chosen sources.
    Landmarks,
}

/// What one origin gave, as recorded in the store and in `sources.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginRecord {
    pub origin: OriginKind,
    /// The path as written in the experiment file (imported origins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The path it was resolved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<String>,
    /// Successful observations per source task.
    pub counts: BTreeMap<String, u64>,
    /// Trial id of the origin's first observation (imported origins; the rest follow in order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_trial_id: Option<u64>,
    /// FNV-1a 64 of the imported observations (task, genome, metrics, cost), in hex: notices an
    /// origin whose contents changed while its counts did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

impl OriginRecord {
    fn describe(&self) -> String {
        let path = self.resolved.as_deref().unwrap_or("");
        match self.origin {
            OriginKind::Samples => "sampled source knowledge".into(),
            OriginKind::Run => format!("source run {path}"),
            OriginKind::File => format!("source file {path}"),
            OriginKind::Landmarks => "landmark architectures".into(),
        }
    }
}

/// Observations of one imported origin, with the record describing them.
pub struct Imported {
    pub record: OriginRecord,
    pub observations: Vec<Observation>,
}

fn counts_of(obs: &[Observation]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for o in obs {
        *counts.entry(o.task.to_string()).or_insert(0) += 1;
    }
    counts
}

fn counts_text(counts: &BTreeMap<String, u64>) -> String {
    if counts.is_empty() {
        return "none".into();
    }
    counts
        .iter()
        .map(|(t, n)| format!("{t} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// FNV-1a 64: stable across Rust versions, unlike `DefaultHasher`, so it can be stored.
fn fingerprint(obs: &[Observation]) -> String {
    let mut h = xnas_core::Fnv1a64::default();
    let mut eat = |bytes: &[u8]| h.write(bytes);
    for o in obs {
        eat(o.task.as_bytes());
        eat(&[0xff]);
        for g in o.genome.iter() {
            eat(&g.to_le_bytes());
        }
        eat(&o.metric.to_bits().to_le_bytes());
        match o.test_metric.into_option() {
            Some(t) => eat(&t.to_bits().to_le_bytes()),
            None => eat(&[0xfe]),
        }
        eat(&o.cost_seconds.to_bits().to_le_bytes());
    }
    format!("{:016x}", h.finish())
}

fn knowledge_err(origin: impl Into<String>, message: impl Into<String>) -> HostError {
    HostError::SourceKnowledge {
        origin: origin.into(),
        message: message.into(),
    }
}

/// The canonical genome of an architecture text in this experiment's space.
fn arch_genome(space: &SpaceBox, text: &str) -> Result<Vec<u32>, String> {
    let genome = space.parse(text).map_err(|e| e.message().to_string())?;
    let arch = space
        .canonical(&genome)
        .map_err(|e| e.message().to_string())?;
    Ok(arch.genome.to_vec())
}

/// What `xnas validate` reports: the imported origins loaded for the listed sources.
pub fn preview(
    exp: &Experiment,
    space: &SpaceBox,
    space_name: &str,
) -> HostResult<Vec<OriginRecord>> {
    Ok(load_imported(exp, space, space_name, &exp.sources(), None)?
        .into_iter()
        .map(|i| i.record)
        .collect())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(super) fn obs(task: &str, metric: f64) -> Observation {
        successful(0, task, &[1, 2], metric)
    }

    pub(super) fn record(kind: OriginKind, obs: &[Observation]) -> OriginRecord {
        OriginRecord {
            origin: kind,
            path: Some("meta.csv".into()),
            resolved: Some("/x/meta.csv".into()),
            counts: counts_of(obs),
            first_trial_id: Some(IMPORTED_TRIAL_ID_BASE),
            fingerprint: Some(fingerprint(obs)),
        }
    }

    #[test]
    fn the_fingerprint_sees_every_field() {
        let base = fingerprint(&[obs("a", 0.5)]);
        assert_eq!(base, fingerprint(&[obs("a", 0.5)]));
        assert_ne!(base, fingerprint(&[obs("b", 0.5)]));
        assert_ne!(base, fingerprint(&[obs("a", 0.25)]));
        let mut t = obs("a", 0.5);
        t.test_metric = Some(0.5).into();
        assert_ne!(base, fingerprint(&[t]));
        let mut g = obs("a", 0.5);
        g.genome = vec![2, 1].into();
        assert_ne!(base, fingerprint(&[g]));
    }
}
