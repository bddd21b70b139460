//! A one-shot run from its first step to its reports: the search by steps under the budget, a
//! checkpoint at every epoch's end, the epoch files, the artifacts, then the derived
//! architectures evaluated as the run's trials.

use super::checkpoint::OneShotSearch;
use super::epochs::{self, EpochRecord, LayoutView, LAYOUT_KEY};
use super::progress::SearchBar;
use super::{artifacts, rank, Prepared};
use crate::error::{HostError, HostResult};
use crate::run::progress::Progress;
use crate::run::runner::Runner;
use crate::run::RunOutcome;
use crate::store::{Role, TrialSpec};
use xnas_core::{OneShot, PluginError};

/// Steps per call of `run`: one, so the bar moves and the seconds budget is checked each step.
const STEPS_PER_CALL: u32 = 1;
/// The batch the derived architectures are stored under.
const DERIVED_BATCH: u64 = 1;

impl Runner {
    /// Runs (or continues) the one-shot search of `prepared`, then evaluates what it derives.
    /// A stop signal checkpoints the search where it is (or leaves the derived trials pending),
    /// writes what is done and says how to resume; whatever ends it, the store's WAL is
    /// checkpointed, as for an ask/tell run.
    pub(in crate::run) fn execute_one_shot(mut self, prepared: Prepared) -> HostResult<RunOutcome> {
        let ended = match self.one_shot_steps(prepared) {
            Err(HostError::Stopped { signal, .. }) => self.stopped(signal),
            other => other,
        };
        if let Err(e) = self.store.checkpoint() {
            tracing::warn!("{e}");
        }
        ended
    }

    fn one_shot_steps(&mut self, prepared: Prepared) -> HostResult<RunOutcome> {
        let records = self.store.trials()?;
        self.next_id = records.last().map_or(0, |r| r.spec.id + 1);
        if self.store.meta(LAYOUT_KEY)?.is_none() {
            let layout = serde_json::to_string(&LayoutView::of(&prepared.layout))
                .map_err(|e| HostError::Run(format!("the supernet layout: {e}")))?;
            self.store.set_meta(LAYOUT_KEY, &layout)?;
        }
        if let Some(r) = &prepared.ranking {
            if self.store.meta(rank::RANKING_KEY)?.is_none() {
                let runs = serde_json::to_string(&r.runs).unwrap_or_default();
                self.store.set_meta(rank::RANKING_KEY, &runs)?;
                crate::report::write_json(&self.run_dir.join("similarity.json"), &r.json)?;
            }
        }
        if let Some(e) = &prepared.embedding {
            artifacts::write(&self.run_dir, &[e.artifact()]).map_err(HostError::Run)?;
        }
        let mut search = OneShotSearch::open(
            prepared.optimizer,
            prepared.entry,
            &self.store,
            &self.run_dir,
        )?;
        let epochs = self.exp.file.experiment.budget.get_ref().epochs;
        let bar = SearchBar::new(&self.target, epochs, self.quiet);
        if search.checkpoint.done.is_none() {
            self.search_one_shot(&mut search, &bar)?;
        }
        let cp = &search.checkpoint;
        bar.note(&format!(
            "search ended ({}) after {} epochs, {:.1} s",
            cp.done.as_deref().unwrap_or("finished"),
            cp.epochs,
            cp.search_seconds
        ));
        bar.finish();
        self.write_epoch_files(true)?;

        let kept = search
            .optimizer
            .artifacts()
            .map_err(|e| search.entry.error(e))?;
        artifacts::write(&self.run_dir, &kept)
            .map_err(|m| search.entry.error(PluginError::other(m)))?;

        let pending = if records.iter().any(|r| r.spec.role == Role::Target) {
            records
                .into_iter()
                .filter(|r| r.outcome.is_none())
                .map(|r| r.spec)
                .collect()
        } else {
            self.derived(&mut search)?
        };
        let progress = Progress::new(&self.target, Some(pending.len() as u64), self.quiet);
        self.evaluate(&pending.iter().collect::<Vec<_>>(), &progress)?;
        progress.finish();
        self.note_elapsed(true)?;
        self.write_reports()
    }

    /// Steps the search until it ends or the budget is spent, checkpointing every epoch.
    fn search_one_shot(&mut self, s: &mut OneShotSearch, bar: &SearchBar) -> HostResult<()> {
        let budget = *self.exp.file.experiment.budget.get_ref();
        loop {
            if crate::stop::requested().is_some() {
                // Mid-epoch: the optimizer's state holds the data position, so resume goes on
                // from this very step.
                s.save(&mut self.store, &self.run_dir, None, None)?;
                crate::stop::poll()?;
            }
            let spent = if budget.epochs.is_some_and(|e| s.checkpoint.epochs >= e) {
                Some("epochs")
            } else if budget.seconds.is_some_and(|b| s.seconds() >= b) {
                Some("seconds")
            } else {
                None
            };
            if let Some(why) = spent {
                return s.save(&mut self.store, &self.run_dir, None, Some(why));
            }
            let p = s
                .optimizer
                .run(STEPS_PER_CALL)
                .map_err(|e| s.entry.error(e))?;
            bar.step(&p, s.checkpoint.epochs);
            let record = p
                .epoch_done
                .as_ref()
                .into_option()
                .map(|r| EpochRecord::new(r, s.seconds()));
            if p.steps == 0 && record.is_none() && !p.finished {
                return Err(s.entry.error(PluginError::other(
                    "`run` made no step, ended no epoch and did not finish",
                )));
            }
            if record.is_some() || p.finished {
                let done = p.finished.then_some("finished");
                s.save(&mut self.store, &self.run_dir, record.as_ref(), done)?;
                if let Some(r) = &record {
                    bar.epoch(r);
                    self.write_epoch_files(false)?;
                }
                if p.finished {
                    return Ok(());
                }
            }
            self.note_elapsed(false)?;
        }
    }

    /// Derives the final architectures and stores them as pending trials.
    fn derived(&mut self, s: &mut OneShotSearch) -> HostResult<Vec<TrialSpec>> {
        let n = self.exp.derive_count();
        let proposals = s
            .optimizer
            .derive(n as usize)
            .map_err(|e| s.entry.error(e))?;
        if proposals.is_empty() || proposals.len() > n as usize {
            return Err(s.entry.error(PluginError::other(format!(
                "asked to derive {n} architectures, it gave {}",
                proposals.len()
            ))));
        }
        let specs = self.proposal_specs(DERIVED_BATCH, proposals);
        self.store.insert_pending(&specs)?;
        Ok(specs)
    }

    /// `alpha.csv` and `epochs.csv` from the store, and the α plots when `plots`.
    fn write_epoch_files(&self, plots: bool) -> HostResult<()> {
        match epochs::stored(&self.store)? {
            Some((layout, records)) => epochs::write_files(&self.run_dir, &layout, &records, plots),
            None => Ok(()),
        }
    }
}
