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
use xnas_tch::supernet::StemSharing;
use xnas_tch::tch::Device;
use xnas_tch::train::Recipe;

/// Every key is optional: a missing one takes [`Nb201Params::default`]'s value.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Nb201Params {
    /// The candidate ops of every edge, genome values in this order; the paper's five by default.
    pub ops: Vec<String>,
    /// Cells per stage (N).
    pub cells: usize,
    /// Channels of the first stage (C); the stages have C, 2C, 4C.
    pub channels: usize,
    /// Training epochs per evaluation (an evaluation's budget, when the host gives one, overrides it).
    pub epochs: usize,
    pub batch_size: usize,
    pub eval_batch_size: usize,
    /// Cosine schedule from `learning_rate` down to `learning_rate_min`, per step.
    pub learning_rate: f64,
    pub learning_rate_min: f64,
    pub momentum: f64,
    pub nesterov: bool,
    pub weight_decay: f64,
    /// Largest global gradient norm; 0 = no clipping (the paper's).
    pub grad_clip: f64,
    /// Random horizontal flips (the paper's on CIFAR; wrong for digits).
    pub flip: bool,
    /// Random crop after zero padding by this many pixels; 0 = off (the paper used 4 on CIFAR).
    pub crop_padding: usize,
    /// Cutout square side in pixels; 0 = off (not in the paper).
    pub cutout: usize,
    /// `"cpu"` (default), `"cuda"`, `"cuda:N"` or `"auto"`.
    pub device: String,
    /// libtorch's intra-op threads (process-wide); 0 leaves libtorch's default. Results are
    /// reproducible for a fixed value.
    pub threads: usize,
    /// A folder to keep a checkpoint in after every epoch and continue from (`xnas train` sets
    /// it); relative to the experiment's folder. Not for searches: every trial would share it.
    pub checkpoint_dir: Option<String>,
    /// Which tasks of a supernet share a stem: `"channels"` (default) or `"shape"` (one stem per
    /// image size).
    pub supernet_stems: StemSharing,
    /// One dataset per task id (`[search_space.params.tasks.<task>]`), see docs/data.md.
    pub tasks: BTreeMap<String, DatasetSpec>,
}

impl Default for Nb201Params {
    /// The paper's network (N = 5, C = 16) and recipe, with 10 epochs.
    fn default() -> Self {
        Nb201Params {
            ops: OP_NAMES.iter().map(|s| s.to_string()).collect(),
            cells: 5,
            channels: 16,
            epochs: 10,
            batch_size: 256,
            eval_batch_size: 500,
            learning_rate: 0.1,
            learning_rate_min: 0.0,
            momentum: 0.9,
            nesterov: true,
            weight_decay: 5e-4,
            grad_clip: 0.0,
            flip: false,
            crop_padding: 0,
            cutout: 0,
            device: "cpu".into(),
            threads: 0,
            checkpoint_dir: None,
            supernet_stems: StemSharing::Channels,
            tasks: BTreeMap::new(),
        }
    }
}

/// Larger networks are refused before their sizes overflow.
pub const MAX_CELLS: usize = 1 << 10;
pub const MAX_CHANNELS: usize = 1 << 14;

impl Nb201Params {
    /// The checks serde cannot express; each message names the key.
    pub fn check(&self) -> PluginResult<()> {
        let bad = |m: String| Err(PluginError::invalid_params(m));
        if !(1..=MAX_CELLS).contains(&self.cells) {
            return bad(format!(
                "`cells = {}`: expected 1 ..= {MAX_CELLS}",
                self.cells
            ));
        }
        if !(1..=MAX_CHANNELS).contains(&self.channels) {
            return bad(format!(
                "`channels = {}`: expected 1 ..= {MAX_CHANNELS}",
                self.channels
            ));
        }
        // The training keys, as the training loop checks them.
        self.recipe(Device::Cpu, 0, self.epochs)
            .check()
            .map_err(PluginError::invalid_params)?;
        self.op_list()?;
        Ok(())
    }

    /// How an evaluation of `epochs` under `seed` trains on `device`.
    pub fn recipe(&self, device: Device, seed: u64, epochs: usize) -> Recipe {
        Recipe {
            epochs,
            batch_size: self.batch_size,
            eval_batch_size: self.eval_batch_size,
            learning_rate: self.learning_rate,
            learning_rate_min: self.learning_rate_min,
            momentum: self.momentum,
            nesterov: self.nesterov,
            weight_decay: self.weight_decay,
            grad_clip: self.grad_clip,
            drop_path: 0.0,
            auxiliary_weight: 0.0,
            cutout: self.cutout,
            flip: self.flip,
            crop_padding: self.crop_padding,
            device,
            seed,
            component: "nb201",
            checkpoint: None,
        }
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
