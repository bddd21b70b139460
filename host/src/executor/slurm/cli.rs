//! The three Slurm commands the host runs: `sbatch --parsable` (one job array per submission),
//! one `squeue` for every job of the run per poll (selected by the run's job name), and
//! `scancel`.

use crate::config::ExecutorSection;
use crate::error::{HostError, HostResult};
use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};

/// The end of a task, or that it is still queued or running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskState {
    /// Slurm's state name: PENDING, RUNNING, COMPLETED, FAILED, TIMEOUT, ...
    pub state: String,
    pub reason: String,
    /// The raw wait status (exit code × 256 + signal).
    pub exit_status: Option<i32>,
    /// The batch script the task runs (names the trials it evaluates).
    pub script: String,
}

impl TaskState {
    /// Still queued or running (or about to run again).
    pub fn is_live(&self) -> bool {
        matches!(
            self.state.as_str(),
            "PENDING"
                | "RUNNING"
                | "CONFIGURING"
                | "COMPLETING"
                | "REQUEUED"
                | "REQUEUE_FED"
                | "REQUEUE_HOLD"
                | "RESIZING"
                | "RESV_DEL_HOLD"
                | "SIGNALING"
                | "STAGE_OUT"
                | "SUSPENDED"
                | "STOPPED"
        )
    }

    /// Ended in a way that says nothing about the trial (the machine, the clock, another job or
    /// a person ended it): the trial is worth running again.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.state.as_str(),
            "TIMEOUT" | "PREEMPTED" | "NODE_FAIL" | "BOOT_FAIL" | "CANCELLED" | "DEADLINE"
        )
    }

    /// One phrase for a failed trial's record.
    pub fn describe(&self) -> String {
        let mut s = self.state.clone();
        if !self.reason.is_empty() && self.reason != "None" {
            s.push_str(&format!(" ({})", self.reason));
        }
        match self.exit_status {
            Some(w) if w & 0x7f != 0 => s.push_str(&format!(", killed by signal {}", w & 0x7f)),
            Some(w) if w >> 8 != 0 => s.push_str(&format!(", exit code {}", w >> 8)),
            _ => {}
        }
        s
    }
}

fn run(cmd: &mut Command) -> HostResult<Output> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.output().map_err(|e| {
        HostError::Run(format!(
            "cannot run `{program}` ({e}): the Slurm executor needs Slurm's commands on the PATH \
             of the machine running xnas (a login node)"
        ))
    })
}

fn failed(what: &str, out: &Output) -> HostError {
    HostError::Run(format!(
        "`{what}` failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    ))
}

/// Submits `script` under the run's job name `name` with the resources of `section` for `scale`
/// trials at once (1 for an array task); `own` are the caller's arguments (array, logs, requeue
/// policy), given before the section's `sbatch_args` so that those can override them. Returns the
/// job id.
pub fn submit(
    section: &ExecutorSection,
    name: &str,
    script: &Path,
    own: &[String],
    scale: u32,
) -> HostResult<String> {
    let mut cmd = Command::new("sbatch");
    cmd.arg("--parsable")
        .arg(format!("--job-name={name}"))
        .args(own);
    if let Some(p) = &section.partition {
        cmd.arg(format!("--partition={p}"));
    }
    if let Some(t) = &section.time_limit {
        cmd.arg(format!("--time={t}"));
    }
    // One CPU per trial unless said otherwise: a job of several trials asks for each.
    let cpus = section.cpus_per_trial.or((scale > 1).then_some(1));
    if let Some(c) = cpus {
        cmd.arg(format!("--cpus-per-task={}", c.saturating_mul(scale)));
    }
    if let Some(g) = section.gpus_per_trial.filter(|&g| g > 0) {
        cmd.arg(format!("--gres=gpu:{}", g.saturating_mul(scale)));
    }
    if let Some(m) = &section.mem_per_trial {
        cmd.arg(format!("--mem={}", times(m, scale)));
    }
    cmd.args(&section.sbatch_args).arg(script);
    let out = run(&mut cmd)?;
    if !out.status.success() {
        return Err(failed("sbatch", &out));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    // `--parsable` prints "jobid" or "jobid;cluster".
    let id = text
        .trim()
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HostError::Run(format!(
            "sbatch printed `{}`, not a job id",
            text.trim()
        )));
    }
    Ok(id)
}

/// `sbatch --mem` of `scale` trials: "150M" × 3 is "450M" (a size Slurm reads: a number and
/// an optional unit).
fn times(mem: &str, scale: u32) -> String {
    let digits = mem.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    match digits.parse::<u64>() {
        Ok(n) if scale > 1 => format!("{}{}", n.saturating_mul(scale.into()), &mem[digits.len()..]),
        _ => mem.to_string(),
    }
}

/// The state of every task of every job named one of `names` (a run's jobs, those the host
/// recorded and any it submitted without recording; or the jobs of a comparison's runs), by (job
/// id, array index): one `squeue` call. Tasks the controller no longer knows are absent.
pub fn query(names: &[&str]) -> HostResult<HashMap<(String, u32), TaskState>> {
    let mut states = HashMap::new();
    let out = run(Command::new("squeue")
        .args(["--noheader", "--array", "--states=all"])
        .arg(format!("--name={}", names.join(",")))
        // The script last and unpadded: a path may hold any character but a newline.
        .arg("--Format=JobArrayID:64|,State:32|,Reason:64|,exit_code:16|,Command:0"))?;
    if !out.status.success() {
        return Err(failed("squeue", &out));
    }
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut f = line.splitn(5, '|').map(str::trim);
        let (Some(id), Some(state), Some(reason), Some(exit), Some(script)) =
            (f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        // A job that is not an array (or an array cancelled before any task started) is one
        // record: task 0.
        let (job, task) = id.split_once('_').unwrap_or((id, "0"));
        let Ok(task) = task.parse::<u32>() else {
            continue; // a pending range such as 12_[3-9] (not printed with --array)
        };
        states.insert(
            (job.to_string(), task),
            TaskState {
                // "CANCELLED by 0" names who cancelled.
                state: state
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                reason: reason.to_string(),
                exit_status: exit.parse().ok(),
                script: script.to_string(),
            },
        );
    }
    Ok(states)
}

/// Cancels the given tasks ("job_index") or whole jobs.
pub fn cancel(targets: &[String]) -> HostResult<()> {
    if targets.is_empty() {
        return Ok(());
    }
    let out = run(Command::new("scancel").args(targets))?;
    if !out.status.success() {
        return Err(failed("scancel", &out));
    }
    Ok(())
}
