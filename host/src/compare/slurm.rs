//! The runs of a comparison that are Slurm jobs of their own (docs/cluster.md): every run with
//! `[executor] kind = "slurm"` under `[compare] slurm_jobs = "run"` (the default), and every
//! one-shot run on Slurm. Each is submitted as one job ([`job`]) that runs the whole run on its
//! node; this process only waits, with ONE `squeue` per poll for all of the comparison's jobs, and
//! re-attaches to the live jobs when the same `xnas compare` runs again (a job that ended
//! meanwhile is reported, and its run submitted again to resume). A stop signal leaves the jobs
//! running.

use super::plan::{PlannedRun, SlurmJobs};
use super::{CompareOptions, Failure};
use crate::config::{ExecutorKind, Experiment};
use crate::error::HostResult;
use crate::executor::slurm::job::{self, Attached, RunJob};
use crate::executor::slurm::layout;
use std::collections::VecDeque;
use std::path::Path;
use std::time::Duration;

/// A run to submit as a job, and the trials' resources its job asks for at once.
pub struct JobRun<'a> {
    run: &'a PlannedRun,
    exp: Experiment,
    scale: u32,
}

/// Splits `todo` into the runs that are Slurm jobs and those run as `xnas run` processes here.
pub fn split<'a>(
    todo: &[&'a PlannedRun],
    out: &Path,
    mode: SlurmJobs,
    plugin_dirs: &[std::path::PathBuf],
) -> HostResult<(Vec<JobRun<'a>>, Vec<&'a PlannedRun>)> {
    let (mut jobs, mut here) = (Vec::new(), Vec::new());
    let mut registry = None;
    for &r in todo {
        let exp = Experiment::load(&out.join(r.file()))?;
        if exp.file.executor.kind != ExecutorKind::Slurm {
            here.push(r);
            continue;
        }
        let registry = registry.get_or_insert_with(|| crate::run::discover(&exp, plugin_dirs));
        let one_shot = Experiment::is_one_shot(&exp.resolve_plugins(registry)?.optimizer);
        if one_shot || mode == SlurmJobs::Run {
            // A one-shot search trains one supernet; an ask/tell run evaluates `workers` trials
            // at once on the job's CPUs.
            let scale = if one_shot {
                1
            } else {
                *exp.file.executor.workers.get_ref()
            };
            jobs.push(JobRun { run: r, exp, scale });
        } else {
            here.push(r);
        }
    }
    Ok((jobs, here))
}

/// Submits (or re-attaches to) the runs' jobs, at most `limit` queued or running at once, and
/// waits for them; `done` is called as each run ends.
pub fn execute(
    runs: Vec<JobRun>,
    out: &Path,
    limit: usize,
    opts: &CompareOptions,
    mut done: impl FnMut(),
) -> Vec<Failure> {
    let mut queue: VecDeque<JobRun> = runs.into();
    let mut running: Vec<(&PlannedRun, RunJob)> = Vec::new();
    let mut failures = Vec::new();
    let fail = |r: &PlannedRun, log: &Path, reason: String| Failure {
        dir: out.join(&r.dir),
        log: log.to_path_buf(),
        reason,
    };
    let mut poll = Duration::from_secs(3600);
    loop {
        while running.len() < limit && crate::stop::requested().is_none() {
            let Some(JobRun { run: r, exp, scale }) = queue.pop_front() else {
                break;
            };
            let dir = out.join(&r.dir);
            let attached = if job::script_file(&dir).exists() {
                job::restart(&dir)
            } else {
                job::start(&exp, &dir, &opts.plugin_dirs, scale)
            };
            match attached {
                Ok(Attached::Live(j)) => {
                    tracing::info!("{}: Slurm job {}", dir.display(), j.job);
                    poll = poll.min(j.poll);
                    running.push((r, j));
                }
                Ok(Attached::Finished(message, _)) => {
                    tracing::info!("{message}");
                    done();
                }
                Err(e) => {
                    let log = layout::slurm_dir(&dir).join("logs");
                    failures.push(fail(r, &log, format!("cannot submit its job: {e}")));
                    done();
                }
            }
        }
        if running.is_empty() && (queue.is_empty() || crate::stop::requested().is_some()) {
            break;
        }
        if let Some(signal) = crate::stop::requested() {
            for (r, j) in running.drain(..) {
                let log = job::log_file(&j.run_dir, &j.job);
                let reason = format!(
                    "stopped by {signal}; its Slurm job {} goes on, the same `xnas compare` \
                     follows it again",
                    j.job
                );
                failures.push(fail(r, &log, reason));
            }
            break;
        }
        // One query for every job of the comparison.
        let names: Vec<&str> = running.iter().map(|(_, j)| j.name.as_str()).collect();
        match crate::executor::slurm::query(&names) {
            Ok(states) => running.retain(|(r, j)| match job::end_of(j, &states) {
                None => true,
                Some(end) => {
                    if let Err(e) = end {
                        let log = job::log_file(&j.run_dir, &j.job);
                        failures.push(fail(r, &log, e.to_string()));
                    }
                    done();
                    false
                }
            }),
            Err(e) => tracing::warn!("{e}: asking again in {poll:?}"),
        }
        if !running.is_empty() {
            job::sleep(poll);
        }
    }
    failures
}
