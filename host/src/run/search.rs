//! The search: ask a batch, persist it, evaluate it, tell it, save the optimizer's state, until
//! the budget (evaluations or seconds, checked between batches) is spent or the optimizer has
//! nothing left to propose.

use super::evaluate::observation;
use super::progress::Progress;
use super::replay::Reached;
use super::runner::Runner;
use crate::error::HostResult;
use xnas_core::{capability, ErrorKind, Observation, Optimizer, OptimizerBox, PluginError};

impl Runner {
    /// Searches on from where the replay left off.
    pub(super) fn search(
        &mut self,
        optimizer: &mut OptimizerBox,
        from: Reached,
        progress: &Progress,
    ) -> HostResult<()> {
        let budget = *self.exp.file.experiment.budget.get_ref();
        let batch_size = *self.exp.file.experiment.batch_size.get_ref() as u64;
        let mut has_state = self.resolved.optimizer.info.has(capability::STATE);
        let Reached {
            evaluations: mut done_evals,
            mut last_batch,
        } = from;
        loop {
            crate::stop::poll()?;
            let remaining = budget
                .evaluations
                .map_or(batch_size, |e| e.saturating_sub(done_evals));
            if remaining == 0 || budget.seconds.is_some_and(|s| self.elapsed() >= s) {
                break;
            }
            let n = remaining.min(batch_size) as usize;
            let proposals = optimizer.ask(n).map_err(|e| self.optimizer_error(e))?;
            if proposals.is_empty() {
                tracing::warn!(
                    "optimizer `{}` proposed nothing: stopping early",
                    self.resolved.optimizer.name()
                );
                break;
            }
            if proposals.len() > n {
                return Err(self.optimizer_error(PluginError::other(format!(
                    "asked for {n} architectures, it proposed {}",
                    proposals.len()
                ))));
            }
            let batch = last_batch + 1;
            last_batch = batch;
            let specs = self.proposal_specs(batch, proposals);
            self.store.insert_pending(&specs)?;
            let outcomes = self.evaluate(&specs.iter().collect::<Vec<_>>(), progress)?;
            let obs: Vec<Observation> = specs
                .iter()
                .zip(&outcomes)
                .map(|(s, (_, o))| observation(s, o))
                .collect();
            optimizer.tell(&obs).map_err(|e| self.optimizer_error(e))?;
            if has_state {
                match optimizer.save_state() {
                    Ok(state) => self.store.save_optimizer_state(batch, &state)?,
                    // A decorator around a stateful optimizer may not save state: resume replays.
                    Err(e) if e.kind == ErrorKind::UNSUPPORTED => {
                        tracing::info!("optimizer state is not saved ({e}); resume will replay");
                        has_state = false;
                    }
                    Err(e) => return Err(self.optimizer_error(e)),
                }
            }
            done_evals += specs.len() as u64;
            self.note_elapsed(false)?;
        }
        Ok(())
    }
}
