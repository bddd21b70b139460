//! `[search_space.params]` of `nasnet`: the cell space, the network and its training recipe, and
//! one dataset per task. Defaults follow XferNAS's search-time protocol (Wistuba 2019 §4: N = 3,
//! F = 32, SGD momentum 0.9, cosine from 0.024, weight decay 5e-4, drop-path 0.3, batch 128)
//! except the epochs, which a CPU search has to shorten (the paper trained 100).

use crate::genome::{op_set, CellSpace, Combine, CombineMode, Op, OP_SETS};
use crate::train::TrainConfig;
use serde::Deserialize;
use std::collections::BTreeMap;
use xnas_core::{PluginError, PluginResult};
use xnas_tch::data::DatasetSpec;
use xnas_tch::supernet::StemSharing;
use xnas_tch::tch::Device;

/// The op set: a preset name or a list of op names.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OpsParam {
    Preset(String),
    List(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NasnetParams {
    /// `"xfernas"` (19 ops, default), `"nasnet"` (13), `"enas"` (5), `"darts"` (7) or a list of
    /// op names.
    #[serde(default = "d_ops")]
    pub ops: OpsParam,
    /// Blocks per cell (B).
    #[serde(default = "d_blocks")]
    pub blocks: usize,
    /// `"add"` (default), `"concat"` or `"search"` (NASNet's fifth decision per block).
    #[serde(default = "d_combine")]
    pub combine: String,
    /// What a cell outputs: `"loose"` (default, NASNet: the blocks no block reads) or `"all"`
    /// (DARTS: every block).
    #[serde(default = "d_concat")]
    pub concat: String,
    /// Normal cells per stage (N).
    #[serde(default = "d_cells")]
    pub cells: usize,
    /// Initial filters (F).
    #[serde(default = "d_filters")]
    pub filters: usize,
    /// Training epochs per evaluation (an evaluation's budget, when the host gives one, overrides it).
    #[serde(default = "d_epochs")]
    pub epochs: usize,
    #[serde(default = "d_batch")]
    pub batch_size: usize,
    #[serde(default = "d_eval_batch")]
    pub eval_batch_size: usize,
    /// Cosine schedule from `learning_rate` down to `learning_rate_min`.
    #[serde(default = "d_lr")]
    pub learning_rate: f64,
    #[serde(default)]
    pub learning_rate_min: f64,
    #[serde(default = "d_momentum")]
    pub momentum: f64,
    #[serde(default = "d_wd")]
    pub weight_decay: f64,
    /// Largest drop-path probability; it ramps up linearly over the epochs (`drop_path · e / epochs`, DARTS).
    #[serde(default = "d_drop_path")]
    pub drop_path: f64,
    /// Cutout square side in pixels; 0 = off.
    #[serde(default)]
    pub cutout: usize,
    /// Random horizontal flips (right for natural images, wrong for digits).
    #[serde(default)]
    pub flip: bool,
    /// Random crop after zero padding by this many pixels; 0 = off.
    #[serde(default)]
    pub crop_padding: usize,
    /// Weight of the auxiliary head's loss; 0 = no auxiliary head.
    #[serde(default)]
    pub auxiliary_weight: f64,
    #[serde(default = "d_clip")]
    pub grad_clip: f64,
    /// `"cpu"` (default), `"cuda"`, `"cuda:N"` or `"auto"`.
    #[serde(default = "d_device")]
    pub device: String,
    /// libtorch's intra-op threads (process-wide); 0 leaves libtorch's default. Results are
    /// reproducible for a fixed value.
    #[serde(default)]
    pub threads: usize,
    /// A folder to keep a checkpoint in after every epoch and continue from (`xnas train` sets it
    /// to `<out>/checkpoint`); relative to the base folder. Not for searches: every trial would
    /// share it.
    #[serde(default)]
    pub checkpoint_dir: Option<String>,
    /// Which tasks of a supernet share a stem: `"channels"` (default) or `"shape"` (one stem per
    /// image size).
    #[serde(default)]
    pub supernet_stems: StemSharing,
    /// One dataset per task id (`[search_space.params.tasks.<task>]`), see docs/data.md.
    #[serde(default)]
    pub tasks: BTreeMap<String, DatasetSpec>,
}

fn d_ops() -> OpsParam {
    OpsParam::Preset("xfernas".into())
}
fn d_blocks() -> usize {
    5
}
fn d_combine() -> String {
    "add".into()
}
fn d_concat() -> String {
    "loose".into()
}
fn d_cells() -> usize {
    3
}
fn d_filters() -> usize {
    32
}
fn d_epochs() -> usize {
    10
}
fn d_batch() -> usize {
    128
}
fn d_eval_batch() -> usize {
    500
}
fn d_lr() -> f64 {
    0.024
}
fn d_momentum() -> f64 {
    0.9
}
fn d_wd() -> f64 {
    5e-4
}
fn d_drop_path() -> f64 {
    0.3
}
fn d_clip() -> f64 {
    5.0
}
fn d_device() -> String {
    "cpu".into()
}

impl NasnetParams {
    /// The checks serde cannot express; names the key.
    pub fn check(&self) -> PluginResult<()> {
        let bad = |m: String| Err(PluginError::invalid_params(m));
        if !(1..=10).contains(&self.blocks) {
            return bad(format!("`blocks = {}`: expected 1 ..= 10", self.blocks));
        }
        for (name, v) in [("cells", self.cells), ("filters", self.filters)] {
            if v == 0 {
                return bad(format!("`{name} = 0`: expected at least 1"));
            }
        }
        // The training keys, as the training loop checks them.
        self.train_config(Device::Cpu, 0, self.epochs)
            .validate()
            .map_err(PluginError::invalid_params)?;
        // Larger networks are refused before they overflow.
        for (name, v, most) in [
            ("filters", self.filters, 1 << 16),
            ("cells", self.cells, 1 << 10),
        ] {
            if v > most {
                return bad(format!("`{name} = {v}`: expected at most {most}"));
            }
        }
        if !self.filters.is_multiple_of(2) {
            return bad(format!(
                "`filters = {}`: must be even (a factorized reduction splits the channels in two)",
                self.filters
            ));
        }
        self.cell_space()?;
        self.concat_all()?;
        Ok(())
    }

    /// How an evaluation of `epochs` under `seed` trains on `device`.
    pub fn train_config(&self, device: Device, seed: u64, epochs: usize) -> TrainConfig {
        TrainConfig {
            cells: self.cells,
            filters: self.filters,
            epochs,
            batch_size: self.batch_size,
            learning_rate: self.learning_rate,
            learning_rate_min: self.learning_rate_min,
            momentum: self.momentum,
            weight_decay: self.weight_decay,
            drop_path: self.drop_path,
            cutout: self.cutout,
            flip: self.flip,
            crop_padding: self.crop_padding,
            auxiliary_weight: self.auxiliary_weight,
            grad_clip: self.grad_clip,
            device,
            seed,
            eval_batch_size: self.eval_batch_size,
            concat_all: self.concat == "all", // checked by `check`
            // Relative to the experiment's folder, which the space knows (`Nasnet::train_config`).
            checkpoint_dir: None,
        }
    }

    /// Whether cells output every block (`concat = "all"`).
    pub fn concat_all(&self) -> PluginResult<bool> {
        match self.concat.as_str() {
            "loose" => Ok(false),
            "all" => Ok(true),
            other => Err(PluginError::invalid_params(format!(
                "`concat = \"{other}\"`: expected \"loose\" (the blocks no block reads) or \"all\""
            ))),
        }
    }

    pub fn cell_space(&self) -> PluginResult<CellSpace> {
        let ops = match &self.ops {
            OpsParam::Preset(name) => op_set(name).ok_or_else(|| {
                PluginError::invalid_params(format!(
                    "`ops = \"{name}\"`: expected one of {} or a list of op names",
                    OP_SETS.join(", ")
                ))
            })?,
            OpsParam::List(names) => {
                let mut ops = Vec::new();
                for n in names {
                    let op = Op::parse(n).ok_or_else(|| {
                        PluginError::invalid_params(format!(
                            "`ops`: unknown op `{n}`; known: {}",
                            Op::all()
                                .iter()
                                .map(|o| o.name())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    })?;
                    if ops.contains(&op) {
                        return Err(PluginError::invalid_params(format!(
                            "`ops`: `{n}` is listed twice"
                        )));
                    }
                    ops.push(op);
                }
                if ops.is_empty() {
                    return Err(PluginError::invalid_params(
                        "`ops = []`: list at least one op".to_string(),
                    ));
                }
                ops
            }
        };
        let combine = match self.combine.as_str() {
            "add" => CombineMode::Fixed(Combine::Add),
            "concat" => CombineMode::Fixed(Combine::Concat),
            "search" => CombineMode::Searched,
            other => {
                return Err(PluginError::invalid_params(format!(
                    "`combine = \"{other}\"`: expected \"add\", \"concat\" or \"search\""
                )))
            }
        };
        Ok(CellSpace {
            ops,
            blocks: self.blocks,
            combine,
        })
    }
}
