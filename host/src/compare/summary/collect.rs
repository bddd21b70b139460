//! The finished runs of a comparison: each run's best-so-far curve from its store, and what its
//! `summary.json` says (the benchmark's best metric, the wall time).

use crate::compare::plan::Plan;
use crate::error::{HostError, HostResult};
use crate::report::{self, best_so_far};
use crate::store::{Role, Status, Store, TrialRecord};
use std::path::{Path, PathBuf};

/// One finished run's curve.
#[derive(Debug, Clone)]
pub struct RunCurve {
    pub target: String,
    pub variant: String,
    pub seed: u64,
    /// Best metric after each target evaluation (None before the first success).
    pub best: Vec<Option<f64>>,
    /// The lowest metric of a successful target evaluation (one end of the observed range).
    pub worst: Option<f64>,
    pub best_possible: Option<f64>,
    pub wall_seconds: f64,
    /// Seconds spent when each target evaluation finished (see `seconds`).
    pub seconds: Vec<f64>,
    /// A one-shot run (its summary has a search section).
    pub one_shot: bool,
}

impl RunCurve {
    /// Regret after each target evaluation against the reference metric `best`: the best metric
    /// known for the target minus the best found so far (None before the first success).
    pub fn regret(&self, best: f64) -> impl Iterator<Item = Option<f64>> + '_ {
        self.best
            .iter()
            .map(move |b| b.map(|b| report::regret(best, b)))
    }
}

/// The seconds a run had spent when each of its target evaluations finished: a one-shot run's
/// search seconds, then its evaluations one after another; an ask/tell run's evaluation seconds
/// summed in trial order and divided by its workers (they evaluate side by side).
fn seconds_spent(trials: &[TrialRecord], summary: &report::Summary) -> Vec<f64> {
    let start = summary.search.as_ref().map_or(0.0, |s| s.seconds);
    let workers = if summary.search.is_some() {
        1.0
    } else {
        f64::from(summary.workers.max(1))
    };
    let mut spent = 0.0;
    trials
        .iter()
        .filter(|r| r.spec.role == Role::Target)
        .filter_map(|r| r.outcome.as_ref())
        .map(|o| {
            spent += o.wall_s;
            start + spent / workers
        })
        .collect()
}

/// Reads every finished run of the plan; the others are listed as missing.
pub fn collect(dir: &Path, plan: &Plan) -> HostResult<(Vec<RunCurve>, Vec<PathBuf>)> {
    let mut curves = Vec::new();
    let mut missing = Vec::new();
    for r in &plan.runs {
        let run_dir = dir.join(&r.dir);
        let summary_path = run_dir.join("summary.json");
        let Ok(text) = std::fs::read_to_string(&summary_path) else {
            missing.push(r.dir.clone());
            continue;
        };
        let summary: report::Summary =
            serde_json::from_str(&text).map_err(|e| HostError::Store {
                path: summary_path.clone(),
                message: format!(
                    "not a run summary ({e}); rebuild it with `xnas report {}`",
                    run_dir.display()
                ),
            })?;
        let store = Store::open_read_only(&run_dir.join("store.sqlite"))?;
        let trials = store.trials()?;
        curves.push(RunCurve {
            target: r.target.clone(),
            variant: r.variant.clone(),
            seed: r.seed,
            best: best_so_far(&trials),
            worst: trials
                .iter()
                .filter(|t| t.spec.role == Role::Target)
                .filter_map(|t| t.outcome.as_ref())
                .filter(|o| o.status == Status::Ok)
                .filter_map(|o| o.metric)
                .reduce(f64::min),
            best_possible: summary.best_possible,
            wall_seconds: summary.wall_seconds,
            seconds: seconds_spent(&trials, &summary),
            one_shot: summary.search.is_some(),
        });
    }
    Ok((curves, missing))
}
