//! The `xfer` decorator: gives the inner optimizer the universal + residual head factory, checks
//! the source knowledge it gets, and follows the XferNAS phases in the log.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use xnas_core::{
    capability, head_factory_box, optimizer_box, state, HeadFactoryBox, Observation, Optimizer,
    OptimizerBox, OptimizerInit, PluginError, PluginResult, Proposal, Transfer, TransferInit,
    TrialStatus,
};

use crate::head::XferHeadFactory;
use crate::params::XferParams;

/// At most this many offending trial ids are listed in the leakage error.
const LISTED_IDS: usize = 10;

/// The transfer plugin object the host creates.
pub struct Xfer {
    params: XferParams,
    target: String,
    tasks: usize,
}

impl Xfer {
    /// Refuses an inner optimizer that does not take heads: xfer works only through them.
    pub fn new(params: XferParams, init: &TransferInit) -> PluginResult<Self> {
        if !init.inner.has(capability::HEADS) {
            return Err(PluginError::invalid_params(format!(
                "xfer decorates optimizers that take heads (capability `heads`); `{}` does not — wrap `nao` or `rl-controller`",
                init.inner.name
            )));
        }
        let params = params.for_inner(&init.inner);
        tracing::debug!(
            "xfer: residual learning rate {} for `{}`",
            params.residual_lr(),
            init.inner.name
        );
        Ok(Xfer {
            params,
            target: init.target.to_string(),
            tasks: init.sources.len() + 1,
        })
    }
}

/// Refuses source knowledge that holds observations of the target (the target's own results
/// must come only from the search).
pub fn check_no_leak(init: &OptimizerInit) -> PluginResult<()> {
    let target = init.target.as_str();
    let leaked: Vec<u64> = init
        .history
        .iter()
        .filter(|o| o.task.as_str() == target)
        .map(|o| o.trial_id)
        .collect();
    if leaked.is_empty() {
        return Ok(());
    }
    let mut ids: Vec<String> = leaked
        .iter()
        .take(LISTED_IDS)
        .map(|i| i.to_string())
        .collect();
    if leaked.len() > LISTED_IDS {
        ids.push(format!("and {} more", leaked.len() - LISTED_IDS));
    }
    Err(PluginError::data(format!(
        "xfer: the source knowledge holds {} observation{} of the target task `{target}` (trial ids {}); \
         the target must never be part of source knowledge (check `sources`, `source_runs` and `source_file` in [tasks])",
        leaked.len(),
        if leaked.len() == 1 { "" } else { "s" },
        ids.join(", ")
    )))
}

fn is_success(o: &Observation) -> bool {
    o.status == TrialStatus::OK && o.metric.is_finite()
}

impl Transfer for Xfer {
    fn head_factory(&self) -> PluginResult<HeadFactoryBox> {
        Ok(head_factory_box(
            XferHeadFactory::new(self.params.clone(), self.tasks).with_target(&self.target),
        ))
    }

    fn wrap(&mut self, inner: OptimizerBox, init: &OptimizerInit) -> PluginResult<OptimizerBox> {
        self.decorate(inner, init).map(optimizer_box)
    }
}

impl Xfer {
    /// What `wrap` does, returning the concrete decorator.
    pub fn decorate(
        &self,
        inner: OptimizerBox,
        init: &OptimizerInit,
    ) -> PluginResult<XferOptimizer> {
        if init.target.as_str() != self.target {
            return Err(PluginError::other(format!(
                "xfer: created for target `{}` but asked to wrap an optimizer for `{}`",
                self.target, init.target
            )));
        }
        check_no_leak(init)?;
        let mut per_task: BTreeMap<&str, usize> =
            init.sources.iter().map(|s| (s.as_str(), 0)).collect();
        for o in init.history.iter() {
            *per_task.entry(o.task.as_str()).or_default() += 1;
        }
        if init.history.is_empty() {
            tracing::warn!(
                "xfer: no source knowledge for target `{}`: with nothing to transfer from, the search \
                 equals the plain optimizer (set `source_samples`, `source_runs` or `source_file` in [tasks])",
                self.target
            );
        } else {
            let counts: Vec<String> = per_task.iter().map(|(t, n)| format!("{t} {n}")).collect();
            tracing::info!(
                "xfer: source knowledge for target `{}`: {} observations ({}); start points from the best \
                 source architectures until the target has {} successful observations",
                self.target,
                init.history.len(),
                counts.join(", "),
                self.params.phase_switch
            );
        }
        Ok(XferOptimizer {
            inner,
            target: self.target.clone(),
            phase_switch: u64::from(self.params.phase_switch),
            successes: 0,
        })
    }
}

/// The decorated optimizer: the inner one does the work (its heads are xfer's); this layer
/// counts the target's successes to report the phase switch.
pub struct XferOptimizer {
    inner: OptimizerBox,
    target: String,
    phase_switch: u64,
    successes: u64,
}

/// The owner name of the decorator's saved state (`xnas_core::state`).
const STATE_OWNER: &str = "xfer";
/// Format 1 was a hand-rolled `xnasxfr1` prefix; 2 is the state format.
const STATE_VERSION: u32 = 2;

/// A saved decorator: its counter and the inner optimizer's own state.
#[derive(Serialize, Deserialize)]
struct Saved {
    target: String,
    successes: u64,
    // As bytes: the same encoding as a sequence of u8, in one copy (docs/plugins/xfer.md, "Cost").
    #[serde(with = "serde_bytes")]
    inner: Vec<u8>,
}

impl XferOptimizer {
    /// Successful target observations told so far.
    pub fn target_successes(&self) -> u64 {
        self.successes
    }

    /// Whether start points now come from the target (XferNAS phase 2).
    pub fn in_phase_two(&self) -> bool {
        self.successes >= self.phase_switch
    }
}

impl Optimizer for XferOptimizer {
    fn ask(&mut self, n: usize) -> PluginResult<Vec<Proposal>> {
        self.inner.ask(n)
    }

    fn tell(&mut self, observations: &[Observation]) -> PluginResult<()> {
        let before = self.in_phase_two();
        self.successes += observations
            .iter()
            .filter(|o| o.task.as_str() == self.target && is_success(o))
            .count() as u64;
        if !before && self.in_phase_two() {
            tracing::info!(
                "xfer: phase 2 — target `{}` has {} successful observations (phase_switch {}): start points, \
                 for optimizers that use them, now come from the best target architectures",
                self.target,
                self.successes,
                self.phase_switch
            );
        }
        self.inner.tell(observations)
    }

    fn predict(&mut self, genomes: &[Vec<u32>]) -> PluginResult<Vec<f64>> {
        self.inner.predict(genomes)
    }

    fn save_state(&self) -> PluginResult<Vec<u8>> {
        let saved = Saved {
            target: self.target.clone(),
            successes: self.successes,
            inner: self.inner.save_state()?,
        };
        state::encode(STATE_OWNER, STATE_VERSION, &saved)
    }

    fn load_state(&mut self, blob: &[u8]) -> PluginResult<()> {
        let saved: Saved = state::decode(STATE_OWNER, STATE_VERSION, blob)?;
        if saved.target != self.target {
            return Err(PluginError::data(format!(
                "xfer state: saved while searching `{}`, this run searches `{}`: resume with the \
                 experiment file the run started with",
                saved.target, self.target
            )));
        }
        self.inner.load_state(&saved.inner)?;
        self.successes = saved.successes;
        Ok(())
    }
}
