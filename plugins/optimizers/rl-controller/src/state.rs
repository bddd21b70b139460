//! Saved state of the controller (capability `state`): a resumed run continues exactly where the
//! saved one stood, so its proposals are the ones the uninterrupted run would have made.
//!
//! Written in the plugins' one state format (`xnas_core::state`, owner `rl-controller`): the
//! header ([`Header`]: the space's decisions, plain or decorated, progress), the controller's
//! tensors (parameters and Adam moments as named tensors, `xnas_tch::snapshot`), and each head's
//! own state by name.

use crate::optimizer::{Progress, RlController};
use serde::{Deserialize, Serialize};
use xnas_core::{state, PluginError, PluginResult};

const OWNER: &str = "rl-controller";
/// Format 1 was a hand-rolled text marker with length-prefixed JSON and tensors; 2 is the state
/// format.
const VERSION: u32 = 2;

#[derive(Serialize, Deserialize)]
struct Header {
    /// Choice count of every decision: a state only fits the space it was saved with.
    choices: Vec<u32>,
    decorated: bool,
    progress: Progress,
}

/// The byte fields are written as bytes, not as sequences of u8: postcard encodes both the same
/// way (a length, then the bytes), but a sequence goes through serde one byte at a time, which
/// made saving a decorated controller's state (megabytes of head tensors, after every batch) cost
/// more than its search.
#[derive(Serialize, Deserialize)]
struct Saved {
    header: Header,
    #[serde(with = "serde_bytes")]
    tensors: Vec<u8>,
    /// `(head name, its state)`, in head order.
    heads: Vec<HeadState>,
}

/// One head's saved state, by name.
#[derive(Serialize, Deserialize)]
struct HeadState(String, #[serde(with = "serde_bytes")] Vec<u8>);

pub(crate) fn save(c: &RlController) -> PluginResult<Vec<u8>> {
    let saved = Saved {
        header: Header {
            choices: c.policy.choices(),
            decorated: c.is_decorated(),
            progress: c.progress.clone(),
        },
        tensors: c.policy.save_tensors()?,
        heads: c
            .policy
            .save_heads()?
            .into_iter()
            .map(|(n, s)| HeadState(n, s))
            .collect(),
    };
    state::encode(OWNER, VERSION, &saved)
}

pub(crate) fn load(c: &mut RlController, blob: &[u8]) -> PluginResult<()> {
    let Saved {
        header,
        tensors,
        heads,
    } = state::decode(OWNER, VERSION, blob)?;
    if header.choices != c.policy.choices() {
        return Err(PluginError::data(format!(
            "rl-controller state: saved for a space with decisions {:?}, this one has {:?}",
            header.choices,
            c.policy.choices()
        )));
    }
    if header.decorated != c.is_decorated() {
        return Err(PluginError::data(format!(
            "rl-controller state: saved {} a transfer plugin, this run is {} one",
            if header.decorated { "with" } else { "without" },
            if c.is_decorated() { "with" } else { "without" },
        )));
    }
    if header.progress.baselines.len() != c.progress.baselines.len() {
        return Err(PluginError::data(format!(
            "rl-controller state: saved with {} tasks, this run has {}",
            header.progress.baselines.len(),
            c.progress.baselines.len()
        )));
    }
    let heads: Vec<(String, Vec<u8>)> = heads.into_iter().map(|HeadState(n, s)| (n, s)).collect();
    c.policy.load(&tensors, &heads)?;
    c.progress = header.progress;
    Ok(())
}
