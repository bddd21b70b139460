//! Resuming by replay: the optimizer is rebuilt from its seed and the source knowledge, then
//! asked again for every stored batch of the target. It must propose the same architectures (or
//! its saved state covers the batch); what was left pending is evaluated, and it is told each
//! batch as it was told before.

use super::evaluate::observation;
use super::progress::Progress;
use super::runner::Runner;
use super::sources;
use crate::error::{HostError, HostResult};
use crate::store::{genome_text, Outcome, Role, TrialRecord, TrialSpec};
use std::collections::BTreeMap;
use xnas_core::abi_stable::std_types::RVec;
use xnas_core::{
    capability, derive_seed, Observation, Optimizer, OptimizerBox, Proposal, SearchSpace,
};

/// Where a replay leaves the search: target evaluations spent and the last batch number.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Reached {
    pub(super) evaluations: u64,
    pub(super) last_batch: u64,
}

impl Runner {
    /// Replays the target's stored batches into `optimizer`.
    pub(super) fn replay(
        &mut self,
        optimizer: &mut OptimizerBox,
        progress: &Progress,
    ) -> HostResult<Reached> {
        let mut batches: BTreeMap<u64, Vec<TrialRecord>> = BTreeMap::new();
        for r in self.store.trials()?.into_iter() {
            if r.spec.role == Role::Target {
                batches.entry(r.spec.batch).or_default().push(r);
            }
        }
        let mut reached = Reached::default();
        let resume_state = self.restore_state(optimizer)?;
        if !batches.is_empty() {
            tracing::info!("resuming: replaying {} stored batches", batches.len());
        }
        for (&batch, trials) in &batches {
            crate::stop::poll()?;
            reached.last_batch = batch;
            let finished = trials.iter().filter(|t| t.outcome.is_some()).count() as u64;
            progress.replayed(finished);
            reached.evaluations += trials.len() as u64;
            if resume_state.is_some_and(|b| batch <= b) {
                continue; // covered by the restored state
            }
            self.check_asked(optimizer, batch, trials)?;
            let pending: Vec<&TrialSpec> = trials
                .iter()
                .filter(|t| t.outcome.is_none())
                .map(|t| &t.spec)
                .collect();
            let mut fresh: BTreeMap<u64, Outcome> =
                self.evaluate(&pending, progress)?.into_iter().collect();
            let obs: Vec<Observation> = trials
                .iter()
                .map(|t| {
                    let o = t
                        .outcome
                        .clone()
                        .or_else(|| fresh.remove(&t.spec.id))
                        .expect("every trial has an outcome");
                    observation(&t.spec, &o)
                })
                .collect();
            optimizer.tell(&obs).map_err(|e| self.optimizer_error(e))?;
        }
        Ok(reached)
    }

    /// Asks the optimizer for a stored batch again and checks it proposes what it proposed then.
    /// Batch 0 holds the similarity plugin's landmark evaluations: told, never asked.
    fn check_asked(
        &self,
        optimizer: &mut OptimizerBox,
        batch: u64,
        trials: &[TrialRecord],
    ) -> HostResult<()> {
        let opt_name = self.resolved.optimizer.name();
        let asked = if batch == sources::LANDMARK_TARGET_BATCH {
            trials
                .iter()
                .map(|t| Proposal {
                    genome: RVec::from(t.spec.genome.clone()),
                    budget: t.spec.budget.into(),
                })
                .collect()
        } else {
            optimizer
                .ask(trials.len())
                .map_err(|e| self.optimizer_error(e))?
        };
        let differs = asked.len() != trials.len()
            || asked
                .iter()
                .zip(trials)
                .any(|(p, t)| p.genome.as_slice() != t.spec.genome.as_slice());
        if differs {
            // A row that contradicts itself was damaged after it was written: say so, rather
            // than blame the optimizer for the difference.
            if let Some(damage) = trials.iter().find_map(|t| self.row_damage(t)) {
                return Err(HostError::Damaged {
                    path: self.store.path().to_path_buf(),
                    message: format!(
                        "{damage} (replaying batch {batch}; the optimizer is not at fault)"
                    ),
                });
            }
        }
        if asked.len() != trials.len() {
            return Err(HostError::Run(format!(
                "cannot resume: optimizer `{opt_name}` proposed {} architectures when replaying batch {batch}, \
                 which had {}",
                asked.len(),
                trials.len()
            )));
        }
        for (p, t) in asked.iter().zip(trials) {
            if p.genome.as_slice() != t.spec.genome.as_slice() {
                return Err(HostError::Run(format!(
                    "cannot resume: optimizer `{opt_name}` is not deterministic — replaying trial {} it proposed \
                     {} where the run had {}. Optimizers must be a function of their seed and what they were told",
                    t.spec.id,
                    genome_text(&p.genome),
                    genome_text(&t.spec.genome)
                )));
            }
        }
        Ok(())
    }

    /// What makes a stored trial contradict itself, if anything: its seed is not the one its id
    /// gives, or its genome does not give its stored canonical form and text.
    fn row_damage(&self, t: &TrialRecord) -> Option<String> {
        let s = &t.spec;
        if s.seed != derive_seed(self.seed, s.id) {
            return Some(format!(
                "trial {}'s seed {} is not the seed its id gives ({})",
                s.id,
                s.seed,
                derive_seed(self.seed, s.id)
            ));
        }
        if s.invalid.is_some() {
            return None;
        }
        match self.space.canonical(&s.genome) {
            Ok(a) if a.genome.as_slice() == s.canonical.as_slice() && a.text.as_str() == s.arch => {
                None
            }
            Ok(a) => Some(format!(
                "trial {}'s genome {} gives the architecture {}, but the row holds {} ({})",
                s.id,
                genome_text(&s.genome),
                a.text,
                s.arch,
                genome_text(&s.canonical)
            )),
            Err(e) => Some(format!(
                "trial {}'s genome {} is not valid in the space ({}), though it was evaluated",
                s.id,
                genome_text(&s.genome),
                e.message()
            )),
        }
    }

    /// Loads the optimizer's saved state when it has one; returns the batch it covers.
    fn restore_state(&self, optimizer: &mut OptimizerBox) -> HostResult<Option<u64>> {
        if !self.resolved.optimizer.info.has(capability::STATE) {
            return Ok(None);
        }
        match self.store.optimizer_state()? {
            Some((batch, state)) => {
                optimizer
                    .load_state(&state)
                    .map_err(|e| self.optimizer_error(e))?;
                Ok(Some(batch))
            }
            None => Ok(None),
        }
    }
}
