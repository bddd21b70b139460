//! `xnas worker RUN_DIR --trial ID...`: what one Slurm array task runs on a compute node. It
//! builds the run's search space from `slurm/run.json`, evaluates each trial from its request file
//! with the same code as a local worker ([`super::evaluate_one`]) and writes each result file once
//! (a temporary file, then a rename). A trial whose result exists is skipped, so a task run twice
//! evaluates nothing twice. It never opens the store.

use super::slurm::layout::{self, ResultFile, RunFile, TrialFile};
use crate::config::Experiment;
use crate::error::{HostError, HostResult};
use crate::plugins::assemble;
use std::path::Path;

/// Evaluates the trials `ids` of the run in `run_dir`; returns how many it evaluated.
pub fn work(run_dir: &Path, ids: &[u64]) -> HostResult<usize> {
    let todo: Vec<u64> = ids
        .iter()
        .copied()
        .filter(|&id| !layout::result_file(run_dir, id).exists())
        .collect();
    if todo.is_empty() {
        return Ok(0);
    }
    let run: RunFile = layout::read(&layout::run_file(run_dir))?.ok_or_else(|| {
        HostError::Usage(format!(
            "{} has no slurm/run.json: `xnas worker` evaluates trials of a run on the Slurm executor",
            run_dir.display()
        ))
    })?;
    let exp = Experiment::parse(
        run.experiment,
        run_dir.join("experiment.toml"),
        run.base_dir,
    )?;
    let registry = crate::run::discover(&exp, &run.plugin_dirs);
    let resolved = exp.resolve_plugins(&registry)?;
    let space = assemble::space(&exp, &resolved.space)?;
    for &id in &todo {
        let path = layout::trial_file(run_dir, id);
        let trial: TrialFile = layout::read(&path)?.ok_or_else(|| {
            HostError::Usage(format!(
                "trial {id} has no request file {}: the host writes it before submitting",
                path.display()
            ))
        })?;
        let (result, wall_s) = super::evaluate_one(&space, &trial.request());
        layout::write_atomic(
            &layout::result_file(run_dir, id),
            &ResultFile::of(id, &result, wall_s),
        )?;
    }
    Ok(todo.len())
}
