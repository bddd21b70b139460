//! What each kind of optimizer needs from the rest of the file: a black-box (ask/tell) optimizer
//! is budgeted in evaluations or seconds; a one-shot optimizer needs a space that offers a
//! supernet, is budgeted in epochs or seconds, and uses neither source observations nor a
//! transfer plugin. Checked with the plugins' declared capabilities, before anything runs.

use super::Experiment;
use crate::error::HostResult;
use crate::plugins::PluginEntry;
use xnas_core::capability;

impl Experiment {
    /// Whether the experiment's optimizer is a one-shot optimizer (it declares `one-shot`).
    pub fn is_one_shot(optimizer: &PluginEntry) -> bool {
        optimizer.info.has(capability::ONE_SHOT)
    }

    /// The kind checks of the optimizer `optimizer` with the space `space`.
    pub(super) fn check_optimizer_kind(
        &self,
        space: &PluginEntry,
        optimizer: &PluginEntry,
    ) -> HostResult<()> {
        let opt_name = self.optimizer_name();
        if Self::is_one_shot(optimizer) {
            return self.check_one_shot(space, optimizer);
        }
        if !optimizer.info.has(capability::ASK_TELL) {
            return Err(self.error_at(
                opt_name.span(),
                format!(
                    "optimizer `{}` does not speak ask/tell (capabilities: {}); `xnas run` drives \
                     ask/tell and one-shot optimizers",
                    optimizer.name(),
                    optimizer
                        .info
                        .capabilities
                        .iter()
                        .map(|c| c.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let f = &self.file;
        self.similarity_needs_sources()?;
        if f.experiment.budget.get_ref().epochs.is_some() {
            return Err(self.error_at(
                f.experiment.budget.span(),
                format!(
                    "budget.epochs counts the epochs of a one-shot search, and optimizer `{}` is \
                     an ask/tell optimizer: budget it in `evaluations` or `seconds`",
                    optimizer.name()
                ),
            ));
        }
        if let Some(d) = f.optimizer.as_ref().and_then(|o| o.derive.as_ref()) {
            return Err(self.error_at(
                d.span(),
                format!(
                    "`derive` sets how many architectures a one-shot optimizer derives, and \
                     optimizer `{}` is an ask/tell optimizer: remove it",
                    optimizer.name()
                ),
            ));
        }
        Ok(())
    }

    fn check_one_shot(&self, space: &PluginEntry, optimizer: &PluginEntry) -> HostResult<()> {
        let f = &self.file;
        let opt = optimizer.name();
        if !space.info.has(capability::SUPERNET) {
            return Err(self.error_at(
                f.search_space.plugin.span(),
                format!(
                    "optimizer `{opt}` is a one-shot optimizer: it needs a search space that \
                     offers a supernet (capability `supernet`, such as `nasnet` with ops = \
                     \"darts\" or `nb201`), and search space `{}` does not",
                    space.name()
                ),
            ));
        }
        if let Some(t) = &f.transfer {
            return Err(self.error_at(
                t.plugin.span(),
                format!(
                    "transfer `{}` decorates ask/tell optimizers, and `{opt}` is a one-shot \
                     optimizer: remove [transfer]",
                    t.plugin.get_ref()
                ),
            ));
        }
        // [similarity] ranks a warm-starting optimizer's (`ws-darts`) source runs
        // (run::oneshot::rank); for any other one-shot optimizer it embeds the target, kept with
        // the run for later warm starts (run::oneshot::embedding).
        if optimizer.info.has(capability::WARM_START) {
            self.similarity_needs_sources()?;
        }
        let t = &f.tasks;
        let unused = if t.source_samples > 0 {
            Some("tasks.source_samples")
        } else if t.source_file.is_some() {
            Some("tasks.source_file")
        } else {
            None
        };
        if let Some(key) = unused {
            return Err(self.error_at(
                t.target.span(),
                format!(
                    "{key} gives source observations, which one-shot optimizer `{opt}` does not \
                     use: remove it (tasks.source_runs passes earlier runs' artifacts)"
                ),
            ));
        }
        if let Some(d) = f.optimizer.as_ref().and_then(|o| o.derive.as_ref()) {
            if *d.get_ref() == 0 {
                return Err(self.error_at(d.span(), "`derive` must be at least 1"));
            }
        }
        Ok(())
    }

    /// `[similarity]` ranking sources (an ask/tell run's source knowledge, a warm start's source
    /// runs) needs some.
    fn similarity_needs_sources(&self) -> HostResult<()> {
        match &self.file.similarity {
            Some(sim) if self.file.tasks.sources.is_empty() => Err(self.error_at(
                sim.plugin.span(),
                "[similarity] ranks source tasks, but tasks.sources is empty",
            )),
            _ => Ok(()),
        }
    }

    /// Architectures a one-shot search derives and evaluates: `[optimizer] derive` (default 1),
    /// at most `budget.evaluations`.
    pub fn derive_count(&self) -> u32 {
        let derive = self
            .file
            .optimizer
            .as_ref()
            .and_then(|o| o.derive.as_ref())
            .map_or(1, |d| *d.get_ref());
        match self.file.experiment.budget.get_ref().evaluations {
            Some(e) => derive.min(u32::try_from(e).unwrap_or(u32::MAX)),
            None => derive,
        }
    }
}
