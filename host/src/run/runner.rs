//! One run from its first step to its reports: [`Runner::execute`] takes the sources and their
//! knowledge, builds the optimizer, replays what the store holds ([`super::replay`]), searches
//! until the budget is spent ([`super::search`]) and writes the reports ([`super::reports`]).

use super::progress::Progress;
use super::{sources, RunOptions, RunOutcome, OPTIMIZER_SEED_TAG};
use crate::config::validate::Resolved;
use crate::config::Experiment;
use crate::error::HostResult;
use crate::executor::LocalPool;
use crate::plugins::assemble;
use crate::store::{Role, Store, TrialSpec};
use std::path::{Path, PathBuf};
use std::time::Instant;
use xnas_core::{derive_seed, Proposal, SearchSpace, SpaceBox};

pub(super) struct Runner {
    pub(super) exp: Experiment,
    pub(super) resolved: Resolved,
    pub(super) space: SpaceBox,
    pub(super) store: Store,
    pub(super) run_dir: PathBuf,
    pub(super) pool: LocalPool,
    pub(super) workers: u32,
    pub(super) seed: u64,
    pub(super) target: String,
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
        let elapsed_before = store
            .meta("elapsed_s")?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0.0);
        Ok(Runner {
            seed: exp.file.experiment.seed,
            target: exp.file.tasks.target.get_ref().clone(),
            pool: LocalPool::new(space.clone(), workers as usize),
            exp,
            resolved,
            space,
            store,
            run_dir: run_dir.to_path_buf(),
            workers,
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

    pub(super) fn execute(mut self) -> HostResult<RunOutcome> {
        let records = self.store.trials()?;
        self.next_id = records.last().map_or(0, |r| r.spec.id + 1);
        let budget = self.exp.file.experiment.budget.get_ref().evaluations;
        let progress = Progress::new(&self.target, budget, self.quiet);

        // 1. Source knowledge (and its ranking by similarity, recorded once): sampled, from
        //    earlier runs and from a meta-dataset file.
        let (sources, evaluated) = sources::ranked_sources(&mut self, &progress)?;
        // Landmark evaluations, if the ranking made any, are trials the knowledge step reads.
        let records = if evaluated {
            self.store.trials()?
        } else {
            records
        };
        let history = self.source_knowledge(&sources, &records, &progress)?;

        // 2. The optimizer, decorated by the transfer plugin when there is one.
        let mut optimizer = assemble::optimizer(
            &self.exp,
            &self.resolved,
            &self.space,
            &self.target,
            &sources,
            history,
            derive_seed(self.seed, OPTIMIZER_SEED_TAG),
        )?;

        // 3. Replay what the store holds for the target; 4. search until the budget is spent.
        let reached = self.replay(&mut optimizer, &progress)?;
        self.search(&mut optimizer, reached, &progress)?;
        self.note_elapsed(true)?;
        progress.finish();

        // 5. Reports.
        self.write_reports()
    }
}
