//! `[search_space.params]` of `nb201`: the op list, the network's size, its training recipe and
//! one dataset per task.
//!
//! The recipe's defaults are NAS-Bench-201's (Dong & Yang 2020, §3 "training": SGD with Nesterov
//! momentum 0.9, learning rate 0.1 cosine-annealed to 0 per step, weight decay 5e-4, batch 256,
//! no gradient clipping) scaled for a CPU: 10 epochs instead of 200. The paper's CIFAR
//! augmentation (random flip, random crop after padding 4) is off by default, because the data
//! the project ships are digits and clothes; `flip` and `crop_padding` turn it on.

use crate::cell::{Op, OpList, OP_NAMES};
use serde::Deserialize;
use std::collections::BTreeMap;
use xnas_core::{PluginError, PluginResult};
use xnas_tch::data::DatasetSpec;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nb201Params {
    /// The candidate ops of every edge, genome values in this order; the paper's five by default.
    #[serde(default = "d_ops")]
    pub ops: Vec<String>,
    /// Cells per stage (N).
    #[serde(default = "d_cells")]
    pub cells: usize,
    /// Channels of the first stage (C); the stages have C, 2C, 4C.
    #[serde(default = "d_channels")]
    pub channels: usize,
    /// Training epochs per evaluation (an evaluation's budget, when the host gives one, overrides it).
    #[serde(default = "d_epochs")]
    pub epochs: usize,
    #[serde(default = "d_batch")]
    pub batch_size: usize,
    #[serde(default = "d_eval_batch")]
    pub eval_batch_size: usize,
    /// Cosine schedule from `learning_rate` down to `learning_rate_min`, per step.
    #[serde(default = "d_lr")]
    pub learning_rate: f64,
    #[serde(default)]
    pub learning_rate_min: f64,
    #[serde(default = "d_momentum")]
    pub momentum: f64,
    #[serde(default = "d_nesterov")]
    pub nesterov: bool,
    #[serde(default = "d_wd")]
    pub weight_decay: f64,
    /// Largest global gradient norm; 0 = no clipping (the paper's).
    #[serde(default)]
    pub grad_clip: f64,
    /// Random horizontal flips (the paper's on CIFAR; wrong for digits).
    #[serde(default)]
    pub flip: bool,
    /// Random crop after zero padding by this many pixels; 0 = off (the paper used 4 on CIFAR).
    #[serde(default)]
    pub crop_padding: usize,
    /// Cutout square side in pixels; 0 = off (not in the paper).
    #[serde(default)]
    pub cutout: usize,
    /// `"cpu"` (default), `"cuda"`, `"cuda:N"` or `"auto"`.
    #[serde(default = "d_device")]
    pub device: String,
    /// libtorch's intra-op threads (process-wide); 0 leaves libtorch's default. Results are
    /// reproducible for a fixed value.
    #[serde(default)]
    pub threads: usize,
    /// One dataset per task id (`[search_space.params.tasks.<task>]`), see docs/data.md.
    #[serde(default)]
    pub tasks: BTreeMap<String, DatasetSpec>,
}

fn d_ops() -> Vec<String> {
    OP_NAMES.iter().map(|s| s.to_string()).collect()
}
fn d_cells() -> usize {
    5
}
fn d_channels() -> usize {
    16
}
fn d_epochs() -> usize {
    10
}
fn d_batch() -> usize {
    256
}
fn d_eval_batch() -> usize {
    500
}
fn d_lr() -> f64 {
    0.1
}
fn d_momentum() -> f64 {
    0.9
}
fn d_nesterov() -> bool {
    true
}
fn d_wd() -> f64 {
    5e-4
}
fn d_device() -> String {
    "cpu".into()
}

/// Larger networks are refused before their sizes overflow.
pub const MAX_CELLS: usize = 1 << 10;
pub const MAX_CHANNELS: usize = 1 << 14;

impl Nb201Params {
    /// The checks serde cannot express; each message names the key.
    pub fn check(&self) -> PluginResult<()> {
        let bad = |m: String| Err(PluginError::invalid_params(m));
        for (name, v) in [
            ("cells", self.cells),
            ("channels", self.channels),
            ("epochs", self.epochs),
            ("eval_batch_size", self.eval_batch_size),
        ] {
            if v == 0 {
                return bad(format!("`{name} = 0`: expected at least 1"));
            }
        }
        if self.batch_size < 2 {
            return bad(format!(
                "`batch_size = {}`: expected at least 2 (batch norm)",
                self.batch_size
            ));
        }
        for (name, v, most) in [
            ("channels", self.channels, MAX_CHANNELS),
            ("cells", self.cells, MAX_CELLS),
        ] {
            if v > most {
                return bad(format!("`{name} = {v}`: expected at most {most}"));
            }
        }
        for (name, v) in [
            ("learning_rate", self.learning_rate),
            ("learning_rate_min", self.learning_rate_min),
            ("momentum", self.momentum),
            ("weight_decay", self.weight_decay),
            ("grad_clip", self.grad_clip),
        ] {
            if !v.is_finite() || v < 0.0 {
                return bad(format!("`{name} = {v}`: expected a finite number ≥ 0"));
            }
        }
        if self.learning_rate == 0.0 {
            return bad("`learning_rate = 0`: expected a positive number".into());
        }
        if self.momentum >= 1.0 {
            return bad(format!(
                "`momentum = {}`: expected 0 ≤ m < 1",
                self.momentum
            ));
        }
        if self.nesterov && self.momentum == 0.0 {
            return bad(
                "`nesterov = true` with `momentum = 0`: Nesterov needs momentum > 0".into(),
            );
        }
        self.op_list()?;
        Ok(())
    }

    /// The op list `ops` names.
    pub fn op_list(&self) -> PluginResult<OpList> {
        let ops = self
            .ops
            .iter()
            .map(|name| {
                Op::parse(name).ok_or_else(|| {
                    PluginError::invalid_params(format!(
                        "`ops`: unknown op `{name}`; known: {}",
                        OP_NAMES.join(", ")
                    ))
                })
            })
            .collect::<PluginResult<Vec<Op>>>()?;
        OpList::new(ops).map_err(|m| PluginError::invalid_params(format!("`ops`: {m}")))
    }
}
