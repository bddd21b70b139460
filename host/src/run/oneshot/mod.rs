//! A run with a one-shot optimizer (capability `one-shot`: DARTS, P-DARTS): instead of asking
//! and telling, the host drives the optimizer's search by steps (`run(max_steps)`) until it
//! ends or the budget (epochs, seconds) is spent, checkpoints it at every epoch's end
//! ([`checkpoint`]), writes `alpha.csv`, `epochs.csv` and the α plots ([`epochs`]) and the
//! optimizer's artifacts ([`artifacts`]), then evaluates the architectures it derives as
//! ordinary trials, so `trials.csv`, `summary.json` and every command that reads a run work as
//! for any run ([`search`]).
//!
//! [`prepare`] creates the optimizer before the run directory exists: a space without a
//! supernet, a layout the optimizer cannot search, or parameters it refuses are bad input, one
//! sentence, and nothing is written. A warm-starting optimizer gets its source runs' artifacts
//! ranked by `[similarity]` there too ([`rank`]).

pub mod artifacts;
mod checkpoint;
pub mod embedding;
pub mod epochs;
mod progress;
pub mod rank;
mod search;

pub use checkpoint::OneShotSearch;

use super::OPTIMIZER_SEED_TAG;
use crate::config::validate::Resolved;
use crate::config::{params_text, Experiment};
use crate::error::HostResult;
use crate::plugins::PluginEntry;
use xnas_core::{
    derive_seed, ErrorKind, OneShotBox, OneShotInit, PluginError, SearchSpace, SpaceBox,
    SupernetLayout,
};

/// A one-shot optimizer created for a run, and the layout of its space's supernets.
pub struct Prepared {
    pub optimizer: OneShotBox,
    pub entry: PluginEntry,
    pub layout: SupernetLayout,
    /// The source runs ranked for a warm start now, for the run to record.
    pub ranking: Option<rank::Ranking>,
    /// The target's similarity embedding, for the run to keep ([`embedding`]); set by the run.
    pub embedding: Option<embedding::Stored>,
}

/// For a one-shot optimizer: the space's supernet layout and the optimizer, created (it builds
/// its first supernet, so its data and parameters are checked); None for an ask/tell optimizer.
pub fn prepare(
    exp: &Experiment,
    resolved: &Resolved,
    space: &SpaceBox,
) -> HostResult<Option<Prepared>> {
    prepare_ranked(exp, resolved, space, None)
}

/// [`prepare`] with the source runs in the order a run recorded (`rank::stored`), if any.
pub fn prepare_ranked(
    exp: &Experiment,
    resolved: &Resolved,
    space: &SpaceBox,
    stored: Option<Vec<String>>,
) -> HostResult<Option<Prepared>> {
    let entry = &resolved.optimizer;
    if !Experiment::is_one_shot(entry) {
        return Ok(None);
    }
    let layout = layout(exp, resolved, space)?;
    let (source_artifacts, ranking) =
        rank::order(exp, resolved, space, artifacts::sources(exp)?, stored)?;
    let init = OneShotInit {
        space: space.clone(),
        target: exp.file.tasks.target.get_ref().as_str().into(),
        sources: exp.sources().iter().map(|s| s.as_str().into()).collect(),
        source_artifacts: source_artifacts.into(),
        seed: derive_seed(exp.file.experiment.seed, OPTIMIZER_SEED_TAG),
        base_dir: exp.base_dir.display().to_string().into(),
    };
    let optimizer = entry
        .create_one_shot(&params_text(exp.optimizer_params()), &init)
        .map_err(|e| refused(exp, entry, e))?;
    Ok(Some(Prepared {
        optimizer,
        entry: entry.clone(),
        layout,
        ranking,
        embedding: None,
    }))
}

/// The space's supernet layout; a space that declares `supernet` but cannot offer one with
/// these settings (`nasnet` with another op set) is bad input at `[search_space]`.
pub fn layout(
    exp: &Experiment,
    resolved: &Resolved,
    space: &SpaceBox,
) -> HostResult<SupernetLayout> {
    space.supernet_layout().map_err(|e| {
        exp.error_at(
            exp.file.search_space.plugin.span(),
            format!(
                "search space `{}` cannot build a supernet for one-shot optimizer `{}`: {}",
                resolved.space.name(),
                resolved.optimizer.name(),
                e.message()
            ),
        )
    })
}

/// An optimizer's refusal to be created: bad input (parameters, a layout it cannot search,
/// too little data) at the optimizer's place in the file; anything else is the plugin's error.
fn refused(exp: &Experiment, entry: &PluginEntry, e: PluginError) -> crate::error::HostError {
    let bad_input = [
        ErrorKind::INVALID_PARAMS,
        ErrorKind::UNSUPPORTED,
        ErrorKind::DATA,
        ErrorKind::UNKNOWN_TASK,
    ];
    if !bad_input.contains(&e.kind) {
        return entry.error(e);
    }
    let name = exp.optimizer_name();
    let span = exp
        .optimizer_params()
        .map_or(name.span(), |p| exp.key_span(p.span(), e.message()));
    exp.error_at(
        span,
        format!("optimizer `{}`: {}", entry.name(), e.message()),
    )
}
