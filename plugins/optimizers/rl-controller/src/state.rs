//! Saved state of the controller (capability `state`): a resumed run continues exactly where the
//! saved one stood, so its proposals are the ones the uninterrupted run would have made.
//!
//! Written in the plugins' one state format (`xnas_core::state`, owner `rl-controller`): the
//! header ([`Header`]: the space's decisions, plain or decorated, progress), the controller's
//! tensors (parameters and Adam moments as named tensors, `xnas_tch::snapshot`), and each head's
//! own state by name.

use crate::optimizer::{Elite, Progress, RlController};
use serde::{Deserialize, Serialize};
use xnas_core::{state, PluginError, PluginResult};

const OWNER: &str = "rl-controller";
/// Format 1 was a hand-rolled text marker with length-prefixed JSON and tensors; 2 is the state
/// format; 3 adds the target's best results (`self_imitation`). Format 2 is still read.
const VERSION: u32 = 3;

#[derive(Serialize, Deserialize)]
struct Header {
    /// Choice count of every decision: a state only fits the space it was saved with.
    choices: Vec<u32>,
    decorated: bool,
    progress: Progress,
    /// The target's best results (`self_imitation`; format 3).
    elite: Elite,
}

/// Format 2's header: no best results, which no format-2 controller kept.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct HeaderV2 {
    choices: Vec<u32>,
    decorated: bool,
    progress: Progress,
}

impl From<HeaderV2> for Header {
    fn from(h: HeaderV2) -> Self {
        Header {
            choices: h.choices,
            decorated: h.decorated,
            progress: h.progress,
            elite: Elite::new(),
        }
    }
}

/// The byte fields are written as bytes, not as sequences of u8: postcard encodes both the same
/// way (a length, then the bytes), but a sequence goes through serde one byte at a time, which
/// made saving a decorated controller's state (megabytes of head tensors, after every batch) cost
/// more than its search.
#[derive(Serialize, Deserialize)]
struct Saved<H = Header> {
    header: H,
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
            elite: c.elite.clone(),
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
    let (version, bytes) = state::open(OWNER, blob)?;
    let saved: Saved = match version {
        VERSION => state::decode_value(OWNER, bytes)?,
        2 => {
            let old: Saved<HeaderV2> = state::decode_value(OWNER, bytes)?;
            Saved {
                header: old.header.into(),
                tensors: old.tensors,
                heads: old.heads,
            }
        }
        other => return Err(state::unread_format(OWNER, other, &[2, VERSION])),
    };
    let Saved {
        header,
        tensors,
        heads,
    } = saved;
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
    c.elite = header.elite;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::RlParams;
    use xnas_core::{space_box, Optimizer};
    use xnas_testkit::{optimizer_init, ToySpace};

    /// A run saved by the version before `self_imitation` (format 2) resumes where it stood.
    #[test]
    fn a_format_2_state_still_loads() {
        let space = space_box(ToySpace);
        let fresh = || RlController::new(RlParams::default(), &optimizer_init(&space, "t", 5));
        let mut a = fresh().unwrap();
        let asked = a.ask(4).unwrap();
        let told: Vec<_> = asked
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut o = xnas_core::failed_observation(i as u64, "t", p.genome.to_vec());
                o.metric = i as f64;
                o.status = xnas_core::TrialStatus::OK;
                o
            })
            .collect();
        a.tell(&told[..3]).unwrap();
        let blob = save(&a).unwrap();
        let (_, bytes) = state::open(OWNER, &blob).unwrap();
        let saved: Saved = state::decode_value(OWNER, bytes).unwrap();
        let v2 = Saved {
            header: HeaderV2 {
                choices: saved.header.choices,
                decorated: saved.header.decorated,
                progress: saved.header.progress,
            },
            tensors: saved.tensors,
            heads: saved.heads,
        };
        let old = state::encode(OWNER, 2, &v2).unwrap();
        assert_ne!(old, blob);
        let mut b = fresh().unwrap();
        load(&mut b, &old).unwrap();
        assert_eq!(save(&b).unwrap(), blob);
        assert_eq!(a.ask(3).unwrap(), b.ask(3).unwrap());
    }
}
