//! The run loop: source knowledge → optimizer asks → trials persisted → executor evaluates →
//! outcomes persisted → optimizer told. Resuming replays the stored asks and tells (checking the
//! optimizer proposes the same architectures again), evaluates what was left pending, and goes on.

pub mod knowledge;
pub(crate) mod progress;
pub(crate) mod sources;

use crate::config::validate::Resolved;
use crate::config::Experiment;
use crate::error::{HostError, HostResult};
use crate::executor::{Finished, LocalPool};
use crate::plugins::{assemble, Registry, Source};
use crate::report;
use crate::store::{genome_text, Outcome, Role, Status, Store, TrialRecord, TrialSpec};
use progress::Progress;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use xnas_core::abi_stable::std_types::RVec;
use xnas_core::*;

/// Options from the command line.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Overrides `[executor] workers`.
    pub workers: Option<u32>,
    /// No progress bar.
    pub quiet: bool,
    /// Extra plugin directories (searched first).
    pub plugin_dirs: Vec<PathBuf>,
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
    let p = &exp.file.plugins;
    let sources: Vec<Source> = extra_dirs
        .iter()
        .cloned()
        .map(Source::Dir)
        .chain(
            p.files
                .iter()
                .map(|f| Source::File(exp.resolve_path(f.get_ref()))),
        )
        .chain(
            p.dirs
                .iter()
                .map(|d| Source::Dir(exp.resolve_path(d.get_ref()))),
        )
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

/// `xnas run`: a new run in `run_dir`.
pub fn start(exp: Experiment, run_dir: &Path, opts: &RunOptions) -> HostResult<RunOutcome> {
    let registry = discover(&exp, &opts.plugin_dirs);
    let resolved = exp.resolve_plugins(&registry)?;
    let space = assemble::space(&exp, &resolved.space)?;
    // Missing source runs or files, bad rows and the target's data are refused before a run
    // directory is made (the run reads them again, for the sources it finally uses).
    knowledge::preview(&exp, &space, resolved.space.name())?;
    let store_path = run_dir.join("store.sqlite");
    if store_path.exists() {
        if !Store::is_empty_shell(&store_path) {
            return Err(HostError::Usage(format!(
                "{} already holds a run: continue it with `xnas resume {}` or choose another --out",
                run_dir.display(),
                run_dir.display()
            )));
        }
        // Killed while creating the store, before anything was committed: start afresh.
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(run_dir.join(format!("store.sqlite{suffix}")));
        }
    }
    std::fs::create_dir_all(run_dir).map_err(|e| HostError::io(run_dir, e))?;
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
        ],
    )?;
    std::fs::write(run_dir.join("experiment.toml"), &exp.text)
        .map_err(|e| HostError::io(run_dir, e))?;
    Runner::new(exp, resolved, space, store, run_dir, opts)?.execute()
}

/// `xnas resume`: continues the run in `run_dir`.
pub fn resume(run_dir: &Path, opts: &RunOptions) -> HostResult<RunOutcome> {
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
    Runner::new(exp, resolved, space, store, run_dir, &opts)?.execute()
}

/// Opens a run directory's store; a directory without one is bad input.
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

fn open_run(run_dir: &Path) -> HostResult<Store> {
    let path = run_dir.join("store.sqlite");
    if !path.exists() {
        return Err(HostError::Usage(format!(
            "{} is not a run directory (it has no store.sqlite): give the --out directory of `xnas run`",
            run_dir.display()
        )));
    }
    Store::open(&path)
}

/// The plugin directories a run was started with (so resume and report find the same plugins).
fn stored_plugin_dirs(store: &Store) -> HostResult<Vec<PathBuf>> {
    Ok(store
        .meta("plugin_dirs")?
        .and_then(|d| serde_json::from_str::<Vec<String>>(&d).ok())
        .unwrap_or_default()
        .into_iter()
        .map(PathBuf::from)
        .collect())
}

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

struct Runner {
    exp: Experiment,
    resolved: Resolved,
    space: SpaceBox,
    store: Store,
    run_dir: PathBuf,
    pool: LocalPool,
    workers: u32,
    seed: u64,
    target: String,
    next_id: u64,
    quiet: bool,
    started: Instant,
    elapsed_before: f64,
    last_elapsed_write: Instant,
}

impl Runner {
    fn new(
        exp: Experiment,
        resolved: Resolved,
        space: SpaceBox,
        store: Store,
        run_dir: &Path,
        opts: &RunOptions,
    ) -> HostResult<Runner> {
        let workers = opts
            .workers
            .unwrap_or(*exp.file.executor.workers.get_ref())
            .max(1);
        store.set_meta("workers", &workers.to_string())?;
        let elapsed_before = store
            .meta("elapsed_s")?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0.0);
        Ok(Runner {
            seed: exp.file.experiment.seed,
            target: exp.file.tasks.target.get_ref().clone(),
            pool: LocalPool::new(space.clone(), workers as usize),
            exp,
            resolved,
            space,
            store,
            run_dir: run_dir.to_path_buf(),
            workers,
            next_id: 0,
            quiet: opts.quiet,
            started: Instant::now(),
            elapsed_before,
            last_elapsed_write: Instant::now(),
        })
    }

    fn elapsed(&self) -> f64 {
        self.elapsed_before + self.started.elapsed().as_secs_f64()
    }

    fn note_elapsed(&mut self, force: bool) -> HostResult<()> {
        if force || self.last_elapsed_write.elapsed().as_secs_f64() > 1.0 {
            self.store
                .set_meta("elapsed_s", &format!("{:.6}", self.elapsed()))?;
            self.last_elapsed_write = Instant::now();
        }
        Ok(())
    }

    /// Builds a trial spec: canonicalises the proposal (an invalid one is kept, marked invalid).
    fn spec(
        &mut self,
        batch: u64,
        role: Role,
        task: &str,
        genome: Vec<u32>,
        budget: Option<f64>,
    ) -> TrialSpec {
        let id = self.next_id;
        self.next_id += 1;
        let (canonical, arch, invalid) = match self.space.canonical(&genome) {
            Ok(a) => (a.genome.to_vec(), a.text.to_string(), None),
            Err(e) => (Vec::new(), String::new(), Some(e.message().to_string())),
        };
        TrialSpec {
            id,
            batch,
            role,
            task: task.to_string(),
            genome,
            canonical,
            arch,
            seed: derive_seed(self.seed, id),
            budget,
            invalid,
        }
    }

    /// Evaluates a set of trials that a run plans once (source knowledge, landmarks). `stored`
    /// are the set's trials already in the store; when there are none, `plan` makes them and they
    /// are persisted before anything is evaluated, so a resumed run finds the same set. What has
    /// no outcome yet is evaluated (quietly). Returns every trial of the set, in order, with its
    /// outcome.
    fn evaluate_planned(
        &mut self,
        stored: Vec<TrialRecord>,
        plan: impl FnOnce(&mut Self) -> HostResult<Vec<TrialSpec>>,
        progress: &Progress,
    ) -> HostResult<Vec<TrialRecord>> {
        let mut records = stored;
        if records.is_empty() {
            let specs = plan(self)?;
            if !specs.is_empty() {
                self.store.insert_pending(&specs)?;
            }
            records = specs
                .into_iter()
                .map(|spec| TrialRecord {
                    spec,
                    outcome: None,
                })
                .collect();
        }
        let pending: Vec<&TrialSpec> = records
            .iter()
            .filter(|r| r.outcome.is_none())
            .map(|r| &r.spec)
            .collect();
        let mut fresh: BTreeMap<u64, Outcome> = self
            .evaluate(&pending, &progress.quiet_clone())?
            .into_iter()
            .collect();
        warn_failed_sources(
            pending
                .iter()
                .filter_map(|s| fresh.get(&s.id).map(|o| (*s, o))),
        );
        for r in &mut records {
            if r.outcome.is_none() {
                r.outcome = fresh.remove(&r.spec.id);
            }
        }
        Ok(records)
    }

    /// Evaluates the pending trials among `specs` and records each outcome as it arrives.
    fn evaluate(
        &mut self,
        specs: &[&TrialSpec],
        progress: &Progress,
    ) -> HostResult<Vec<(u64, Outcome)>> {
        let mut outcomes = Vec::with_capacity(specs.len());
        let mut requests = Vec::new();
        let mut index_of = Vec::new();
        for s in specs {
            if let Some(reason) = &s.invalid {
                log_failed(
                    s.id,
                    s.role,
                    &format!("the space rejected the proposal: {reason}"),
                );
                let o = Outcome {
                    status: Status::Failed,
                    metric: None,
                    test_metric: None,
                    cost_s: 0.0,
                    wall_s: 0.0,
                    curve: Vec::new(),
                    extras: String::new(),
                    error: Some(format!("invalid architecture: {reason}")),
                };
                self.store.record_outcome(s.id, &o)?;
                outcomes.push((s.id, o));
                continue;
            }
            index_of.push((s.id, s.role));
            requests.push(EvalRequest {
                trial_id: s.id,
                task: s.task.as_str().into(),
                genome: RVec::from(s.canonical.clone()),
                seed: s.seed,
                budget: s.budget.into(),
            });
        }
        let store = &self.store;
        self.pool.run(
            requests,
            |Finished {
                 index,
                 result,
                 wall_s,
             }| {
                let (id, role) = index_of[index];
                let o = match result {
                    Ok(r) => {
                        let finite = r.metric.is_finite();
                        Outcome {
                            status: if finite { Status::Ok } else { Status::Failed },
                            metric: Some(r.metric).filter(|m| m.is_finite()),
                            test_metric: r.test_metric.into_option(),
                            cost_s: r.cost_seconds,
                            wall_s,
                            curve: r.curve.to_vec(),
                            extras: r.extras.to_string(),
                            error: if finite {
                                None
                            } else {
                                Some("the evaluation returned a non-finite metric".into())
                            },
                        }
                    }
                    Err(e) => Outcome {
                        status: Status::Failed,
                        metric: None,
                        test_metric: None,
                        cost_s: 0.0,
                        wall_s,
                        curve: Vec::new(),
                        extras: String::new(),
                        error: Some(format!("{}: {}", e.kind.name(), e.message())),
                    },
                };
                if let Some(err) = &o.error {
                    log_failed(id, role, err);
                }
                store.record_outcome(id, &o)?;
                progress.trial_done(&o);
                outcomes.push((id, o));
                Ok::<(), HostError>(())
            },
        )?;
        outcomes.sort_by_key(|(id, _)| *id);
        Ok(outcomes)
    }

    fn observation(spec: &TrialSpec, o: &Outcome) -> Observation {
        Observation {
            trial_id: spec.id,
            task: spec.task.as_str().into(),
            genome: RVec::from(if spec.canonical.is_empty() {
                spec.genome.clone()
            } else {
                spec.canonical.clone()
            }),
            metric: o.metric.unwrap_or(f64::NAN),
            test_metric: o.test_metric.into(),
            cost_seconds: o.cost_s,
            budget: spec.budget.into(),
            curve: RVec::from(o.curve.clone()),
            status: if o.status == Status::Ok {
                TrialStatus::OK
            } else {
                TrialStatus::FAILED
            },
        }
    }

    fn execute(mut self) -> HostResult<RunOutcome> {
        let records = self.store.trials()?;
        self.next_id = records.last().map_or(0, |r| r.spec.id + 1);
        let budget = *self.exp.file.experiment.budget.get_ref();
        let progress = Progress::new(&self.target, budget.evaluations, self.quiet);

        // 1. Source knowledge (and its ranking by similarity, recorded once): sampled, from
        //    earlier runs and from a meta-dataset file.
        let (sources, evaluated) = sources::ranked_sources(&mut self, &progress)?;
        // Landmark evaluations, if the ranking made any, are trials the knowledge step reads.
        let records = if evaluated {
            self.store.trials()?
        } else {
            records
        };
        let history = self.source_knowledge(&sources, &records, &progress)?;

        // 2. The optimizer, decorated by the transfer plugin when there is one.
        let mut optimizer = assemble::optimizer(
            &self.exp,
            &self.resolved,
            &self.space,
            &self.target,
            &sources,
            history,
            derive_seed(self.seed, OPTIMIZER_SEED_TAG),
        )?;
        let opt_name = self.exp.optimizer_name().get_ref().clone();

        // 3. Replay what the store holds for the target.
        let records = self.store.trials()?;
        let mut batches: BTreeMap<u64, Vec<TrialRecord>> = BTreeMap::new();
        for r in records.into_iter().filter(|r| r.spec.role == Role::Target) {
            batches.entry(r.spec.batch).or_default().push(r);
        }
        let mut done_evals: u64 = 0;
        let mut last_batch = 0;
        let resume_state = self.restore_state(&mut optimizer)?;
        if !batches.is_empty() {
            tracing::info!("resuming: replaying {} stored batches", batches.len());
        }
        for (batch, trials) in &batches {
            last_batch = *batch;
            let finished = trials.iter().filter(|t| t.outcome.is_some()).count() as u64;
            progress.replayed(finished);
            done_evals += trials.len() as u64;
            if resume_state.is_some_and(|b| *batch <= b) {
                continue; // covered by the restored state
            }
            // Batch 0 holds the similarity plugin's landmark evaluations: told, never asked.
            let landmarks = *batch == sources::LANDMARK_TARGET_BATCH;
            let asked = if landmarks {
                trials
                    .iter()
                    .map(|t| Proposal {
                        genome: RVec::from(t.spec.genome.clone()),
                        budget: t.spec.budget.into(),
                    })
                    .collect()
            } else {
                optimizer
                    .ask(trials.len())
                    .map_err(|e| self.resolved.optimizer.error(e))?
            };
            if asked.len() != trials.len() {
                return Err(HostError::Run(format!(
                    "cannot resume: optimizer `{opt_name}` proposed {} architectures when replaying batch {batch}, \
                     which had {}",
                    asked.len(),
                    trials.len()
                )));
            }
            for (p, t) in asked.iter().zip(trials) {
                if p.genome.as_slice() != t.spec.genome.as_slice() {
                    return Err(HostError::Run(format!(
                        "cannot resume: optimizer `{opt_name}` is not deterministic — replaying trial {} it proposed \
                         {} where the run had {}. Optimizers must be a function of their seed and what they were told",
                        t.spec.id,
                        genome_text(&p.genome),
                        genome_text(&t.spec.genome)
                    )));
                }
            }
            let pending: Vec<&TrialSpec> = trials
                .iter()
                .filter(|t| t.outcome.is_none())
                .map(|t| &t.spec)
                .collect();
            let mut fresh: BTreeMap<u64, Outcome> =
                self.evaluate(&pending, &progress)?.into_iter().collect();
            let obs: Vec<Observation> = trials
                .iter()
                .map(|t| {
                    let o = t
                        .outcome
                        .clone()
                        .or_else(|| fresh.remove(&t.spec.id))
                        .expect("every trial has an outcome");
                    Self::observation(&t.spec, &o)
                })
                .collect();
            optimizer
                .tell(&obs)
                .map_err(|e| self.resolved.optimizer.error(e))?;
        }

        // 4. Search until the budget is spent.
        let batch_size = *self.exp.file.experiment.batch_size.get_ref() as u64;
        let mut has_state = self.resolved.optimizer.info.has(capability::STATE);
        loop {
            let remaining = budget
                .evaluations
                .map_or(batch_size, |e| e.saturating_sub(done_evals));
            if remaining == 0 || budget.seconds.is_some_and(|s| self.elapsed() >= s) {
                break;
            }
            let n = remaining.min(batch_size) as usize;
            let proposals = optimizer
                .ask(n)
                .map_err(|e| self.resolved.optimizer.error(e))?;
            if proposals.is_empty() {
                tracing::warn!("optimizer `{opt_name}` proposed nothing: stopping early");
                break;
            }
            if proposals.len() > n {
                return Err(self.resolved.optimizer.error(PluginError::other(format!(
                    "asked for {n} architectures, it proposed {}",
                    proposals.len()
                ))));
            }
            let batch = last_batch + 1;
            last_batch = batch;
            let target = self.target.clone();
            let specs: Vec<TrialSpec> = proposals
                .into_iter()
                .map(|p| {
                    self.spec(
                        batch,
                        Role::Target,
                        &target,
                        p.genome.to_vec(),
                        p.budget.into_option(),
                    )
                })
                .collect();
            self.store.insert_pending(&specs)?;
            let outcomes = self.evaluate(&specs.iter().collect::<Vec<_>>(), &progress)?;
            let obs: Vec<Observation> = specs
                .iter()
                .zip(&outcomes)
                .map(|(s, (_, o))| Self::observation(s, o))
                .collect();
            optimizer
                .tell(&obs)
                .map_err(|e| self.resolved.optimizer.error(e))?;
            if has_state {
                match optimizer.save_state() {
                    Ok(state) => self.store.save_optimizer_state(batch, &state)?,
                    // A decorator around a stateful optimizer may not save state: resume replays.
                    Err(e) if e.kind == ErrorKind::UNSUPPORTED => {
                        tracing::info!("optimizer state is not saved ({e}); resume will replay");
                        has_state = false;
                    }
                    Err(e) => return Err(self.resolved.optimizer.error(e)),
                }
            }
            done_evals += specs.len() as u64;
            self.note_elapsed(false)?;
        }
        self.note_elapsed(true)?;
        progress.finish();

        // 5. Reports.
        let records = self.store.trials()?;
        let summary = report::Summary::build(
            &self.exp,
            &records,
            self.space.best_metric(&self.target),
            self.elapsed(),
            self.workers,
        );
        report::write_all(&self.run_dir, &records, &summary)?;
        Ok(RunOutcome {
            run_dir: self.run_dir.clone(),
            summary,
        })
    }

    /// Loads the optimizer's saved state when it has one; returns the batch it covers.
    fn restore_state(&self, optimizer: &mut OptimizerBox) -> HostResult<Option<u64>> {
        if !self.resolved.optimizer.info.has(capability::STATE) {
            return Ok(None);
        }
        match self.store.optimizer_state()? {
            Some((batch, state)) => {
                optimizer
                    .load_state(&state)
                    .map_err(|e| self.resolved.optimizer.error(e))?;
                Ok(Some(batch))
            }
            None => Ok(None),
        }
    }
}

/// `xnas report`: rebuilds the run directory's reports from its store.
pub fn rebuild_reports(run_dir: &Path, plugin_dirs: &[PathBuf]) -> HostResult<report::Summary> {
    let store = open_run(run_dir)?;
    let mut plugin_dirs = plugin_dirs.to_vec();
    plugin_dirs.extend(stored_plugin_dirs(&store)?);
    let text = store.meta("experiment")?.unwrap_or_default();
    let base_dir = PathBuf::from(store.meta("base_dir")?.unwrap_or_else(|| ".".into()));
    let exp = Experiment::parse(text, run_dir.join("experiment.toml"), base_dir)?;
    let records = store.trials()?;
    let elapsed = store
        .meta("elapsed_s")?
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0);
    // The best metric the benchmark knows needs the space; a missing plugin only drops the regret.
    let registry = discover(&exp, &plugin_dirs);
    let best_possible = exp
        .resolve_plugins(&registry)
        .ok()
        .and_then(|r| assemble::space(&exp, &r.space).ok())
        .and_then(|s| s.best_metric(exp.file.tasks.target.get_ref()));
    let workers = store
        .meta("workers")?
        .and_then(|w| w.parse().ok())
        .unwrap_or(*exp.file.executor.workers.get_ref());
    let summary = report::Summary::build(&exp, &records, best_possible, elapsed, workers);
    report::write_all(run_dir, &records, &summary)?;
    Ok(summary)
}

/// A failed trial's line: a warning for the target's; a source trial's at debug level, because
/// `warn_failed_sources` sums those up per task (rejected proposals and failed evaluations alike).
fn log_failed(id: u64, role: Role, err: &str) {
    match role {
        Role::Target => tracing::warn!("trial {id} failed: {err}"),
        Role::Source => tracing::debug!("trial {id} failed: {err}"),
    }
}

/// A source task's trials among those just evaluated.
#[derive(Default)]
struct SourceFailures<'a> {
    evaluated: usize,
    /// Trial id and error of each failed one.
    failed: Vec<(u64, &'a str)>,
}

/// One warning per source task for the failures among trials just evaluated: the count and the
/// first error (`evaluate` logs each at debug level). A source sample outside a task's table is
/// expected (proteins among large tables), and one line per trial would bury the run's log.
fn warn_failed_sources<'a>(evaluated: impl Iterator<Item = (&'a TrialSpec, &'a Outcome)>) {
    let mut by_task: BTreeMap<&str, SourceFailures> = BTreeMap::new();
    for (spec, o) in evaluated.filter(|(spec, _)| spec.role == Role::Source) {
        let task = by_task.entry(spec.task.as_str()).or_default();
        task.evaluated += 1;
        if let Some(err) = &o.error {
            task.failed.push((spec.id, err.as_str()));
        }
    }
    for (task, f) in by_task {
        if let Some((id, err)) = f.failed.first() {
            tracing::warn!(
                "{} of {} source trials on `{task}` failed and are left out of the source \
                 knowledge (`xnas -vv` lists each); the first, trial {id}: {err}",
                f.failed.len(),
                f.evaluated
            );
        }
    }
}
