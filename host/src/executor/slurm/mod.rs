//! The Slurm executor (docs/cluster.md): each batch's trials are written to the run directory
//! on the shared filesystem, submitted as job arrays whose tasks run `xnas worker`, watched with
//! one `squeue` per poll for the whole run, and ingested from their result files, the host being
//! the only writer of the store. A trial whose job ended without a result (time limit,
//! preemption, node failure, cancelled) is resubmitted up to `resubmits` times; after that, or
//! when its worker crashed, it is a failed trial with Slurm's reason. The submitted jobs are kept
//! in `slurm/jobs.json`, so a resumed host re-attaches to them instead of submitting again; every
//! job carries a name unique to the run, so one the host submitted but did not record is found
//! too ([`orphans`]).

mod cli;
pub mod layout;
mod orphans;

pub mod job;

pub use cli::query;

use super::Finished;
use crate::config::{ExecutorSection, Experiment};
use crate::error::{HostError, HostResult};
use layout::{Jobs, ResultFile, RunFile, TrialFile};

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;
use xnas_core::{ErrorKind, EvalRequest, PluginError};

/// Defaults of the `[executor]` keys of `kind = "slurm"`.
const DEFAULT_RESUBMITS: u32 = 2;
const DEFAULT_POLL_SECONDS: f64 = 10.0;
const DEFAULT_ARRAY_LIMIT: u32 = 1000;

pub struct SlurmExecutor {
    section: ExecutorSection,
    run_dir: PathBuf,
    job_name: String,
    xnas: PathBuf,
    poll: Duration,
    /// `squeue` calls made, for the log.
    queries: u64,
    /// Whether the run's jobs were looked up since this host started (for jobs a killed host
    /// submitted but did not record).
    looked_up: bool,
}

impl SlurmExecutor {
    /// Writes what workers need to build the space (`slurm/run.json`).
    pub fn new(exp: &Experiment, run_dir: &Path, plugin_dirs: &[PathBuf]) -> HostResult<Self> {
        let run_dir = std::fs::canonicalize(run_dir).map_err(|e| HostError::io(run_dir, e))?;
        let run_id = RunFile::write(&run_dir, exp, plugin_dirs)?;
        let xnas = std::env::current_exe().map_err(|e| HostError::io("xnas", e))?;
        let section = exp.file.executor.clone();
        Ok(SlurmExecutor {
            poll: Duration::from_secs_f64(section.poll_seconds.unwrap_or(DEFAULT_POLL_SECONDS)),
            section,
            job_name: layout::job_name(&run_id),
            run_dir,
            xnas,
            queries: 0,
            looked_up: false,
        })
    }

    /// Evaluates `requests` on the cluster; `on_done` gets each result as it is ingested, the
    /// results found at one poll in trial-id order. On a stop request ([`crate::stop`]) the
    /// run's queued and running tasks are cancelled and it returns; their trials stay pending.
    pub fn run<E: From<HostError>>(
        &mut self,
        requests: Vec<EvalRequest>,
        mut on_done: impl FnMut(Finished) -> Result<(), E>,
    ) -> Result<(), E> {
        let index_of: HashMap<u64, usize> = requests
            .iter()
            .enumerate()
            .map(|(i, r)| (r.trial_id, i))
            .collect();
        for r in &requests {
            let path = layout::trial_file(&self.run_dir, r.trial_id);
            if !path.exists() {
                layout::write_atomic(&path, &TrialFile::of(r))?;
            }
        }
        let jobs_path = layout::jobs_file(&self.run_dir);
        let mut jobs: Jobs = layout::read(&jobs_path)?.unwrap_or_default();
        let mut waiting: BTreeSet<u64> = index_of.keys().copied().collect();
        // Trials whose job completed before their result was seen: one more poll, for a shared
        // filesystem that shows files late.
        let mut grace: HashSet<u64> = HashSet::new();
        let mut first = true;
        loop {
            // 1. Results that exist, in trial-id order.
            let ready: Vec<u64> = waiting
                .iter()
                .copied()
                .filter(|&id| layout::result_file(&self.run_dir, id).exists())
                .collect();
            for id in ready {
                let path = layout::result_file(&self.run_dir, id);
                let file: ResultFile = layout::read(&path)?
                    .ok_or_else(|| HostError::Run(format!("{} vanished", path.display())))?;
                let wall_s = file.wall_s;
                on_done(Finished {
                    index: index_of[&id],
                    result: file.result(),
                    wall_s,
                })?;
                waiting.remove(&id);
                jobs.placed.remove(&id);
                tracing::debug!("slurm: trial {id} ingested");
            }
            if waiting.is_empty() {
                break;
            }
            if crate::stop::requested().is_some() {
                self.cancel(&mut jobs, &waiting)?;
                layout::write_atomic(&jobs_path, &jobs)?;
                return Ok(());
            }
            if !first {
                self.sleep();
            }
            first = false;

            // 2. One query for the whole run (none while it has no job, once this host has
            // looked for jobs a killed host left unrecorded); 3. what ended without a result.
            let states = if jobs.placed.is_empty() && self.looked_up {
                HashMap::new()
            } else {
                self.queries += 1;
                self.looked_up = true;
                tracing::debug!("slurm: squeue query {} of this host", self.queries);
                cli::query(&[self.job_name.as_str()])?
            };
            let found = orphans::reconcile(&self.run_dir, &states, &mut jobs, &waiting);
            cli::cancel(&found.cancel)?;
            if !found.adopted.is_empty() {
                layout::write_atomic(&jobs_path, &jobs)?;
            }
            let mut ended = Vec::new();
            for &id in &waiting {
                let Some((job, task)) = jobs.placed.get(&id) else {
                    continue;
                };
                match states.get(&(job.clone(), *task)) {
                    Some(s) if s.is_live() => {}
                    Some(s) if s.state == "COMPLETED" && grace.insert(id) => {}
                    s => ended.push((id, s.cloned())),
                }
            }
            for (id, state) in ended {
                if layout::result_file(&self.run_dir, id).exists() {
                    continue; // written as the job ended: ingested next round
                }
                let (job, task) = jobs.placed.remove(&id).expect("placed");
                let tries = jobs.resubmitted.entry(id).or_insert(0);
                // Unknown to the controller: cancelled while pending, or forgotten.
                let retry = state.as_ref().is_none_or(cli::TaskState::is_retryable);
                let limit = self.section.resubmits.unwrap_or(DEFAULT_RESUBMITS);
                let what = state.as_ref().map_or_else(
                    || "no longer known to Slurm".to_string(),
                    |s| format!("ended {}", s.describe()),
                );
                if retry && *tries < limit {
                    *tries += 1;
                    tracing::warn!(
                        "trial {id}: Slurm job {job}_{task} {what}: resubmitting ({} of {limit})",
                        *tries
                    );
                    continue;
                }
                let mut reason = format!("Slurm job {job}_{task} {what}");
                if retry {
                    reason.push_str(&format!(" after {limit} resubmission(s)"));
                }
                if let Some(line) = self.last_error_line(&job, task) {
                    reason.push_str(&format!("; its last error line: {line}"));
                }
                on_done(Finished {
                    index: index_of[&id],
                    result: Err(PluginError::new(ErrorKind::EVALUATION, reason)),
                    wall_s: 0.0,
                })?;
                waiting.remove(&id);
            }

            // 4. Submit what has no job, within the concurrency limit.
            let unplaced: Vec<u64> = waiting
                .iter()
                .copied()
                .filter(|id| !jobs.placed.contains_key(id))
                .collect();
            self.submit(&mut jobs, &unplaced)?;
            layout::write_atomic(&jobs_path, &jobs)?;
        }
        layout::write_atomic(&jobs_path, &jobs)?;
        tracing::debug!("slurm: {} squeue queries so far", self.queries);
        Ok(())
    }

    /// Submits `ids` as job arrays of at most `array_limit` tasks of `trials_per_task` trials,
    /// as far as `max_concurrent_jobs` (tasks) allows; each submission is recorded before the
    /// next.
    fn submit(&self, jobs: &mut Jobs, ids: &[u64]) -> HostResult<()> {
        let per_task = self.section.trials_per_task.unwrap_or(1).max(1) as usize;
        let tasks: HashSet<&(String, u32)> = jobs.placed.values().collect();
        let room = self.section.max_concurrent_jobs.map_or(usize::MAX, |m| {
            (m as usize)
                .saturating_sub(tasks.len())
                .saturating_mul(per_task)
        });
        let ids = &ids[..ids.len().min(room)];
        let limit = self
            .section
            .array_limit
            .unwrap_or(DEFAULT_ARRAY_LIMIT)
            .max(1) as usize;
        for chunk in ids.chunks(limit.saturating_mul(per_task)) {
            let script = layout::script_file(&self.run_dir, jobs.next_submission);
            let text = layout::script_text(
                self.section.setup.as_deref().unwrap_or(""),
                &self.xnas,
                &self.run_dir,
                chunk,
                per_task,
            );
            let dir = script.parent().expect("under slurm/jobs");
            std::fs::create_dir_all(dir).map_err(|e| HostError::io(dir, e))?;
            std::fs::write(&script, text).map_err(|e| HostError::io(&script, e))?;
            let logs = layout::logs_dir(&self.run_dir)?;
            let own = [
                format!("--array=0-{}", chunk.len().div_ceil(per_task) - 1),
                format!("--output={}/%A_%a.out", logs.display()),
                format!("--error={}/%A_%a.err", logs.display()),
                // A requeue would run the task again behind the host's back: the host resubmits.
                "--no-requeue".to_string(),
            ];
            tracing::debug!("slurm: sbatch for {} trial(s)", chunk.len());
            let job = cli::submit(&self.section, &self.job_name, &script, &own, 1)?;
            tracing::info!("slurm: trials {chunk:?} submitted as job array {job}");
            for (i, &id) in chunk.iter().enumerate() {
                jobs.placed.insert(id, (job.clone(), (i / per_task) as u32));
            }
            jobs.next_submission += 1;
            layout::write_atomic(&layout::jobs_file(&self.run_dir), jobs)?;
        }
        Ok(())
    }

    /// Cancels the tasks of the `waiting` trials and forgets them, so a resume submits them anew.
    fn cancel(&self, jobs: &mut Jobs, waiting: &BTreeSet<u64>) -> HostResult<()> {
        let tasks: BTreeSet<String> = waiting
            .iter()
            .filter_map(|id| jobs.placed.remove(id))
            .map(|(job, task)| format!("{job}_{task}"))
            .collect();
        let tasks: Vec<String> = tasks.into_iter().collect();
        if !tasks.is_empty() {
            tracing::info!("slurm: cancelling {} task(s) of this run", tasks.len());
        }
        cli::cancel(&tasks)
    }

    fn sleep(&self) {
        job::sleep(self.poll);
    }

    /// The last non-empty line the task wrote to its error log, if any.
    fn last_error_line(&self, job: &str, task: u32) -> Option<String> {
        let log = layout::slurm_dir(&self.run_dir)
            .join("logs")
            .join(format!("{job}_{task}.err"));
        let text = std::fs::read_to_string(log).ok()?;
        let line = text.lines().rev().find(|l| !l.trim().is_empty())?;
        Some(line.trim().chars().take(300).collect())
    }
}
