//! The run loop: source knowledge → optimizer asks → trials persisted → executor evaluates →
//! outcomes persisted → optimizer told. Resuming replays the stored asks and tells (checking the
//! optimizer proposes the same architectures again), evaluates what was left pending, and goes on.
//!
//! This file starts and resumes runs; [`runner`] takes one through its steps: the sources
//! ([`sources`]) and their knowledge ([`knowledge`]), the replay of stored batches ([`replay`]),
//! the search ([`search`]), each on [`evaluate`] (evaluation and outcome recording), and the
//! reports ([`reports`]).

mod evaluate;
pub mod knowledge;
pub mod oneshot;
pub(crate) mod progress;
mod replay;
mod reports;
mod runner;
mod search;
pub(crate) mod sources;

pub use reports::rebuild_reports;

use crate::config::{plugin_sources, Experiment};
use crate::error::{HostError, HostResult};
use crate::inputs;
use crate::lock::DirLock;
use crate::plugins::{assemble, Registry, Source};
use crate::report;
use crate::store::Store;
use runner::Runner;
use std::path::{Path, PathBuf};

/// Options from the command line.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Overrides `[executor] workers`.
    pub workers: Option<u32>,
    /// No progress bar.
    pub quiet: bool,
    /// Extra plugin directories (searched first).
    pub plugin_dirs: Vec<PathBuf>,
    /// `resume`: go on although an input (data file, table, plugin library) changed since the
    /// run started; the change is recorded in the run.
    pub accept_changed_inputs: bool,
}

/// What a finished run reports back.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub run_dir: PathBuf,
    pub summary: report::Summary,
}

/// Seed tags of the components. Trial seeds are `derive_seed(seed, trial_id)`; components take
/// tags from the top of the u64 range, which no trial id reaches, so no seed is shared.
const OPTIMIZER_SEED_TAG: u64 = u64::MAX;
const SOURCE_SEED_TAG: u64 = u64::MAX - 1;
pub(crate) const SIMILARITY_SEED_TAG: u64 = u64::MAX - 2;

/// Plugin discovery for an experiment: CLI dirs, the file's `[plugins]`, then the defaults.
pub fn discover(exp: &Experiment, extra_dirs: &[PathBuf]) -> Registry {
    let sources: Vec<Source> = extra_dirs
        .iter()
        .cloned()
        .map(Source::Dir)
        .chain(plugin_sources(exp))
        .chain(
            crate::plugins::default_search_dirs()
                .into_iter()
                .map(Source::Dir),
        )
        .collect();
    let registry = Registry::discover(&sources);
    for f in &registry.failures {
        tracing::warn!("{f}");
    }
    registry
}

/// `xnas run`: a new run in `run_dir`. Everything that can be checked before the first trial
/// (plugins, the space, source knowledge, creating the optimizer) is checked before the
/// directory is made; a start that fails anyway removes what it made when no trial finished.
pub fn start(exp: Experiment, run_dir: &Path, opts: &RunOptions) -> HostResult<RunOutcome> {
    let registry = discover(&exp, &opts.plugin_dirs);
    let resolved = exp.resolve_plugins(&registry)?;
    let space = assemble::space(&exp, &resolved.space)?;
    // Missing source runs or files, bad rows and the target's data are refused before a run
    // directory is made (the run reads them again, for the sources it finally uses).
    knowledge::preview(&exp, &space, resolved.space.name())?;
    // A one-shot optimizer is created (its supernet built) before anything is written; an
    // ask/tell optimizer is created once to check it, then dropped.
    let mut one_shot = oneshot::prepare(&exp, &resolved, &space)?;
    if let Some(p) = one_shot.as_mut() {
        p.embedding = oneshot::embedding::of_target(&exp, &resolved, &space, None)?;
    }
    if one_shot.is_none() {
        assemble::preflight(&exp, &resolved, &space)?;
    }
    // Fingerprints of every file the run reads, recorded in the store and inputs.json.
    let inputs = inputs::gather(&exp, &resolved, &assemble::data_dir())?;
    let inputs_json = serde_json::to_string(&inputs).unwrap_or_default();
    if run_dir.exists() && !run_dir.is_dir() {
        return Err(HostError::Usage(format!(
            "{} is a file, not a directory: give --out a directory (new or a former run's)",
            run_dir.display()
        )));
    }
    let made_dir = !run_dir.exists();
    std::fs::create_dir_all(run_dir).map_err(|e| HostError::io(run_dir, e))?;
    let _lock = DirLock::acquire(run_dir)?;
    let store_path = run_dir.join("store.sqlite");
    if store_path.exists() {
        if !Store::is_replaceable(&store_path) {
            return Err(HostError::Usage(format!(
                "{} already holds a run: continue it with `xnas resume {}` or choose another --out",
                run_dir.display(),
                run_dir.display()
            )));
        }
        // Killed while creating the store, or a start that failed before its first trial:
        // nothing to keep, start afresh.
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(run_dir.join(format!("store.sqlite{suffix}")));
        }
    }
    let dirs: Vec<String> = opts
        .plugin_dirs
        .iter()
        .map(|d| absolute(d).display().to_string())
        .collect();
    let dirs = serde_json::to_string(&dirs).unwrap_or_default();
    let (path, base) = (
        exp.path.display().to_string(),
        exp.base_dir.display().to_string(),
    );
    let store = Store::create(
        &store_path,
        &[
            ("experiment", exp.text.as_str()),
            ("experiment_path", path.as_str()),
            ("base_dir", base.as_str()),
            ("xnas_version", env!("CARGO_PKG_VERSION")),
            // Read by later runs that take this one as source knowledge.
            ("search_space", resolved.space.name()),
            ("plugin_dirs", dirs.as_str()),
            ("inputs", inputs_json.as_str()),
        ],
    )?;
    write_inputs_json(run_dir, &inputs, &[])?;
    std::fs::write(run_dir.join("experiment.toml"), &exp.text)
        .map_err(|e| HostError::io(run_dir, e))?;
    let result =
        Runner::new(exp, resolved, space, store, run_dir, opts).and_then(|runner| match one_shot {
            Some(prepared) => runner.execute_one_shot(prepared),
            None => runner.execute(),
        });
    match result {
        Err(e) if !matches!(e, HostError::Stopped { .. }) => {
            Err(failed_start(run_dir, made_dir, e))
        }
        other => other,
    }
}

/// A run that ended in an error: with no finished trial, what the start made is removed (the
/// directory, if it made it) so that the same `xnas run` can simply be repeated; otherwise the
/// message says the directory keeps its trials and how to go on.
fn failed_start(run_dir: &Path, made_dir: bool, error: HostError) -> HostError {
    let store_path = run_dir.join("store.sqlite");
    let finished = Store::open(&store_path)
        .and_then(|s| s.trials())
        .map(|t| t.iter().filter(|r| r.outcome.is_some()).count());
    let note = match finished {
        Ok(0) => {
            let removed = if made_dir {
                std::fs::remove_dir_all(run_dir)
            } else {
                [
                    "store.sqlite",
                    "store.sqlite-wal",
                    "store.sqlite-shm",
                    "experiment.toml",
                ]
                .iter()
                .map(|f| run_dir.join(f))
                .filter(|f| f.exists())
                .try_for_each(std::fs::remove_file)
            };
            match removed {
                Ok(()) => format!(
                    "no trial had finished, so the run was not kept ({} {}): fix the cause and run the same command again",
                    run_dir.display(),
                    if made_dir { "was removed" } else { "was emptied" }
                ),
                Err(e) => format!(
                    "no trial had finished, but {} could not be removed ({e}): delete it, fix the cause and run again",
                    run_dir.display()
                ),
            }
        }
        Ok(n) => format!(
            "{} keeps its {n} finished trial{}: fix the cause, then continue with `xnas resume {}`",
            run_dir.display(),
            if n == 1 { "" } else { "s" },
            run_dir.display()
        ),
        Err(_) => return error,
    };
    HostError::Noted {
        error: Box::new(error),
        note,
    }
}

/// `xnas resume`: continues the run in `run_dir`.
pub fn resume(run_dir: &Path, opts: &RunOptions) -> HostResult<RunOutcome> {
    is_run(run_dir)?;
    let _lock = DirLock::acquire(run_dir)?;
    let store = open_run(run_dir)?;
    let missing = |k: &str| HostError::Store {
        path: store.path().to_path_buf(),
        message: format!("missing `{k}`: the run was not started by this xnas"),
    };
    let text = store
        .meta("experiment")?
        .ok_or_else(|| missing("experiment"))?;
    let base_dir = PathBuf::from(store.meta("base_dir")?.ok_or_else(|| missing("base_dir"))?);
    let exp = Experiment::parse(text, run_dir.join("experiment.toml"), base_dir)?;
    let mut opts = opts.clone();
    opts.plugin_dirs.extend(stored_plugin_dirs(&store)?);

    let registry = discover(&exp, &opts.plugin_dirs);
    let resolved = exp.resolve_plugins(&registry)?;
    let space = assemble::space(&exp, &resolved.space)?;
    check_inputs(&exp, &resolved, &store, run_dir, opts.accept_changed_inputs)?;
    let ranked = oneshot::rank::stored(&store)?;
    let mut one_shot = oneshot::prepare_ranked(&exp, &resolved, &space, ranked)?;
    if let Some(p) = one_shot.as_mut() {
        p.embedding = oneshot::embedding::of_target(&exp, &resolved, &space, Some(run_dir))?;
    }
    let runner = Runner::new(exp, resolved, space, store, run_dir, &opts)?;
    match one_shot {
        Some(prepared) => runner.execute_one_shot(prepared),
        None => runner.execute(),
    }
}

/// `xnas export RUN_DIR FILE`: the run's store, WAL included, as one self-contained file.
pub fn export(run_dir: &Path, to: &Path) -> HostResult<usize> {
    is_run(run_dir)?;
    if to.exists() {
        return Err(HostError::Usage(format!(
            "{} exists: give `xnas export` a new file name",
            to.display()
        )));
    }
    let store = open_run(run_dir)?;
    store.export(to)?;
    // The copy must read back whole.
    let copy = Store::open_read_only(to)?;
    Ok(copy.trials()?.len())
}

/// Refuses to resume a run whose inputs changed since it started, unless `accept`: then the
/// changes are recorded (`accepted_input_changes`) and the new fingerprints replace the old.
/// A run started before fingerprints were kept gets them now.
fn check_inputs(
    exp: &Experiment,
    resolved: &crate::config::validate::Resolved,
    store: &Store,
    run_dir: &Path,
    accept: bool,
) -> HostResult<()> {
    let now = inputs::gather(exp, resolved, &assemble::data_dir())?;
    let recorded: Option<Vec<inputs::Input>> = match store.meta("inputs")? {
        None => None,
        Some(text) => Some(serde_json::from_str(&text).map_err(|e| HostError::Damaged {
            path: store.path().to_path_buf(),
            message: format!("meta `inputs` is not a list of fingerprints ({e})"),
        })?),
    };
    let mut accepted: Vec<inputs::Accepted> = match store.meta("accepted_input_changes")? {
        None => Vec::new(),
        Some(text) => serde_json::from_str(&text).map_err(|e| HostError::Damaged {
            path: store.path().to_path_buf(),
            message: format!("meta `accepted_input_changes` is not a list of changes ({e})"),
        })?,
    };
    let changes = recorded
        .as_deref()
        .map_or_else(Vec::new, |r| inputs::changes(r, &now));
    if !changes.is_empty() {
        if !accept {
            return Err(inputs::refusal(run_dir, &changes));
        }
        for c in &changes {
            tracing::warn!("accepted a changed input: {c}");
        }
        accepted.push(inputs::Accepted {
            at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            changes,
        });
        store.set_meta(
            "accepted_input_changes",
            &serde_json::to_string(&accepted).unwrap_or_default(),
        )?;
    }
    if recorded.as_ref() != Some(&now) {
        store.set_meta("inputs", &serde_json::to_string(&now).unwrap_or_default())?;
    }
    write_inputs_json(run_dir, &now, &accepted)
}

/// `inputs.json`: what the run reads, with each file's SHA-256, and the changes accepted on resume.
fn write_inputs_json(
    run_dir: &Path,
    now: &[inputs::Input],
    accepted: &[inputs::Accepted],
) -> HostResult<()> {
    report::write_json(
        &run_dir.join("inputs.json"),
        &serde_json::json!({ "inputs": now, "accepted_changes": accepted }),
    )
}

/// The experiment a run was started with (its paths resolved as the run resolves them) and the
/// plugin directories it used, for commands that reuse a run's settings (`xnas train RUN_DIR`).
pub fn stored_experiment(run_dir: &Path) -> HostResult<(Experiment, Vec<PathBuf>)> {
    let store = open_run(run_dir)?;
    let text = store.meta("experiment")?.ok_or_else(|| HostError::Store {
        path: store.path().to_path_buf(),
        message: "missing `experiment`: the run was not started by this xnas".into(),
    })?;
    let base_dir = PathBuf::from(store.meta("base_dir")?.unwrap_or_else(|| ".".into()));
    let exp = Experiment::parse(text, run_dir.join("experiment.toml"), base_dir)?;
    Ok((exp, stored_plugin_dirs(&store)?))
}

/// A directory without a store is not a run: bad input.
fn is_run(run_dir: &Path) -> HostResult<()> {
    if run_dir.join("store.sqlite").exists() {
        return Ok(());
    }
    Err(HostError::Usage(format!(
        "{} is not a run directory (it has no store.sqlite): give the --out directory of `xnas run`",
        run_dir.display()
    )))
}

/// Opens a run directory's store; a directory without one is bad input.
fn open_run(run_dir: &Path) -> HostResult<Store> {
    is_run(run_dir)?;
    Store::open(&run_dir.join("store.sqlite"))
}

/// The plugin directories a run was started with (so resume and report find the same plugins).
fn stored_plugin_dirs(store: &Store) -> HostResult<Vec<PathBuf>> {
    let Some(text) = store.meta("plugin_dirs")? else {
        return Ok(Vec::new());
    };
    let dirs: Vec<String> = serde_json::from_str(&text).map_err(|e| HostError::Damaged {
        path: store.path().to_path_buf(),
        message: format!("meta `plugin_dirs` = `{text}` is not a JSON list of directories ({e})"),
    })?;
    Ok(dirs.into_iter().map(PathBuf::from).collect())
}

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}
