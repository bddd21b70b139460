//! Saved state of the controller (capability `state`): a resumed run continues exactly where the
//! saved one stood, so its proposals are the ones the uninterrupted run would have made.
//!
//! Layout: the magic line, then length-prefixed (u64 little-endian) chunks: the JSON header
//! ([`Header`]: progress, seen set, pending proposals, baselines, head names), the controller's
//! tensors (parameters and Adam moments, torch's multi-tensor format), and one chunk per head.

use crate::optimizer::{Progress, RlController};
use serde::{Deserialize, Serialize};
use xnas_core::{PluginError, PluginResult};

const MAGIC: &[u8] = b"xnas rl-controller state 1\n";

#[derive(Serialize, Deserialize)]
struct Header {
    /// Choice count of every decision: a state only fits the space it was saved with.
    choices: Vec<u32>,
    decorated: bool,
    progress: Progress,
    heads: Vec<String>,
}

fn put(out: &mut Vec<u8>, chunk: &[u8]) {
    out.extend_from_slice(&(chunk.len() as u64).to_le_bytes());
    out.extend_from_slice(chunk);
}

fn take<'a>(rest: &mut &'a [u8], what: &str) -> PluginResult<&'a [u8]> {
    let bad = || PluginError::data(format!("rl-controller state: truncated {what}"));
    let len: [u8; 8] = rest
        .get(..8)
        .ok_or_else(bad)?
        .try_into()
        .map_err(|_| bad())?;
    let len = usize::try_from(u64::from_le_bytes(len)).map_err(|_| bad())?;
    let chunk = rest
        .get(8..8usize.checked_add(len).ok_or_else(bad)?)
        .ok_or_else(bad)?;
    *rest = &rest[8 + len..];
    Ok(chunk)
}

pub(crate) fn save(c: &RlController) -> PluginResult<Vec<u8>> {
    let heads = c.policy.save_heads()?;
    let header = Header {
        choices: c.policy.choices(),
        decorated: c.is_decorated(),
        progress: c.progress.clone(),
        heads: heads.iter().map(|(n, _)| n.clone()).collect(),
    };
    let json = serde_json::to_vec(&header)
        .map_err(|e| PluginError::other(format!("rl-controller state: {e}")))?;
    let mut out = MAGIC.to_vec();
    put(&mut out, &json);
    put(&mut out, &c.policy.save_tensors()?);
    for (_, bytes) in &heads {
        put(&mut out, bytes);
    }
    Ok(out)
}

pub(crate) fn load(c: &mut RlController, state: &[u8]) -> PluginResult<()> {
    let mut rest = state.strip_prefix(MAGIC).ok_or_else(|| {
        PluginError::data("rl-controller state: not a state saved by rl-controller")
    })?;
    let header: Header = serde_json::from_slice(take(&mut rest, "header")?)
        .map_err(|e| PluginError::data(format!("rl-controller state: bad header ({e})")))?;
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
    let tensors = take(&mut rest, "controller tensors")?;
    let heads = header
        .heads
        .iter()
        .map(|name| Ok((name.clone(), take(&mut rest, name)?.to_vec())))
        .collect::<PluginResult<Vec<_>>>()?;
    if !rest.is_empty() {
        return Err(PluginError::data(format!(
            "rl-controller state: {} unexpected bytes at the end",
            rest.len()
        )));
    }
    c.policy.load(tensors, &heads)?;
    c.progress = header.progress;
    Ok(())
}
