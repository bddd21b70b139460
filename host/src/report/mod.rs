//! What a run leaves for people: `trials.csv`, `summary.json` and `best_so_far.png`, all rebuilt
//! from the store (so they can be regenerated at any time).

pub mod files;
pub(crate) mod plot;

pub use files::{number, write_atomic, write_csv, write_json, Written};

use crate::config::Experiment;
use crate::error::HostResult;
use crate::store::{genome_text, Role, Status, TrialRecord};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BestTrial {
    pub trial_id: u64,
    pub arch: String,
    pub genome: String,
    pub metric: f64,
    pub test_metric: Option<f64>,
}

/// A run's `summary.json` (written here, read back by `xnas compare` and `xnas train`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub experiment: String,
    pub target: String,
    pub search_space: String,
    pub optimizer: String,
    pub transfer: Option<String>,
    pub seed: u64,
    pub workers: u32,
    pub best: Option<BestTrial>,
    /// Best validation metric the space knows for the target (benchmarks), and the regret.
    pub best_possible: Option<f64>,
    pub regret: Option<f64>,
    /// Target evaluations (failed included), failed ones, and source-knowledge evaluations.
    pub evaluations: u64,
    pub failed: u64,
    pub source_evaluations: u64,
    pub wall_seconds: f64,
    /// A one-shot run's search (absent for ask/tell runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchSummary>,
}

/// How a one-shot run's search went.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SearchSummary {
    /// `one-shot`.
    pub kind: String,
    /// Seconds the search ran (the derived architectures' evaluations not included).
    pub seconds: f64,
    /// Epochs ended.
    pub epochs: u64,
    /// Why it ended: `finished` (the optimizer's own schedule), `epochs` or `seconds` (budget).
    pub ended: String,
    /// A few-shot run's meta-test (`base` with `episodes`): the headline of its
    /// `artifacts/fewshot.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_test: Option<MetaTest>,
}

/// The meta-test of a few-shot run: N-way K-shot episodes of the held-out target, each adapted
/// from the meta-network; their mean query accuracy and its 95 % interval.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MetaTest {
    pub way: u32,
    pub shot: u32,
    pub query: u32,
    pub adapt_steps: u32,
    pub test_episodes: u32,
    pub mean_accuracy: f64,
    pub interval95: [f64; 2],
    pub chance: f64,
}

impl Summary {
    pub fn build(
        exp: &Experiment,
        records: &[TrialRecord],
        best_possible: Option<f64>,
        wall_seconds: f64,
        workers: u32,
    ) -> Summary {
        let f = &exp.file;
        let target: Vec<&TrialRecord> = records
            .iter()
            .filter(|r| r.spec.role == Role::Target && r.outcome.is_some())
            .collect();
        let mut best: Option<BestTrial> = None;
        for r in &target {
            let o = r.outcome.as_ref().expect("filtered");
            if let (Status::Ok, Some(m)) = (o.status, o.metric) {
                if best.as_ref().is_none_or(|b| m > b.metric) {
                    best = Some(BestTrial {
                        trial_id: r.spec.id,
                        arch: r.spec.arch.clone(),
                        genome: genome_text(&r.spec.canonical),
                        metric: m,
                        test_metric: o.test_metric,
                    });
                }
            }
        }
        Summary {
            experiment: f.experiment.name.get_ref().clone(),
            target: f.tasks.target.get_ref().clone(),
            search_space: f.search_space.plugin.get_ref().clone(),
            optimizer: exp.optimizer_name().get_ref().clone(),
            transfer: f.transfer.as_ref().map(|t| t.plugin.get_ref().clone()),
            seed: f.experiment.seed,
            workers,
            regret: match (&best, best_possible) {
                (Some(b), Some(p)) => Some(regret(p, b.metric)),
                _ => None,
            },
            best,
            best_possible,
            evaluations: target.len() as u64,
            failed: target
                .iter()
                .filter(|r| r.outcome.as_ref().is_some_and(|o| o.status != Status::Ok))
                .count() as u64,
            source_evaluations: records
                .iter()
                .filter(|r| r.spec.role == Role::Source && r.outcome.is_some())
                .count() as u64,
            wall_seconds,
            search: None,
        }
    }
}

/// Regret: the reference metric (the best the benchmark knows) minus the best found, in the
/// metric's own units. Every report computes it here, so a run's `summary.json` and a
/// comparison's `curves.csv` agree to the bit. A difference within rounding of the reference
/// (a benchmark whose stored best and looked-up value differ in the last bits) is 0.
pub fn regret(reference: f64, found: f64) -> f64 {
    let r = reference - found;
    if r.abs() <= 1e-12 * reference.abs().max(1.0) {
        0.0
    } else {
        r
    }
}

/// One row per finished trial, in trial-id order.
pub fn write_trials_csv(path: &Path, records: &[TrialRecord]) -> HostResult<()> {
    let header = [
        "trial_id",
        "role",
        "task",
        "arch",
        "genome",
        "metric",
        "test_metric",
        "cost_s",
        "status",
        "seed",
        "error",
    ];
    let rows = records.iter().filter_map(|r| {
        let o = r.outcome.as_ref()?;
        let s = &r.spec;
        let arch = if s.arch.is_empty() {
            genome_text(&s.genome)
        } else {
            s.arch.clone()
        };
        Some([
            s.id.to_string(),
            s.role.as_str().to_string(),
            s.task.clone(),
            arch,
            genome_text(if s.canonical.is_empty() {
                &s.genome
            } else {
                &s.canonical
            }),
            number(o.metric),
            number(o.test_metric),
            format!("{}", o.cost_s),
            o.status.as_str().to_string(),
            s.seed.to_string(),
            o.error.clone().unwrap_or_default(),
        ])
    });
    write_csv(path, &header, rows)
}

/// Best metric so far after each target evaluation (failed ones carry the previous best).
pub fn best_so_far(records: &[TrialRecord]) -> Vec<Option<f64>> {
    let mut best: Option<f64> = None;
    records
        .iter()
        .filter(|r| r.spec.role == Role::Target)
        .filter_map(|r| r.outcome.as_ref())
        .map(|o| {
            if let (Status::Ok, Some(m)) = (o.status, o.metric) {
                best = Some(best.map_or(m, |b: f64| b.max(m)));
            }
            best
        })
        .collect()
}

/// Writes `trials.csv`, `summary.json` and `best_so_far.png` into the run directory.
pub fn write_all(run_dir: &Path, records: &[TrialRecord], summary: &Summary) -> HostResult<()> {
    write_trials_csv(&run_dir.join("trials.csv"), records)?;
    write_json(&run_dir.join("summary.json"), summary)?;
    let title = format!(
        "{} — {} on {}",
        summary.experiment, summary.optimizer, summary.target
    );
    plot_best_so_far(run_dir, records, &title, summary.best_possible);
    Ok(())
}

/// The reports of a run stopped before its end: `trials.csv` and `best_so_far.png`. No
/// `summary.json`, which marks a finished run (`xnas compare` counts a run done by it).
pub fn write_partial(run_dir: &Path, records: &[TrialRecord], title: &str) -> HostResult<()> {
    write_trials_csv(&run_dir.join("trials.csv"), records)?;
    plot_best_so_far(run_dir, records, title, None);
    Ok(())
}

fn plot_best_so_far(run_dir: &Path, records: &[TrialRecord], title: &str, best: Option<f64>) {
    let curve = best_so_far(records);
    let path = run_dir.join("best_so_far.png");
    if let Err(e) = files::replace(&path, |tmp| plot::best_so_far_png(tmp, title, &curve, best)) {
        tracing::warn!("best_so_far.png not written: {e}");
    }
}
