//! What the host and the workers share through the run directory on the shared filesystem
//! (docs/cluster.md). The host writes `slurm/run.json` (the experiment), `slurm/trials/ID.json`
//! (each trial's request), `slurm/jobs/submission-N.sh` (each job array's script) and
//! `slurm/jobs.json` (the submitted jobs); a worker writes only
//! `slurm/results/ID.json`, once, by renaming a finished temporary file. Nothing on a compute
//! node opens `store.sqlite`.

use crate::config::Experiment;
use crate::error::{HostError, HostResult};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use xnas_core::abi_stable::std_types::{ROption, RString, RVec};
use xnas_core::{ErrorKind, EvalRequest, EvalResult, PluginError};

/// The folder under a run directory that the Slurm executor uses.
pub fn slurm_dir(run_dir: &Path) -> PathBuf {
    run_dir.join("slurm")
}

pub fn run_file(run_dir: &Path) -> PathBuf {
    slurm_dir(run_dir).join("run.json")
}

pub fn trial_file(run_dir: &Path, id: u64) -> PathBuf {
    slurm_dir(run_dir).join("trials").join(format!("{id}.json"))
}

pub fn result_file(run_dir: &Path, id: u64) -> PathBuf {
    slurm_dir(run_dir)
        .join("results")
        .join(format!("{id}.json"))
}

pub fn jobs_file(run_dir: &Path) -> PathBuf {
    slurm_dir(run_dir).join("jobs.json")
}

/// What a worker needs to build the run's search space: the experiment as the host read it.
#[derive(Serialize, Deserialize)]
pub struct RunFile {
    /// Chosen when the run first starts on Slurm and kept across resumes: every job of the run
    /// is named after it, so a resumed host finds jobs it submitted but never recorded.
    #[serde(default)]
    pub run_id: String,
    pub experiment: String,
    pub base_dir: PathBuf,
    pub plugin_dirs: Vec<PathBuf>,
}

impl RunFile {
    /// Writes the run file of `exp` in `run_dir` (absolute), keeping the run id of an earlier
    /// one; returns the run id.
    pub fn write(run_dir: &Path, exp: &Experiment, plugin_dirs: &[PathBuf]) -> HostResult<String> {
        let absolute = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let run_id = run_id(run_dir)?.unwrap_or_else(new_run_id);
        write_atomic(
            &run_file(run_dir),
            &RunFile {
                run_id: run_id.clone(),
                experiment: exp.text.clone(),
                base_dir: absolute(&exp.base_dir),
                plugin_dirs: plugin_dirs.iter().map(|d| absolute(d)).collect(),
            },
        )?;
        Ok(run_id)
    }
}

/// The run id `slurm/run.json` of `run_dir` holds, if any.
pub fn run_id(run_dir: &Path) -> HostResult<Option<String>> {
    Ok(read::<RunFile>(&run_file(run_dir))?
        .map(|r| r.run_id)
        .filter(|id| !id.is_empty()))
}

/// The name of every Slurm job of the run `run_id`.
pub fn job_name(run_id: &str) -> String {
    format!("xnas-{run_id}")
}

/// A run id no other run shares: the clock, the process and the hasher's per-process random
/// keys, mixed.
fn new_run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.write_u32(std::process::id());
    format!("{:012x}", h.finish() >> 16)
}

/// The folder of the jobs' output and error logs, made if missing.
pub fn logs_dir(run_dir: &Path) -> HostResult<PathBuf> {
    let logs = slurm_dir(run_dir).join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| HostError::io(&logs, e))?;
    Ok(logs)
}

/// One trial's evaluation request.
#[derive(Serialize, Deserialize)]
pub struct TrialFile {
    pub trial_id: u64,
    pub task: String,
    pub genome: Vec<u32>,
    pub seed: u64,
    pub budget: Option<f64>,
}

impl TrialFile {
    pub fn of(r: &EvalRequest) -> TrialFile {
        TrialFile {
            trial_id: r.trial_id,
            task: r.task.to_string(),
            genome: r.genome.to_vec(),
            seed: r.seed,
            budget: r.budget.into_option(),
        }
    }

    pub fn request(&self) -> EvalRequest {
        EvalRequest {
            trial_id: self.trial_id,
            task: self.task.as_str().into(),
            genome: RVec::from(self.genome.clone()),
            seed: self.seed,
            budget: self.budget.into(),
        }
    }
}

/// One trial's result as the worker wrote it: the plugin's result or its error, and wall time.
#[derive(Serialize, Deserialize)]
pub struct ResultFile {
    pub trial_id: u64,
    pub wall_s: f64,
    pub ok: Option<Evaluation>,
    /// The plugin's error kind (`xnas_core::ErrorKind`) and message.
    pub error: Option<(u32, String)>,
}

#[derive(Serialize, Deserialize)]
pub struct Evaluation {
    pub metric: f64,
    pub test_metric: Option<f64>,
    pub cost_seconds: f64,
    pub curve: Vec<f64>,
    pub extras: String,
}

impl ResultFile {
    pub fn of(trial_id: u64, result: &Result<EvalResult, PluginError>, wall_s: f64) -> Self {
        let (ok, error) = match result {
            Ok(r) => (
                Some(Evaluation {
                    metric: r.metric,
                    test_metric: r.test_metric.into_option(),
                    cost_seconds: r.cost_seconds,
                    curve: r.curve.to_vec(),
                    extras: r.extras.to_string(),
                }),
                None,
            ),
            Err(e) => (None, Some((e.kind.0, e.message.to_string()))),
        };
        ResultFile {
            trial_id,
            wall_s,
            ok,
            error,
        }
    }

    pub fn result(self) -> Result<EvalResult, PluginError> {
        match (self.ok, self.error) {
            (Some(e), None) => Ok(EvalResult {
                metric: e.metric,
                test_metric: ROption::from(e.test_metric),
                cost_seconds: e.cost_seconds,
                curve: RVec::from(e.curve),
                extras: RString::from(e.extras),
            }),
            (_, Some((kind, message))) => Err(PluginError::new(ErrorKind(kind), message)),
            (None, None) => Err(PluginError::other(
                "the worker wrote neither a result nor an error",
            )),
        }
    }
}

/// The run's submitted jobs, kept so that `xnas resume` re-attaches to them.
#[derive(Serialize, Deserialize, Default)]
pub struct Jobs {
    /// Where each trial was last submitted: (job id, array task index).
    pub placed: BTreeMap<u64, (String, u32)>,
    /// How often each trial was resubmitted after its job ended without a result.
    pub resubmitted: BTreeMap<u64, u32>,
    /// The number of the next submission (names its batch script).
    pub next_submission: u64,
}

pub fn script_file(run_dir: &Path, submission: u64) -> PathBuf {
    slurm_dir(run_dir)
        .join("jobs")
        .join(format!("submission-{submission}.sh"))
}

/// A job array's batch script: the setup lines, then `xnas worker` on the task's
/// `per_task` trials of `trials` (task i evaluates trials[i*per_task .. (i+1)*per_task]).
pub fn script_text(
    setup: &str,
    xnas: &Path,
    run_dir: &Path,
    trials: &[u64],
    per_task: usize,
) -> String {
    let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', r"'\''"));
    let ids: Vec<String> = trials.iter().map(u64::to_string).collect();
    format!(
        "#!/bin/bash\n# Written by xnas: task i of this array evaluates trials i*PER_TASK .. \
         (i+1)*PER_TASK-1 of TRIALS.\n{setup}\nTRIALS=({})\nPER_TASK={per_task}\n\
         exec {} worker {} --trial \"${{TRIALS[@]:$((SLURM_ARRAY_TASK_ID * PER_TASK)):PER_TASK}}\"\n",
        ids.join(" "),
        quote(xnas),
        quote(run_dir),
    )
}

/// What a batch script written by [`script_text`] submits.
#[derive(Debug, PartialEq)]
pub struct Submission {
    /// N of `submission-N.sh`.
    pub number: u64,
    pub trials: Vec<u64>,
    pub per_task: usize,
}

impl Submission {
    /// Reads `script`; `None` when it is not a script of this form.
    pub fn read(script: &Path) -> Option<Submission> {
        let name = script.file_name()?.to_str()?;
        let number = name.strip_prefix("submission-")?.strip_suffix(".sh")?;
        let text = std::fs::read_to_string(script).ok()?;
        let value = |key: &str| {
            text.lines()
                .rev()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        };
        let trials = value("TRIALS")?.strip_prefix('(')?.strip_suffix(')')?;
        Some(Submission {
            number: number.parse().ok()?,
            trials: trials
                .split_whitespace()
                .map(str::parse)
                .collect::<Result<_, _>>()
                .ok()?,
            per_task: value("PER_TASK")?.parse().ok().filter(|&n| n > 0)?,
        })
    }

    /// The trials array task `task` evaluates.
    pub fn task_trials(&self, task: u32) -> &[u64] {
        let start = (task as usize).saturating_mul(self.per_task);
        let end = start.saturating_add(self.per_task).min(self.trials.len());
        self.trials.get(start..end).unwrap_or_default()
    }
}

/// Reads a JSON file written by [`write_atomic`]; `None` when it does not exist.
pub fn read<T: DeserializeOwned>(path: &Path) -> HostResult<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            HostError::Run(format!(
                "{} cannot be read ({e}): it was not written by this xnas",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(HostError::io(path, e)),
    }
}

/// Writes `value` as JSON to a temporary file beside `path`, flushed, then renamed over it: a
/// reader on any node sees the whole file or none.
pub fn write_atomic<T: Serialize>(path: &Path, value: &T) -> HostResult<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| HostError::io(dir, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| HostError::io(dir, e))?;
    let bytes = serde_json::to_vec(value).expect("plain data serializes");
    tmp.write_all(&bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| HostError::io(path, e))?;
    tmp.persist(path)
        .map_err(|e| HostError::io(path, e.error))?;
    Ok(())
}
