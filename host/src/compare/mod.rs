//! `xnas compare`: plain and transfer variants side by side.
//!
//! A comparison file ([`plan`]) expands to one ordinary experiment per (target, variant, seed).
//! Each runs as its own `xnas run` process (a crash or a libtorch abort in one run leaves the
//! others alone; runs are deterministic, so the number of parallel jobs changes nothing), in
//! `DIR/runs/<target>/<variant>/seed-<n>`. Finished runs are never repeated: running the same
//! command again resumes an interrupted comparison. The statistics ([`summary`]) and plots
//! ([`plot`]) are rebuilt from the run directories, so `xnas report DIR` can redo them.
//! A stop signal reaches every running run ([`crate::stop::run_child`]), which stops cleanly;
//! no further run starts, and the summary covers the finished ones. With `[executor] kind =
//! "slurm"`, runs are Slurm jobs instead of processes here ([`slurm`]).

pub mod plan;
pub mod plot;
mod slurm;
pub mod summary;

use crate::config::Experiment;
use crate::error::{HostError, HostResult};
use crate::plugins::assemble;
use crate::pool::{Flow, Pool};
use crate::store::Store;
use plan::{Plan, PlannedRun};
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The copy of the comparison file kept in the comparison directory.
pub const COMPARE_FILE: &str = "compare.toml";

#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// Overrides `[compare] jobs`.
    pub jobs: Option<usize>,
    pub quiet: bool,
    /// Extra plugin directories, passed on to every run.
    pub plugin_dirs: Vec<PathBuf>,
    /// The `xnas` executable that runs each experiment.
    pub exe: PathBuf,
    /// Passed on to every run resumed (`xnas resume --accept-changed-inputs`).
    pub accept_changed_inputs: bool,
}

#[derive(Debug)]
pub struct CompareOutcome {
    pub dir: PathBuf,
    /// Runs done now and runs found done from an earlier invocation.
    pub ran: usize,
    pub reused: usize,
    pub report: summary::Written,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunState {
    Done,
    Partial,
    New,
}

fn state(dir: &Path) -> RunState {
    let store = dir.join("store.sqlite");
    if dir.join("summary.json").exists() {
        RunState::Done
    } else if crate::executor::slurm::job::script_file(dir).exists() {
        // Submitted as a Slurm job, whose node may be writing the store now: not opened here.
        RunState::Partial
    } else if store.exists() && !Store::is_empty_shell(&store) {
        RunState::Partial
    } else {
        RunState::New
    }
}

/// Checks every run's experiment against the plugins before anything runs, so a typo in the
/// third variant does not surface an hour in.
fn validate(plan: &Plan, out: &Path, plugin_dirs: &[PathBuf]) -> HostResult<()> {
    let mut registry = None;
    let mut previewed = std::collections::BTreeSet::new();
    let mut previewed_variants = std::collections::BTreeSet::new();
    for r in &plan.runs {
        let path = out.join(r.file());
        let exp = Experiment::parse(r.experiment.clone(), path.clone(), out.to_path_buf())
            .map_err(|e| in_variant(r, e))?;
        let registry = registry.get_or_insert_with(|| crate::run::discover(&exp, plugin_dirs));
        let resolved = exp
            .resolve_plugins(registry)
            .map_err(|e| in_variant(r, e))?;
        if previewed.is_empty() {
            check_pool(plan, &exp, &resolved)?;
        }
        // Source knowledge from files and runs depends on the target only.
        if previewed.insert(r.target.clone()) {
            let space = assemble::space(&exp, &resolved.space).map_err(|e| in_variant(r, e))?;
            crate::run::knowledge::preview(&exp, &space, resolved.space.name())
                .map_err(|e| in_variant(r, e))?;
        }
        // Each variant's optimizer against the space (nao's `fold`, a `device`, a panic).
        if previewed_variants.insert(r.variant.clone()) {
            let space = assemble::space(&exp, &resolved.space).map_err(|e| in_variant(r, e))?;
            if Experiment::is_one_shot(&resolved.optimizer) {
                // Its supernet layout and the optimizer (which builds its first supernet).
                crate::run::oneshot::prepare(&exp, &resolved, &space)
                    .map_err(|e| in_variant(r, e))?;
            } else {
                assemble::preflight(&exp, &resolved, &space).map_err(|e| in_variant(r, e))?;
            }
        }
    }
    Ok(())
}

/// Each task of a leave-one-out pool alone against the search space, so that a task the space
/// does not know is blamed on itself and the pool, not on the first target (whose sources
/// include it).
fn check_pool(
    plan: &Plan,
    exp: &Experiment,
    resolved: &crate::config::validate::Resolved,
) -> HostResult<()> {
    if !matches!(&plan.section.targets, plan::Targets::Mode(_)) {
        return Ok(());
    }
    let params = crate::config::params_text(exp.file.search_space.params.as_ref());
    for t in &plan.section.tasks {
        let one = [t.clone()];
        if let Err(e) = assemble::space_with(&resolved.space, &params, &one, &exp.base_dir) {
            if e.kind == xnas_core::ErrorKind::UNKNOWN_TASK {
                return Err(HostError::Usage(format!(
                    "[compare] tasks: `{t}` of the leave-one-out pool is not a task of search \
                     space `{}` ({}); remove it from `tasks` or fix its name",
                    resolved.space.name(),
                    e.message()
                )));
            }
        }
    }
    Ok(())
}

/// `xnas validate` of a comparison file: every planned run's experiment against the plugins, as
/// `xnas compare` checks them before the first run, without writing anything.
pub fn check(file: &Path, plugin_dirs: &[PathBuf]) -> HostResult<Plan> {
    let plan = plan::load(file)?;
    // The runs' experiment files are not written: errors name the comparison file.
    validate(&plan, &crate::config::folder_of(file), plugin_dirs)
        .map_err(|e| e.in_file(file, ""))?;
    Ok(plan)
}

fn in_variant(r: &PlannedRun, e: HostError) -> HostError {
    let context = format!("variant `{}`, target {}: ", r.variant, r.target);
    match e {
        HostError::Config {
            file,
            line,
            column,
            message,
        } => HostError::Config {
            file,
            line,
            column,
            message: context + &message,
        },
        HostError::ConfigFile { file, message } => HostError::ConfigFile {
            file,
            message: context + &message,
        },
        HostError::Usage(m) => HostError::Usage(context + &m),
        other => HostError::ConfigFile {
            file: r.file().display().to_string(),
            message: context + &other.to_string(),
        },
    }
}

/// `xnas compare FILE --out DIR`.
pub fn compare(file: &Path, out: &Path, opts: &CompareOptions) -> HostResult<CompareOutcome> {
    let plan = plan::load(file)?;
    let text = std::fs::read_to_string(file).map_err(|e| HostError::io(file, e))?;
    std::fs::create_dir_all(out).map_err(|e| HostError::io(out, e))?;
    let _lock = crate::lock::DirLock::acquire(out)?;
    // An earlier comparison in `out` may be continued or extended (more seeds, more variants),
    // but a run whose experiment would change is refused: its results would be mixed.
    for r in &plan.runs {
        let f = out.join(r.file());
        if let Ok(old) = std::fs::read_to_string(&f) {
            if old != r.experiment && state(&out.join(&r.dir)) != RunState::New {
                return Err(HostError::Usage(format!(
                    "{} holds a comparison made from a different file: run {} would change ({}). \
                     Use another --out, or delete that directory to start over",
                    out.display(),
                    r.dir.display(),
                    f.display()
                )));
            }
        }
    }
    for r in &plan.runs {
        let f = out.join(r.file());
        if let Some(parent) = f.parent() {
            std::fs::create_dir_all(parent).map_err(|e| HostError::io(parent, e))?;
        }
        std::fs::write(&f, &r.experiment).map_err(|e| HostError::io(&f, e))?;
    }
    validate(&plan, out, &opts.plugin_dirs)?;
    let copy = out.join(COMPARE_FILE);
    std::fs::write(&copy, &text).map_err(|e| HostError::io(&copy, e))?;

    let todo: Vec<&PlannedRun> = plan
        .runs
        .iter()
        .filter(|r| state(&out.join(&r.dir)) != RunState::Done)
        .collect();
    let reused = plan.runs.len() - todo.len();
    let jobs = opts
        .jobs
        .or(plan.section.jobs)
        .unwrap_or_else(|| {
            let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
            (cpus / plan.workers as usize).max(1)
        })
        .max(1);
    tracing::info!(
        "{}: {} runs ({} already done), {jobs} at a time",
        plan.name,
        plan.runs.len(),
        reused
    );
    let (on_slurm, here) = slurm::split(&todo, out, plan.section.slurm_jobs, &opts.plugin_dirs)?;
    // The cluster queues every run's job unless `jobs` says otherwise.
    let in_flight = opts.jobs.or(plan.section.jobs).unwrap_or(usize::MAX).max(1);
    let as_jobs = on_slurm.len();
    let failures = std::thread::scope(|scope| {
        let waiting = (!on_slurm.is_empty()).then(|| {
            let bar = crate::run::progress::count_bar(opts.quiet, on_slurm.len(), "slurm", "runs");
            scope.spawn(move || {
                let failures = slurm::execute(on_slurm, out, in_flight, opts, || bar.inc(1));
                bar.finish_and_clear();
                failures
            })
        });
        let mut failures = if here.is_empty() {
            Vec::new()
        } else {
            execute(&here, out, jobs, opts)
        };
        if let Some(handle) = waiting {
            failures.extend(handle.join().expect("the Slurm wait does not panic"));
        }
        failures
    });
    let report = summary::write(out, &plan)?;
    if let Some(signal) = crate::stop::requested() {
        // Counted from the run directories: runs the stop kept from starting are no failures.
        let done = plan
            .runs
            .iter()
            .filter(|r| state(&out.join(&r.dir)) == RunState::Done)
            .count();
        let jobs = match as_jobs {
            0 => String::new(),
            _ => " (the Slurm jobs of unfinished runs go on; it follows them)".to_string(),
        };
        return Err(HostError::Stopped {
            signal,
            message: format!(
                "{done} of {} runs finished (the summary covers them), the others keep what they \
                 did; continue with `xnas compare {} --out {}`{jobs}",
                plan.runs.len(),
                file.display(),
                out.display()
            ),
        });
    }
    if !failures.is_empty() {
        let list: Vec<String> = failures.iter().take(5).map(|f| f.to_string()).collect();
        return Err(HostError::Run(format!(
            "{} of {} runs did not finish:\n  {}{}\nThe summary covers the finished runs. Run the same `xnas compare` again to retry the others.",
            failures.len(),
            plan.runs.len(),
            list.join("\n  "),
            if failures.len() > 5 { "\n  …" } else { "" }
        )));
    }
    Ok(CompareOutcome {
        dir: out.to_path_buf(),
        ran: todo.len(),
        reused,
        report,
    })
}

/// A run that did not finish, with the tail of its log.
struct Failure {
    dir: PathBuf,
    log: PathBuf,
    reason: String,
}

impl Failure {
    fn of(r: &PlannedRun, out: &Path, reason: String) -> Failure {
        let dir = out.join(&r.dir);
        Failure {
            log: dir.with_extension("log"),
            dir,
            reason,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} (log: {})",
            self.dir.display(),
            self.reason,
            self.log.display()
        )
    }
}

/// Runs `todo`, `jobs` processes at a time. Bad input (exit 2) stops new runs from starting:
/// every other run would fail the same way.
fn execute(todo: &[&PlannedRun], out: &Path, jobs: usize, opts: &CompareOptions) -> Vec<Failure> {
    let bar = crate::run::progress::count_bar(opts.quiet, todo.len(), "compare", "runs");
    let runs: Vec<PlannedRun> = todo.iter().map(|r| (*r).clone()).collect();
    let (dir, options, started) = (out.to_path_buf(), opts.clone(), bar.clone());
    let mut pool = Pool::new(
        "xnas-compare",
        jobs.min(todo.len()),
        move |r: PlannedRun| {
            started.set_message(format!("{} {} seed {}", r.target, r.variant, r.seed));
            run_one(&r, &dir, &options)
        },
    );
    let mut failures = Vec::new();
    let handled = pool.run(runs.clone(), |i, result| {
        let mut flow = Flow::Continue;
        if let Err(f) =
            result.unwrap_or_else(|panicked| Err(Failure::of(&runs[i], out, panicked.to_string())))
        {
            if f.reason.starts_with("bad input") {
                flow = Flow::Stop;
            }
            if crate::stop::requested().is_none() {
                bar.suspend(|| eprintln!("error: {f}"));
            }
            failures.push(f);
        }
        if crate::stop::requested().is_some() {
            flow = Flow::Stop;
        }
        bar.inc(1);
        Ok::<_, Infallible>(flow)
    });
    let Ok(()) = handled;
    bar.finish_and_clear();
    failures
}

fn run_one(r: &PlannedRun, out: &Path, opts: &CompareOptions) -> Result<(), Failure> {
    let dir = out.join(&r.dir);
    let fail = |reason: String| Failure::of(r, out, reason);
    let log = dir.with_extension("log");
    let mut cmd = Command::new(&opts.exe);
    for d in &opts.plugin_dirs {
        cmd.arg("--plugin-dir").arg(d);
    }
    cmd.arg("--quiet");
    match state(&dir) {
        RunState::Partial => {
            cmd.arg("resume").arg(&dir);
            if opts.accept_changed_inputs {
                cmd.arg("--accept-changed-inputs");
            }
            &mut cmd
        }
        _ => cmd
            .arg("run")
            .arg(out.join(r.file()))
            .arg("--out")
            .arg(&dir),
    };
    let log_file = std::fs::File::create(&log)
        .map_err(|e| fail(format!("cannot write {}: {e}", log.display())))?;
    if let Some(signal) = crate::stop::requested() {
        return Err(fail(format!("not started: stopped by {signal}")));
    }
    let status = crate::stop::run_child(cmd.stdout(Stdio::null()).stderr(log_file))
        .map_err(|e| fail(format!("cannot start {}: {e}", opts.exe.display())))?;
    let tail = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .rev()
            .find(|l| l.starts_with("error"))
            .unwrap_or("no error message")
            .to_string()
    };
    match status.code() {
        // 1: the run finished with failed trials, which the summary counts.
        Some(0) | Some(1) if dir.join("summary.json").exists() => Ok(()),
        Some(2) => Err(fail(format!("bad input: {}", tail()))),
        Some(c) if crate::stop::Signal::from_exit_code(c).is_some() => {
            let signal = crate::stop::Signal::from_exit_code(c).expect("checked");
            Err(fail(format!("stopped by {signal}; it resumes")))
        }
        Some(c) => Err(fail(format!("exit {c}: {}", tail()))),
        None => Err(fail(format!("killed by a signal ({status})"))),
    }
}

/// `xnas report DIR` for a comparison directory.
pub fn is_comparison(dir: &Path) -> bool {
    dir.join(COMPARE_FILE).exists()
}

/// Rebuilds the comparison's tables and plots from its run directories.
pub fn report(dir: &Path) -> HostResult<summary::Written> {
    let file = dir.join(COMPARE_FILE);
    let text = std::fs::read_to_string(&file).map_err(|e| HostError::io(&file, e))?;
    let plan = plan::parse(&text, &file, dir)?;
    summary::write(dir, &plan)
}
