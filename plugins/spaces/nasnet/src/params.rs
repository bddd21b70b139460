//! `[search_space.params]` of `nasnet`: the cell space, the network and its training recipe, and
//! one dataset per task. Defaults follow XferNAS's search-time protocol (Wistuba 2019 §4: N = 3,
//! F = 32, SGD momentum 0.9, cosine from 0.024, weight decay 5e-4, drop-path 0.3, batch 128)
//! except the epochs, which a CPU search has to shorten (the paper trained 100).

use crate::genome::{op_set, CellSpace, Combine, CombineMode, Op, OP_SETS};
use serde::Deserialize;
use std::collections::BTreeMap;
use xnas_core::{PluginError, PluginResult};
use xnas_tch::data::DatasetSpec;

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
    /// `"xfernas"` (19 ops, default), `"nasnet"` (13), `"enas"` (5) or a list of op names.
    #[serde(default = "d_ops")]
    pub ops: OpsParam,
    /// Blocks per cell (B).
    #[serde(default = "d_blocks")]
    pub blocks: usize,
    /// `"add"` (default), `"concat"` or `"search"` (NASNet's fifth decision per block).
    #[serde(default = "d_combine")]
    pub combine: String,
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
        for (name, v) in [
            ("cells", self.cells),
            ("filters", self.filters),
            ("epochs", self.epochs),
            ("batch_size", self.batch_size),
            ("eval_batch_size", self.eval_batch_size),
        ] {
            if v == 0 {
                return bad(format!("`{name} = 0`: expected at least 1"));
            }
        }
        // Batch norm needs two images; larger networks are refused before they overflow.
        if self.batch_size < 2 {
            return bad("`batch_size = 1`: expected at least 2 (batch norm)".into());
        }
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
        for (name, v) in [
            ("learning_rate", self.learning_rate),
            ("momentum", self.momentum),
            ("weight_decay", self.weight_decay),
            ("grad_clip", self.grad_clip),
            ("auxiliary_weight", self.auxiliary_weight),
            ("learning_rate_min", self.learning_rate_min),
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
        if !(0.0..1.0).contains(&self.drop_path) {
            return bad(format!(
                "`drop_path = {}`: expected 0 ≤ p < 1",
                self.drop_path
            ));
        }
        self.cell_space()?;
        Ok(())
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
