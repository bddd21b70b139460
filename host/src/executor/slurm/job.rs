//! A run on Slurm as ONE job (docs/cluster.md). A one-shot search always runs this way, since it
//! is one long training, not a batch of trials: `xnas run` (or `xnas resume`) of such a run on a
//! login node submits `slurm/job.sh` and waits for the job to end. `xnas compare` runs its runs
//! this way too, ask/tell ones included (`[compare] slurm_jobs`), and waits for all of them with
//! one `squeue` per poll (`crate::compare`). In the job, the same command runs the run there,
//! its trials on the job's own CPUs (`crate::run::runner`). The job is submitted with `--requeue`
//! and `--signal=B:USR1@120`: on that signal, sent before the time limit, the script stops the
//! run with SIGTERM (it keeps its finished trials and its last epoch's checkpoint) and requeues
//! the job, which then continues with `xnas resume`. A preemption or `scontrol requeue` stops the
//! run with SIGTERM the same way and Slurm requeues the job itself. The submitted job ids are kept
//! in `slurm/job.json`, so a resumed host follows a live job instead of submitting a second one.

use super::layout::{self, RunFile};
use super::{cli, DEFAULT_POLL_SECONDS};
use crate::config::{ExecutorKind, Experiment};
use crate::error::{HostError, HostResult};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Seconds before the time limit at which Slurm signals the job (`sbatch_args` may give another
/// `--signal`): long enough to finish a step and exit.
const SIGNAL_SECONDS: u32 = 120;

/// The script of a run's job.
pub fn script_file(run_dir: &Path) -> PathBuf {
    layout::slurm_dir(run_dir).join("job.sh")
}

fn record_file(run_dir: &Path) -> PathBuf {
    layout::slurm_dir(run_dir).join("job.json")
}

/// The run's submitted jobs.
#[derive(Serialize, Deserialize, Default)]
struct Record {
    /// Job ids, oldest first.
    jobs: Vec<String>,
    /// The trials' resources the job asks for at once (`[executor] workers` of an ask/tell run,
    /// 1 for a one-shot search).
    scale: u32,
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

/// A run's job, submitted now or earlier.
pub struct RunJob {
    pub run_dir: PathBuf,
    /// The run's job name (`xnas-<run id>`).
    pub name: String,
    pub job: String,
    pub poll: Duration,
}

/// What [`restart`] found.
pub enum Attached {
    /// A job to wait for.
    Live(RunJob),
    /// The run finished in a job that ended while no host waited: what to tell the user, and the
    /// exit code.
    Finished(String, u8),
}

/// `xnas run FILE --out RUN_DIR` of an experiment with a one-shot optimizer and
/// `[executor] kind = "slurm"`, outside the run's job: submits the run as one job and waits for
/// it to end; returns what to tell the user and the exit code. `None`: the run goes on in this
/// process (another executor or optimizer kind, or this is the job).
pub fn submit_run(
    exp: &Experiment,
    run_dir: &Path,
    plugin_dirs: &[PathBuf],
) -> HostResult<Option<(String, u8)>> {
    if exp.file.executor.kind != ExecutorKind::Slurm || inside(run_dir) {
        return Ok(None);
    }
    let registry = crate::run::discover(exp, plugin_dirs);
    if !Experiment::is_one_shot(&exp.resolve_plugins(&registry)?.optimizer) {
        return Ok(None);
    }
    match start(exp, run_dir, plugin_dirs, 1)? {
        Attached::Live(job) => follow(&job).map(Some),
        Attached::Finished(message, code) => Ok(Some((message, code))),
    }
}

/// Submits the run of `exp` in `run_dir` as one job asking for `scale` trials' resources, or,
/// when this experiment was submitted there before, goes on as [`restart`] does.
pub fn start(
    exp: &Experiment,
    run_dir: &Path,
    plugin_dirs: &[PathBuf],
    scale: u32,
) -> HostResult<Attached> {
    let before: Option<RunFile> = layout::read(&layout::run_file(run_dir))?;
    if before.is_some_and(|r| r.experiment == exp.text) && script_file(run_dir).exists() {
        return restart(run_dir);
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
    let mut record = Record {
        jobs: Vec::new(),
        scale: scale.max(1),
    };
    let job = submit(exp, &run_dir, &name, &mut record)?;
    Ok(Attached::Live(RunJob {
        poll: poll(exp),
        run_dir,
        name,
        job,
    }))
}

/// `xnas resume RUN_DIR` of a run submitted as one job, outside its job: [`restart`], then waits
/// for the job. `None`: the run is not one of those (or this is the job).
pub fn submit_resume(run_dir: &Path) -> HostResult<Option<(String, u8)>> {
    if !script_file(run_dir).exists() || inside(run_dir) {
        return Ok(None);
    }
    match restart(run_dir)? {
        Attached::Live(job) => follow(&job).map(Some),
        Attached::Finished(message, code) => Ok(Some((message, code))),
    }
}

/// Goes on with a run submitted as one job: follows its job while that is queued or running
/// (never submitting a second one); reports a run its ended job finished; else says how the last
/// job ended and submits the run again, which resumes it.
pub fn restart(run_dir: &Path) -> HostResult<Attached> {
    let run_dir = std::fs::canonicalize(run_dir).map_err(|e| HostError::io(run_dir, e))?;
    let run: RunFile = layout::read(&layout::run_file(&run_dir))?
        .ok_or_else(|| HostError::Run(format!("{} has no slurm/run.json", run_dir.display())))?;
    let name = layout::job_name(&run.run_id);
    let exp = Experiment::parse(
        run.experiment,
        run_dir.join("experiment.toml"),
        run.base_dir,
    )?;
    let mut record: Record = layout::read(&record_file(&run_dir))?.unwrap_or_default();
    let states = cli::query(&[name.as_str()])?;
    let live = states
        .iter()
        .filter(|(_, s)| s.is_live())
        .map(|((job, _), _)| job.clone())
        .max_by_key(|job| (job.len(), job.clone()));
    let job = match live {
        Some(job) => {
            tracing::info!(
                "{}: following its Slurm job {job}, submitted earlier",
                run_dir.display()
            );
            job
        }
        None => {
            let last = record.jobs.last().cloned();
            let ended = last.as_deref().map(|j| states.get(&(j.to_string(), 0)));
            if let Some(job) = last.as_deref().filter(|_| finished(&run_dir)) {
                let state = ended.flatten();
                return match outcome(&run_dir, job, state) {
                    Ok((message, code)) => Ok(Attached::Finished(message, code)),
                    // It finished the run and failed after (its last lines, a requeue).
                    Err(_) => Ok(Attached::Finished(
                        format!(
                            "the run is finished; its last Slurm job {job} ended {}: its \
                             results are in {}",
                            describe(state),
                            run_dir.display()
                        ),
                        0,
                    )),
                };
            }
            if let Some(job) = &last {
                eprintln!(
                    "{}: its last Slurm job {job} ended {} before the run finished (log: {}): \
                     submitting it again, to resume the run",
                    run_dir.display(),
                    describe(ended.flatten()),
                    log_file(&run_dir, job).display()
                );
            }
            submit(&exp, &run_dir, &name, &mut record)?
        }
    };
    Ok(Attached::Live(RunJob {
        poll: poll(&exp),
        run_dir,
        name,
        job,
    }))
}

fn describe(state: Option<&cli::TaskState>) -> String {
    state.map_or("(no longer known to Slurm)".to_string(), |s| s.describe())
}

/// The run wrote its summary: it ended (with or without failed trials).
fn finished(run_dir: &Path) -> bool {
    run_dir.join("summary.json").exists()
}

fn poll(exp: &Experiment) -> Duration {
    Duration::from_secs_f64(
        exp.file
            .executor
            .poll_seconds
            .unwrap_or(DEFAULT_POLL_SECONDS),
    )
}

/// The job's error log.
pub fn log_file(run_dir: &Path, job: &str) -> PathBuf {
    layout::slurm_dir(run_dir).join(format!("logs/job-{job}.err"))
}

/// A queued or running job named `name`, and its state.
fn live_job(name: &str) -> HostResult<Option<(String, String)>> {
    Ok(cli::query(&[name])?
        .into_iter()
        .find(|(_, s)| s.is_live())
        .map(|((job, _), s)| (job, s.state)))
}

/// Submits the run's script, asking for `record.scale` trials' resources; records the job id.
fn submit(exp: &Experiment, run_dir: &Path, name: &str, record: &mut Record) -> HostResult<String> {
    let logs = layout::logs_dir(run_dir)?;
    let own = [
        format!("--output={}/job-%j.out", logs.display()),
        format!("--error={}/job-%j.err", logs.display()),
        // A requeued job appends to its logs.
        "--open-mode=append".to_string(),
        "--requeue".to_string(),
        format!("--signal=B:USR1@{SIGNAL_SECONDS}"),
    ];
    let scale = record.scale.max(1);
    let job = cli::submit(&exp.file.executor, name, &script_file(run_dir), &own, scale)?;
    record.jobs.push(job.clone());
    record.scale = scale;
    layout::write_atomic(&record_file(run_dir), record)?;
    Ok(job)
}

/// How the run's job ended, from its state in `states` (one query for many runs); `None` while
/// it is queued or running.
pub fn end_of(
    job: &RunJob,
    states: &HashMap<(String, u32), cli::TaskState>,
) -> Option<HostResult<(String, u8)>> {
    match states.get(&(job.job.clone(), 0)) {
        Some(s) if s.is_live() => None,
        s => Some(outcome(&job.run_dir, &job.job, s)),
    }
}

/// What to tell the user of a run whose job `job` ended in `state`, and the exit code.
fn outcome(run_dir: &Path, job: &str, state: Option<&cli::TaskState>) -> HostResult<(String, u8)> {
    match state {
        Some(s) if s.state == "COMPLETED" => Ok((
            format!(
                "Slurm job {job} completed: the run's results are in {}",
                run_dir.display()
            ),
            0,
        )),
        // `xnas run` exits 1 for a run that finished with failed trials (docs/user-guide.md).
        Some(s) if finished(run_dir) && s.exit_status == Some(256) => Ok((
            format!(
                "Slurm job {job} ended: the run finished with failed trials; its results are in {}",
                run_dir.display()
            ),
            1,
        )),
        s => Err(HostError::Run(format!(
            "Slurm job {job} {}; its log: {} (`xnas resume {}` submits it again)",
            s.map_or("is no longer known to Slurm".to_string(), |s| format!(
                "ended {}",
                s.describe()
            )),
            log_file(run_dir, job).display(),
            run_dir.display()
        ))),
    }
}

/// Waits for the run's job to end, with one `squeue` per `poll_seconds`; a stop signal leaves the
/// job running.
pub fn follow(job: &RunJob) -> HostResult<(String, u8)> {
    eprintln!(
        "{}: the run goes on as Slurm job {} ({}), requeued before its time limit or when \
         preempted; its log: {}",
        job.run_dir.display(),
        job.job,
        job.name,
        log_file(&job.run_dir, &job.job).display()
    );
    loop {
        if let Some(signal) = crate::stop::requested() {
            return Err(HostError::Stopped {
                signal,
                message: format!(
                    "Slurm job {} goes on; `xnas resume {}` follows it again",
                    job.job,
                    job.run_dir.display()
                ),
            });
        }
        if let Some(end) = end_of(job, &cli::query(&[job.name.as_str()])?) {
            return end;
        }
        sleep(job.poll);
    }
}

/// Sleeps `poll`, waking early for a stop request.
pub fn sleep(poll: Duration) {
    let end = std::time::Instant::now() + poll;
    while std::time::Instant::now() < end && crate::stop::requested().is_none() {
        std::thread::sleep(Duration::from_millis(50).min(poll));
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
# Written by xnas: this run as one Slurm job (docs/cluster.md).
{setup}
if [ -s {run}/experiment.toml ]; then set -- resume {run}; else set -- run {file} --out {run}; fi
{xnas}{dirs} "$@" &
child=$!
requeue=0
# Before the time limit (--signal=B:USR1): stop the run at its next step, then requeue.
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
