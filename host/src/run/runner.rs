//! One run from its first step to its reports: [`Runner::execute`] takes the sources and their
//! knowledge, builds the optimizer, replays what the store holds ([`super::replay`]), searches
//! until the budget is spent ([`super::search`]) and writes the reports ([`super::reports`]).

use super::progress::Progress;
use super::{sources, RunOptions, RunOutcome, OPTIMIZER_SEED_TAG};
use crate::config::validate::Resolved;
use crate::config::ExecutorKind;
use crate::config::Experiment;
use crate::error::{HostError, HostResult};
use crate::executor::slurm::{self, SlurmExecutor};
use crate::executor::{Executor, LocalPool};
use crate::plugins::{assemble, Witness};
use crate::report;
use crate::stop::Signal;
use crate::store::{Role, Store, TrialSpec};
use std::path::{Path, PathBuf};
use std::time::Instant;
use xnas_core::{derive_seed, PluginError, Proposal, SearchSpace, SpaceBox};

pub(super) struct Runner {
    pub(super) exp: Experiment,
    pub(super) resolved: Resolved,
    pub(super) space: SpaceBox,
    pub(super) store: Store,
    pub(super) run_dir: PathBuf,
    pub(super) pool: Executor,
    pub(super) workers: u32,
    pub(super) seed: u64,
    pub(super) target: String,
    /// Sees the space's failures inside optimizer calls (see [`Witness`]).
    witness: Witness,
    pub(super) next_id: u64,
    pub(super) quiet: bool,
    started: Instant,
    elapsed_before: f64,
    last_elapsed_write: Instant,
}

impl Runner {
    pub(super) fn new(
        exp: Experiment,
        resolved: Resolved,
        space: SpaceBox,
        store: Store,
        run_dir: &Path,
        opts: &RunOptions,
    ) -> HostResult<Runner> {
        let workers = opts
            .workers
            .unwrap_or(*exp.file.executor.workers.get_ref())
            .max(1);
        store.set_meta("workers", &workers.to_string())?;
        // A damaged `elapsed_s` must not reset a time budget: it is an error.
        let elapsed_before = store
            .meta_parsed::<f64>("elapsed_s", "a number of seconds")?
            .unwrap_or(0.0);
        // A one-shot run on Slurm is one job (`slurm::job`): inside it, trials run here.
        let local = exp.file.executor.kind == ExecutorKind::Local || slurm::job::inside(run_dir);
        let pool = match local {
            true => Executor::Local(LocalPool::new(space.clone(), workers as usize)),
            false => Executor::Slurm(Box::new(SlurmExecutor::new(
                &exp,
                run_dir,
                &opts.plugin_dirs,
            )?)),
        };
        Ok(Runner {
            seed: exp.file.experiment.seed,
            target: exp.file.tasks.target.get_ref().clone(),
            pool,
            exp,
            resolved,
            space,
            store,
            run_dir: run_dir.to_path_buf(),
            workers,
            witness: Witness::default(),
            next_id: 0,
            quiet: opts.quiet,
            started: Instant::now(),
            elapsed_before,
            last_elapsed_write: Instant::now(),
        })
    }

    pub(super) fn elapsed(&self) -> f64 {
        self.elapsed_before + self.started.elapsed().as_secs_f64()
    }

    pub(super) fn note_elapsed(&mut self, force: bool) -> HostResult<()> {
        if force || self.last_elapsed_write.elapsed().as_secs_f64() > 1.0 {
            self.store
                .set_meta("elapsed_s", &format!("{:.6}", self.elapsed()))?;
            self.last_elapsed_write = Instant::now();
        }
        Ok(())
    }

    /// Builds a trial spec: canonicalises the proposal (an invalid one is kept, marked invalid).
    pub(super) fn spec(
        &mut self,
        batch: u64,
        role: Role,
        task: &str,
        genome: Vec<u32>,
        budget: Option<f64>,
    ) -> TrialSpec {
        let id = self.next_id;
        self.next_id += 1;
        let (canonical, arch, invalid) = match self.space.canonical(&genome) {
            Ok(a) => (a.genome.to_vec(), a.text.to_string(), None),
            Err(e) => (Vec::new(), String::new(), Some(e.message().to_string())),
        };
        TrialSpec {
            id,
            batch,
            role,
            task: task.to_string(),
            genome,
            canonical,
            arch,
            seed: derive_seed(self.seed, id),
            budget,
            invalid,
        }
    }

    /// Trial specs of an optimizer's proposals, on the target, in batch `batch`.
    pub(super) fn proposal_specs(
        &mut self,
        batch: u64,
        proposals: Vec<Proposal>,
    ) -> Vec<TrialSpec> {
        let target = self.target.clone();
        proposals
            .into_iter()
            .map(|p| {
                self.spec(
                    batch,
                    Role::Target,
                    &target,
                    p.genome.to_vec(),
                    p.budget.into_option(),
                )
            })
            .collect()
    }

    /// Runs to the end of the budget, or to a stop signal (what is done is saved and reported,
    /// and the run resumes), or to an error. Whatever ends it, the store's WAL is checkpointed,
    /// so `store.sqlite` alone holds the run.
    pub(super) fn execute(mut self) -> HostResult<RunOutcome> {
        let budget = self.exp.file.experiment.budget.get_ref().evaluations;
        let progress = Progress::new(&self.target, budget, self.quiet);
        let searched = self.steps(&progress);
        progress.finish();
        let ended = match searched {
            Ok(()) => self.note_elapsed(true).and_then(|()| self.write_reports()),
            Err(HostError::Stopped { signal, .. }) => self.stopped(signal),
            Err(e) => {
                if let Err(also) = self.note_elapsed(true) {
                    tracing::warn!("{also}");
                }
                Err(e)
            }
        };
        if let Err(e) = self.store.checkpoint() {
            tracing::warn!("{e}");
        }
        ended
    }

    /// Steps 1 to 4 of a run (see the module doc).
    fn steps(&mut self, progress: &Progress) -> HostResult<()> {
        let records = self.store.trials()?;
        self.next_id = records.last().map_or(0, |r| r.spec.id + 1);

        // 1. Source knowledge (and its ranking by similarity, recorded once): sampled, from
        //    earlier runs and from a meta-dataset file.
        let (sources, evaluated) = sources::ranked_sources(self, progress)?;
        // Landmark evaluations, if the ranking made any, are trials the knowledge step reads.
        let records = if evaluated {
            self.store.trials()?
        } else {
            records
        };
        let history = self.source_knowledge(&sources, &records, progress)?;

        // 2. The optimizer, decorated by the transfer plugin when there is one; it sees the space
        //    through a witness, so the space's own failures are blamed on the space.
        let (watched, witness) = Witness::watch(&self.space);
        self.witness = witness;
        let mut optimizer = assemble::optimizer(
            &self.exp,
            &self.resolved,
            &watched,
            &self.target,
            &sources,
            history,
            derive_seed(self.seed, OPTIMIZER_SEED_TAG),
        )
        .map_err(|e| match e {
            HostError::Plugin { error, name, .. } if name == self.resolved.optimizer.name() => {
                self.optimizer_error(error)
            }
            other => other,
        })?;

        // 3. Replay what the store holds for the target; 4. search until the budget is spent.
        let reached = self.replay(&mut optimizer, progress)?;
        self.search(&mut optimizer, reached, progress)
    }

    /// The error of a failed optimizer call, blamed on the space when it passed the space's on.
    pub(super) fn optimizer_error(&self, e: PluginError) -> HostError {
        self.witness
            .blame(&self.resolved.optimizer, &self.resolved.space, e)
    }

    /// A run stopped by `signal`: its time and reports are written (`trials.csv` and the plot;
    /// `summary.json` marks a finished run, so it waits for the end), and the error says how to
    /// go on.
    pub(super) fn stopped(&mut self, signal: Signal) -> HostResult<RunOutcome> {
        self.note_elapsed(true)?;
        let records = self.store.trials()?;
        let title = format!(
            "{} on {} (stopped)",
            self.exp.file.experiment.name.get_ref(),
            self.target
        );
        report::write_partial(&self.run_dir, &records, &title)?;
        let finished = records.iter().filter(|r| r.outcome.is_some()).count();
        let dir = self.run_dir.display();
        Err(HostError::Stopped {
            signal,
            message: format!(
                "{finished} finished trial{} saved in {dir} (trials.csv); continue with `xnas resume {dir}`",
                if finished == 1 { " is" } else { "s are" }
            ),
        })
    }
}
