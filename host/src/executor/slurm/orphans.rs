//! Jobs of the run that `slurm/jobs.json` does not name: a host killed between `sbatch`
//! returning and the job id being recorded leaves them queued or running. Every job of a run
//! carries the run's job name, so the poll's one `squeue` shows them too; each such task is
//! adopted when its trials are still waiting for a job, and cancelled when any of them is
//! placed on a live task already (adopting it would evaluate that trial twice).

use super::cli::TaskState;
use super::layout::{self, Jobs, Submission};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

/// What [`reconcile`] decided.
#[derive(Default, Debug)]
pub struct Reconciled {
    /// Tasks ("job_index") now recorded in `jobs.placed`.
    pub adopted: Vec<String>,
    /// Tasks to cancel.
    pub cancel: Vec<String>,
}

/// Adopts or marks for cancelling the live tasks in `states` that `jobs` does not know.
/// `waiting` are the trials of the batch without a result.
pub fn reconcile(
    run_dir: &Path,
    states: &HashMap<(String, u32), TaskState>,
    jobs: &mut Jobs,
    waiting: &BTreeSet<u64>,
) -> Reconciled {
    let known: HashSet<&(String, u32)> = jobs.placed.values().collect();
    let mut unknown: Vec<(&(String, u32), &TaskState)> = states
        .iter()
        // A COMPLETING task is ending: nothing to adopt, nothing to cancel.
        .filter(|(key, s)| s.is_live() && s.state != "COMPLETING" && !known.contains(key))
        .collect();
    // Oldest job first, so that of two orphans for one trial the first submitted is adopted.
    unknown.sort_by_key(|((job, task), _)| (job.len(), job.clone(), *task));
    let mut done = Reconciled::default();
    for ((job, task), state) in unknown {
        let name = format!("{job}_{task}");
        let Some(submission) = Submission::read(Path::new(&state.script)) else {
            tracing::warn!(
                "slurm: task {name} of this run runs `{}`, which does not say its trials: \
                 cancelling it",
                state.script
            );
            done.cancel.push(name);
            continue;
        };
        jobs.next_submission = jobs.next_submission.max(submission.number + 1);
        let trials: Vec<u64> = submission
            .task_trials(*task)
            .iter()
            .copied()
            .filter(|&id| !layout::result_file(run_dir, id).exists())
            .collect();
        let free = |id: &u64| {
            waiting.contains(id)
                && jobs
                    .placed
                    .get(id)
                    .and_then(|placed| states.get(placed))
                    .is_none_or(|s| !s.is_live())
        };
        if trials.is_empty() {
            // Its trials have results: a running task is finishing; a queued one would start
            // only to find them.
            if state.state == "PENDING" {
                done.cancel.push(name);
            }
            continue;
        }
        if trials.iter().all(free) {
            for &id in &trials {
                jobs.placed.insert(id, (job.clone(), *task));
            }
            tracing::warn!(
                "slurm: adopting task {name} (trials {trials:?}), submitted by a host that \
                 stopped before recording it"
            );
            done.adopted.push(name);
        } else {
            tracing::warn!(
                "slurm: cancelling task {name} (trials {trials:?}): another task of this run \
                 evaluates them, or they are not waiting"
            );
            done.cancel.push(name);
        }
    }
    done
}
