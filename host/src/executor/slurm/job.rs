//! A one-shot search on Slurm (docs/cluster.md): the whole run is ONE job, since a supernet
//! search is one long training, not a batch of trials. `xnas run` (or `xnas resume`) of such a
//! run on a login node submits `slurm/oneshot.sh` and waits for the job to end (so `xnas
//! compare` runs each such run as a job); in the job, the same command runs the search here. The job is submitted with `--requeue` and `--signal=B:USR1@120`: on
//! that signal, sent before the time limit, the script stops the search with SIGTERM (the run
//! keeps its last epoch's checkpoint, `crate::run::oneshot`) and requeues the job, which then
//! continues with `xnas resume`. A preemption or `scontrol requeue` stops the search with
//! SIGTERM the same way and Slurm requeues the job itself.

use super::layout::{self, RunFile};
use super::{cli, DEFAULT_POLL_SECONDS};
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
/// `[executor] kind = "slurm"`, outside the run's job: submits the run as one job and waits for
/// it to end; returns what to tell the user. `None`: the run goes on in this process (another
/// executor or optimizer kind, or this is the job).
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
    // Submitted before (by this command or `xnas compare`): the same experiment goes on.
    let before: Option<RunFile> = layout::read(&layout::run_file(run_dir))?;
    if before.is_some_and(|r| r.experiment == exp.text) && script_file(run_dir).exists() {
        return submit_resume(run_dir);
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
    let earlier = layout::run_id(&run_dir)?.map(|id| layout::job_name(&id));
    if let Some((job, state)) = earlier.map(|n| live_job(&n)).transpose()?.flatten() {
        return Err(HostError::Usage(format!(
            "{} already has Slurm job {job} ({state}) of another experiment: cancel it with \
             `scancel {job}` or choose another --out",
            run_dir.display(),
        )));
    }
    let name = layout::job_name(&RunFile::write(&run_dir, exp, plugin_dirs)?);
    let script = script_text(exp, &file, &run_dir, plugin_dirs)?;
    let path = script_file(&run_dir);
    std::fs::write(&path, script).map_err(|e| HostError::io(&path, e))?;
    let job = submit(exp, &run_dir, &name)?;
    follow(exp, &run_dir, &name, &job).map(Some)
}

/// `xnas resume RUN_DIR` of a run submitted by [`submit_run`], outside its job: follows the
/// run's job while it is queued or running, else submits it again (it resumes the run) and
/// follows that.
pub fn submit_resume(run_dir: &Path) -> HostResult<Option<String>> {
    if !script_file(run_dir).exists() || inside(run_dir) {
        return Ok(None);
    }
    let run_dir = std::fs::canonicalize(run_dir).map_err(|e| HostError::io(run_dir, e))?;
    let run: RunFile = layout::read(&layout::run_file(&run_dir))?
        .ok_or_else(|| HostError::Run(format!("{} has no slurm/run.json", run_dir.display())))?;
    let name = layout::job_name(&run.run_id);
    let exp = Experiment::parse(
        run.experiment,
        run_dir.join("experiment.toml"),
        run.base_dir,
    )?;
    let job = match live_job(&name)? {
        Some((job, _)) => job,
        None => submit(&exp, &run_dir, &name)?,
    };
    follow(&exp, &run_dir, &name, &job).map(Some)
}

/// A queued or running job named `name`, and its state.
fn live_job(name: &str) -> HostResult<Option<(String, String)>> {
    Ok(cli::query(name)?
        .into_iter()
        .find(|(_, s)| s.is_live())
        .map(|((job, _), s)| (job, s.state)))
}

/// Submits the run's script; returns the job id.
fn submit(exp: &Experiment, run_dir: &Path, name: &str) -> HostResult<String> {
    let logs = layout::logs_dir(run_dir)?;
    let own = [
        format!("--output={}/oneshot-%j.out", logs.display()),
        format!("--error={}/oneshot-%j.err", logs.display()),
        // A requeued job appends to its logs.
        "--open-mode=append".to_string(),
        "--requeue".to_string(),
        format!("--signal=B:USR1@{SIGNAL_SECONDS}"),
    ];
    cli::submit(&exp.file.executor, name, &script_file(run_dir), &own)
}

/// Waits for job `job` to end, with one `squeue` per `poll_seconds`; a stop signal leaves the
/// job running.
fn follow(exp: &Experiment, run_dir: &Path, name: &str, job: &str) -> HostResult<String> {
    let log = layout::slurm_dir(run_dir).join(format!("logs/oneshot-{job}.err"));
    eprintln!(
        "{}: the one-shot search runs as Slurm job {job} ({name}), requeued before its time \
         limit or when preempted; its log: {}",
        run_dir.display(),
        log.display()
    );
    let poll = std::time::Duration::from_secs_f64(
        exp.file
            .executor
            .poll_seconds
            .unwrap_or(DEFAULT_POLL_SECONDS),
    );
    loop {
        if let Some(signal) = crate::stop::requested() {
            return Err(HostError::Stopped {
                signal,
                message: format!(
                    "Slurm job {job} goes on; `xnas resume {}` follows it again",
                    run_dir.display()
                ),
            });
        }
        let states = cli::query(name)?;
        match states.get(&(job.to_string(), 0)) {
            Some(s) if s.is_live() => {}
            Some(s) if s.state == "COMPLETED" => {
                return Ok(format!(
                    "Slurm job {job} completed: the run's results are in {}",
                    run_dir.display()
                ))
            }
            s => {
                return Err(HostError::Run(format!(
                    "Slurm job {job} {}; its log: {} (`xnas resume {}` submits it again)",
                    s.map_or("is no longer known to Slurm".to_string(), |s| format!(
                        "ended {}",
                        s.describe()
                    )),
                    log.display(),
                    run_dir.display()
                )))
            }
        }
        let end = std::time::Instant::now() + poll;
        while std::time::Instant::now() < end && crate::stop::requested().is_none() {
            std::thread::sleep(std::time::Duration::from_millis(50).min(poll));
        }
    }
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
