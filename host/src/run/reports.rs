//! A run's reports (`trials.csv`, `summary.json`, `best_so_far.png`; for a one-shot run also the
//! search's figures in the summary, `alpha.csv`, `epochs.csv` and the α plots): written when the
//! run ends and rebuilt from the store by `xnas report`.

use super::runner::Runner;
use super::{discover, is_run, oneshot, open_run, stored_plugin_dirs, RunOutcome};
use crate::config::Experiment;
use crate::error::HostResult;
use crate::lock::DirLock;
use crate::plugins::assemble;
use crate::report::{self, MetaTest, SearchSummary, Summary};
use crate::store::Store;
use std::path::{Path, PathBuf};
use xnas_core::SearchSpace;

/// Summarises the stored trials and writes the reports into `run_dir`.
fn write(
    exp: &Experiment,
    store: &Store,
    run_dir: &Path,
    best_possible: Option<f64>,
    elapsed: f64,
    workers: u32,
) -> HostResult<Summary> {
    let records = store.trials()?;
    let mut summary = Summary::build(exp, &records, best_possible, elapsed, workers);
    summary.search = store.search_checkpoint()?.map(|cp| SearchSummary {
        kind: "one-shot".into(),
        seconds: cp.search_seconds,
        epochs: cp.epochs,
        ended: cp.done.unwrap_or_else(|| "interrupted".into()),
        meta_test: meta_test(run_dir),
    });
    if let Some((layout, epochs)) = oneshot::epochs::stored(store)? {
        oneshot::epochs::write_files(run_dir, &layout, &epochs, true)?;
    }
    report::write_all(run_dir, &records, &summary)?;
    Ok(summary)
}

/// The few-shot meta-test's headline, from the artifact `base` keeps (its other fields, the
/// episodes, stay in the artifact). A run without one, or an unreadable one, has none.
fn meta_test(run_dir: &Path) -> Option<MetaTest> {
    let text = std::fs::read_to_string(run_dir.join("artifacts/fewshot.json")).ok()?;
    serde_json::from_str(&text).ok()
}

impl Runner {
    pub(super) fn write_reports(&self) -> HostResult<RunOutcome> {
        let summary = write(
            &self.exp,
            &self.store,
            &self.run_dir,
            self.space.best_metric(&self.target),
            self.elapsed(),
            self.workers,
        )?;
        Ok(RunOutcome {
            run_dir: self.run_dir.clone(),
            summary,
        })
    }
}

/// `xnas report`: rebuilds the run directory's reports from its store.
pub fn rebuild_reports(run_dir: &Path, plugin_dirs: &[PathBuf]) -> HostResult<Summary> {
    is_run(run_dir)?;
    let _lock = DirLock::acquire(run_dir)?;
    let store = open_run(run_dir)?;
    let mut plugin_dirs = plugin_dirs.to_vec();
    plugin_dirs.extend(stored_plugin_dirs(&store)?);
    let text = store.meta("experiment")?.unwrap_or_default();
    let base_dir = PathBuf::from(store.meta("base_dir")?.unwrap_or_else(|| ".".into()));
    let exp = Experiment::parse(text, run_dir.join("experiment.toml"), base_dir)?;
    let elapsed = store
        .meta_parsed::<f64>("elapsed_s", "a number of seconds")?
        .unwrap_or(0.0);
    // The best metric the benchmark knows needs the space; a missing plugin only drops the regret.
    let registry = discover(&exp, &plugin_dirs);
    let best_possible = exp
        .resolve_plugins(&registry)
        .ok()
        .and_then(|r| assemble::space(&exp, &r.space).ok())
        .and_then(|s| s.best_metric(exp.file.tasks.target.get_ref()));
    let workers = store
        .meta_parsed::<u32>("workers", "a number of workers")?
        .unwrap_or(*exp.file.executor.workers.get_ref());
    write(&exp, &store, run_dir, best_possible, elapsed, workers)
}
