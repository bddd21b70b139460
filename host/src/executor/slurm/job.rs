//! A one-shot search on Slurm (docs/cluster.md): the whole run is ONE job, since a supernet
//! search is one long training, not a batch of trials. `xnas run` (or `xnas resume`) of such a
//! run on a login node submits `slurm/oneshot.sh` and returns; in the job, the same command
//! runs the search here. The job is submitted with `--requeue` and `--signal=B:USR1@120`: on
//! that signal, sent before the time limit, the script stops the search with SIGTERM (the run
//! keeps its last epoch's checkpoint, `crate::run::oneshot`) and requeues the job, which then
//! continues with `xnas resume`. A preemption or `scontrol requeue` stops the search with
//! SIGTERM the same way and Slurm requeues the job itself.

use super::cli;
use super::layout::{self, RunFile};
use crate::config::{ExecutorKind, Experiment};
use crate::error::{HostError, HostResult};
use std::path::{Path, PathBuf};

/// Seconds before the time limit at which Slurm signals the job (`sbatch_args` may give another
/// `--signal`): long enough to finish a step and exit.
const SIGNAL_SECONDS: u32 = 120;

/// The script of a run's one job.
pub fn script_file(run_dir: &Path) -> PathBuf {
    layout::slurm_dir(run_dir).join("oneshot.sh")
}

/// Whether this process runs inside the run's own job (Slurm names it after the run).
pub fn inside(run_dir: &Path) -> bool {
    let Ok(name) = std::env::var("SLURM_JOB_NAME") else {
        return false;
    };
    layout::run_id(run_dir)
        .ok()
        .flatten()
        .is_some_and(|id| name == layout::job_name(&id))
}

/// `xnas run FILE --out RUN_DIR` of an experiment with a one-shot optimizer and
/// `[executor] kind = "slurm"`, outside the run's job: submits the run as one job and returns
/// what to tell the user. `None`: the run goes on in this process (another executor or
/// optimizer kind, or this is the job).
pub fn submit_run(
    exp: &Experiment,
    run_dir: &Path,
    plugin_dirs: &[PathBuf],
) -> HostResult<Option<String>> {
    if exp.file.executor.kind != ExecutorKind::Slurm || inside(run_dir) {
        return Ok(None);
    }
    let registry = crate::run::discover(exp, plugin_dirs);
    if !Experiment::is_one_shot(&exp.resolve_plugins(&registry)?.optimizer) {
        return Ok(None);
    }
    if run_dir.join("experiment.toml").exists() {
        return Err(HostError::Usage(format!(
            "{} already holds a run: continue it with `xnas resume {}` or choose another --out",
            run_dir.display(),
            run_dir.display()
        )));
    }
    std::fs::create_dir_all(run_dir).map_err(|e| HostError::io(run_dir, e))?;
    let run_dir = std::fs::canonicalize(run_dir).map_err(|e| HostError::io(run_dir, e))?;
    let file = std::fs::canonicalize(&exp.path).map_err(|e| HostError::io(&exp.path, e))?;
    RunFile::write(&run_dir, exp, plugin_dirs)?;
    let script = script_text(exp, &file, &run_dir, plugin_dirs)?;
    let path = script_file(&run_dir);
    std::fs::write(&path, script).map_err(|e| HostError::io(&path, e))?;
    submit(exp, &run_dir).map(Some)
}

/// `xnas resume RUN_DIR` of a run submitted by [`submit_run`], outside its job: submits the
/// job again (it resumes the run), unless one of the run's jobs is still queued or running.
pub fn submit_resume(run_dir: &Path) -> HostResult<Option<String>> {
    if !script_file(run_dir).exists() || inside(run_dir) {
        return Ok(None);
    }
    let run_dir = std::fs::canonicalize(run_dir).map_err(|e| HostError::io(run_dir, e))?;
    let run: RunFile = layout::read(&layout::run_file(&run_dir))?
        .ok_or_else(|| HostError::Run(format!("{} has no slurm/run.json", run_dir.display())))?;
    let exp = Experiment::parse(
        run.experiment,
        run_dir.join("experiment.toml"),
        run.base_dir,
    )?;
    submit(&exp, &run_dir).map(Some)
}

/// Submits the run's script, refusing while one of its jobs is queued or running.
fn submit(exp: &Experiment, run_dir: &Path) -> HostResult<String> {
    let name = layout::run_id(run_dir)?
        .map(|id| layout::job_name(&id))
        .ok_or_else(|| HostError::Run(format!("{} has no run id", run_dir.display())))?;
    let states = cli::query(&name)?;
    if let Some(((job, _), s)) = states.iter().find(|(_, s)| s.is_live()) {
        return Err(HostError::Usage(format!(
            "{} already has Slurm job {job} ({}): wait for it, or cancel it with `scancel {job}` \
             and resume again",
            run_dir.display(),
            s.state
        )));
    }
    let logs = layout::logs_dir(run_dir)?;
    let own = [
        format!("--output={}/oneshot-%j.out", logs.display()),
        format!("--error={}/oneshot-%j.err", logs.display()),
        // A requeued job appends to its logs.
        "--open-mode=append".to_string(),
        "--requeue".to_string(),
        format!("--signal=B:USR1@{SIGNAL_SECONDS}"),
    ];
    let job = cli::submit(&exp.file.executor, &name, &script_file(run_dir), &own)?;
    Ok(format!(
        "{}: the one-shot search was submitted as Slurm job {job} ({name}); it is requeued \
         before its time limit or when preempted and continues from its last epoch. Its log: \
         {}/oneshot-{job}.out; the run's results are in {} when the job has ended",
        run_dir.display(),
        logs.display(),
        run_dir.display()
    ))
}

/// The job's script: the setup lines, then `xnas run` (or `xnas resume` once the run exists) in
/// the background, with USR1 turned into a stop and a requeue.
fn script_text(
    exp: &Experiment,
    file: &Path,
    run_dir: &Path,
    plugin_dirs: &[PathBuf],
) -> HostResult<String> {
    let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', r"'\''"));
    let xnas = std::env::current_exe().map_err(|e| HostError::io("xnas", e))?;
    let dirs: String = plugin_dirs
        .iter()
        .map(|d| {
            let d = std::fs::canonicalize(d).unwrap_or_else(|_| d.clone());
            format!(" --plugin-dir {}", quote(&d))
        })
        .collect();
    let (xnas, run, file) = (quote(&xnas), quote(run_dir), quote(file));
    Ok(format!(
        r#"#!/bin/bash
# Written by xnas: the one-shot search of this run as one Slurm job (docs/cluster.md).
{setup}
if [ -s {run}/experiment.toml ]; then set -- resume {run}; else set -- run {file} --out {run}; fi
{xnas}{dirs} "$@" &
child=$!
requeue=0
# Before the time limit (--signal=B:USR1): stop the search at its next step, then requeue.
trap 'requeue=1; kill -TERM $child 2>/dev/null' USR1
# A preemption or requeue signals every process of the job: xnas stops by itself.
trap ':' TERM
while :; do
  wait $child
  rc=$?
  kill -0 $child 2>/dev/null || break
done
if [ $requeue = 1 ] && [ $rc != 0 ]; then
  exec scontrol requeue "$SLURM_JOB_ID"
fi
exit $rc
"#,
        setup = exp.file.executor.setup.as_deref().unwrap_or(""),
    ))
}
