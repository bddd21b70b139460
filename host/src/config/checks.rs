//! The checks of an experiment file that need no plugin: its structure (budget, batch, workers,
//! tasks, transfer/optimizer pairing) when it is parsed, and the source-knowledge paths before a
//! run reads them.

use super::Experiment;
use crate::error::{HostError, HostResult};
use std::path::PathBuf;
use toml::Spanned;

/// The most local workers a run takes: far more threads than any machine has cores is a typo.
pub const MAX_WORKERS: u32 = 1024;

/// Why `workers` is refused when above [`MAX_WORKERS`].
pub fn too_many_workers(workers: u32) -> String {
    format!(
        "workers = {workers} is more than one machine can run (at most {MAX_WORKERS}): give the \
         number of evaluations to run at once, e.g. the number of cores or GPUs"
    )
}

/// Why an experiment name cannot name a folder under `runs/`, if it cannot (`a/b` may: a
/// comparison names its runs `name/target/variant/seed-n`).
fn name_problem(name: &str) -> Option<&'static str> {
    use std::path::Component;
    let path = std::path::Path::new(name);
    if path.has_root() || name.starts_with('~') {
        Some("is an absolute path")
    } else if path.components().any(|c| c == Component::ParentDir) {
        Some("leads out of runs/ (it contains `..`)")
    } else {
        None
    }
}

impl Experiment {
    /// Checks that need no plugin: budget, batch, workers, tasks, transfer/optimizer pairing.
    pub(super) fn check_structure(&self) -> HostResult<()> {
        self.check_limits()?;
        self.check_tasks()?;
        self.check_plugin_sections()
    }

    /// Budget, batch size, workers and name.
    fn check_limits(&self) -> HostResult<()> {
        let f = &self.file;
        let budget = &f.experiment.budget;
        let b = budget.get_ref();
        let problem = match (b.evaluations, b.seconds, b.epochs) {
            (None, None, None) => Some(
                "budget needs `evaluations`, `seconds` or both (a one-shot search: `epochs`, \
                 `seconds` or both), e.g. budget = { evaluations = 100 }",
            ),
            (Some(0), _, _) => Some("budget.evaluations must be at least 1"),
            (_, Some(s), _) if s.is_nan() || s <= 0.0 => Some("budget.seconds must be positive"),
            (_, _, Some(0)) => Some("budget.epochs must be at least 1"),
            _ => None,
        };
        if let Some(problem) = problem {
            return Err(self.error_at(budget.span(), problem));
        }
        if *f.experiment.batch_size.get_ref() == 0 {
            return Err(self.error_at(
                f.experiment.batch_size.span(),
                "batch_size must be at least 1",
            ));
        }
        let workers = *f.executor.workers.get_ref();
        if workers == 0 {
            return Err(self.error_at(f.executor.workers.span(), "workers must be at least 1"));
        }
        if workers > MAX_WORKERS {
            return Err(self.error_at(f.executor.workers.span(), too_many_workers(workers)));
        }
        self.check_slurm_keys()?;
        let name = f.experiment.name.get_ref();
        if name.trim().is_empty() {
            return Err(self.error_at(
                f.experiment.name.span(),
                "experiment name must not be empty",
            ));
        }
        if let Some(problem) = name_problem(name) {
            return Err(self.error_at(
                f.experiment.name.span(),
                format!(
                    "experiment name `{name}` {problem}: it names the run's folder under runs/, so \
                     give a plain name (letters, digits, `-`, `_`) and choose another folder with --out"
                ),
            ));
        }
        Ok(())
    }

    /// The `[executor]` keys of `kind = "slurm"` (docs/cluster.md): refused with `kind = "local"`,
    /// where they would be silently ignored, and checked for sense.
    fn check_slurm_keys(&self) -> HostResult<()> {
        let e = &self.file.executor;
        let file = self.path.display().to_string();
        let refuse = |message: String| {
            Err(HostError::ConfigFile {
                file: file.clone(),
                message,
            })
        };
        let given = [
            ("partition", e.partition.is_some()),
            ("time_limit", e.time_limit.is_some()),
            ("cpus_per_trial", e.cpus_per_trial.is_some()),
            ("gpus_per_trial", e.gpus_per_trial.is_some()),
            ("mem_per_trial", e.mem_per_trial.is_some()),
            ("array_limit", e.array_limit.is_some()),
            ("max_concurrent_jobs", e.max_concurrent_jobs.is_some()),
            ("trials_per_task", e.trials_per_task.is_some()),
            ("sbatch_args", !e.sbatch_args.is_empty()),
            ("setup", e.setup.is_some()),
            ("resubmits", e.resubmits.is_some()),
            ("poll_seconds", e.poll_seconds.is_some()),
        ];
        if e.kind == super::ExecutorKind::Local {
            if let Some((key, _)) = given.iter().find(|(_, set)| *set) {
                return refuse(format!(
                    "[executor] {key} is a Slurm setting: add kind = \"slurm\" or remove it"
                ));
            }
        }
        if e.poll_seconds.is_some_and(|s| !(s.is_finite() && s > 0.0)) {
            return refuse("[executor] poll_seconds must be a positive number of seconds".into());
        }
        for (key, value) in [
            ("array_limit", e.array_limit),
            ("max_concurrent_jobs", e.max_concurrent_jobs),
            ("trials_per_task", e.trials_per_task),
            ("cpus_per_trial", e.cpus_per_trial),
        ] {
            if value == Some(0) {
                return refuse(format!("[executor] {key} must be at least 1"));
            }
        }
        Ok(())
    }

    /// `[plugins] dirs` and `files` entries that do not exist: an error naming the entry (a
    /// missing folder would otherwise just hold no plugin). Checked when plugins are resolved.
    pub(super) fn check_plugin_paths(&self) -> HostResult<()> {
        let p = &self.file.plugins;
        let dirs = p.dirs.iter().map(|d| ("dirs", d, true));
        for (key, entry, want_dir) in dirs.chain(p.files.iter().map(|f| ("files", f, false))) {
            let path = self.resolve_path(entry.get_ref());
            let problem = match (path.exists(), want_dir, path.is_dir()) {
                (false, _, _) => "does not exist",
                (true, true, false) => "is not a directory",
                (true, false, true) => "is a directory, not a plugin library file",
                _ => continue,
            };
            return Err(self.error_at(
                entry.span(),
                format!(
                    "[plugins] {key}: {} {problem} (relative paths are from {})",
                    path.display(),
                    self.base_dir.display()
                ),
            ));
        }
        Ok(())
    }

    /// Sources (never the target, each once) and the source knowledge that needs them.
    fn check_tasks(&self) -> HostResult<()> {
        let f = &self.file;
        let target = f.tasks.target.get_ref();
        let mut seen = std::collections::HashSet::new();
        for s in &f.tasks.sources {
            if s.get_ref() == target {
                return Err(self.error_at(
                    s.span(),
                    format!("source task `{target}` is the target task: the target never counts as source knowledge"),
                ));
            }
            if !seen.insert(s.get_ref()) {
                return Err(self.error_at(
                    s.span(),
                    format!("source task `{}` is listed twice", s.get_ref()),
                ));
            }
        }
        if f.tasks.source_samples > 0 && f.tasks.sources.is_empty() {
            return Err(self.error_at(
                f.tasks.target.span(),
                "tasks.source_samples is set but tasks.sources is empty: name the source tasks",
            ));
        }
        let imported = f.tasks.source_runs.first().or(f.tasks.source_file.as_ref());
        if let (Some(origin), true) = (imported, f.tasks.sources.is_empty()) {
            let key = if f.tasks.source_runs.is_empty() {
                "source_file"
            } else {
                "source_runs"
            };
            return Err(self.error_at(
                origin.span(),
                format!(
                    "tasks.{key} is set but tasks.sources is empty: name the source tasks whose \
                     observations to take"
                ),
            ));
        }
        if let Some(file) = &f.tasks.source_file {
            if file.get_ref().trim().is_empty() {
                return Err(self.error_at(file.span(), "tasks.source_file must not be empty"));
            }
        }
        for run in &f.tasks.source_runs {
            if run.get_ref().trim().is_empty() {
                return Err(
                    self.error_at(run.span(), "tasks.source_runs entries must not be empty")
                );
            }
        }
        Ok(())
    }

    /// An optimizer (or a transfer that names the one it wraps), and a similarity plugin only
    /// with sources to rank.
    fn check_plugin_sections(&self) -> HostResult<()> {
        let f = &self.file;
        match (&f.optimizer, &f.transfer) {
            (None, None) => {
                return Err(HostError::ConfigFile {
                    file: self.path.display().to_string(),
                    message: "missing [optimizer] section (e.g. [optimizer] plugin = \"random\")"
                        .into(),
                })
            }
            (None, Some(t)) if t.wraps.is_none() => return Err(self.error_at(
                t.plugin.span(),
                "[transfer] needs `wraps = \"<optimizer>\"` when there is no [optimizer] section",
            )),
            (Some(o), Some(t)) => {
                if let Some(w) = &t.wraps {
                    if w.get_ref() != o.plugin.get_ref() {
                        return Err(self.error_at(
                            w.span(),
                            format!(
                                "[transfer] wraps `{}` but [optimizer] plugin is `{}`: make them the same or drop `wraps`",
                                w.get_ref(),
                                o.plugin.get_ref()
                            ),
                        ));
                    }
                }
            }
            _ => {}
        }
        if let Some(sim) = &f.similarity {
            // Whether it needs sources depends on the optimizer's kind (config::kinds).
            if let Some(k) = &sim.top_k {
                if *k.get_ref() == 0 {
                    return Err(self.error_at(k.span(), "similarity.top_k must be at least 1"));
                }
            }
        }
        Ok(())
    }

    /// Checks that `tasks.source_runs` name distinct run directories (with a store) and that
    /// `tasks.source_file` is a file. Kept out of [`Experiment::parse`] because `xnas report` parses
    /// stored experiments whose origins may since have moved; validate, run and resume call it.
    pub fn check_source_paths(&self) -> HostResult<()> {
        let t = &self.file.tasks;
        let mut seen: Vec<(PathBuf, &Spanned<String>)> = Vec::new();
        for run in &t.source_runs {
            let dir = self.resolve_path(run.get_ref());
            if !dir.is_dir() {
                return Err(self.error_at(
                    run.span(),
                    format!(
                        "tasks.source_runs: run directory {} does not exist: give the --out directory \
                         of an earlier `xnas run`, relative to this file",
                        dir.display()
                    ),
                ));
            }
            if !dir.join("store.sqlite").is_file() {
                return Err(self.error_at(
                    run.span(),
                    format!(
                        "tasks.source_runs: {} is not a run directory (it has no store.sqlite): give \
                         the --out directory of an earlier `xnas run`",
                        dir.display()
                    ),
                ));
            }
            let canonical = std::fs::canonicalize(&dir).unwrap_or(dir);
            if let Some((_, first)) = seen.iter().find(|(p, _)| *p == canonical) {
                return Err(self.error_at(
                    run.span(),
                    format!(
                        "tasks.source_runs: `{}` is the same run directory as `{}`: list each run once",
                        run.get_ref(),
                        first.get_ref()
                    ),
                ));
            }
            seen.push((canonical, run));
        }
        if let Some(file) = &t.source_file {
            let path = self.resolve_path(file.get_ref());
            if !path.is_file() {
                return Err(self.error_at(
                    file.span(),
                    format!(
                        "tasks.source_file: {} is not a file: give a CSV of observations \
                         (task,arch,metric[,test_metric,cost_seconds]), relative to this file",
                        path.display()
                    ),
                ));
            }
        }
        Ok(())
    }
}
