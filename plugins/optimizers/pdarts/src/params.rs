//! `[optimizer.params]` of `pdarts` (docs/plugins/pdarts.md). Defaults are those of the reference
//! code, chenxin061/pdarts `train_search.py`, with the skip dropout the authors quote for
//! CIFAR-10 (0.0, 0.4, 0.7; the README's command line gives 0.1 for the first stage).

use serde::Deserialize;
use xnas_core::range::non_negative;
use xnas_core::{CheckParams, PluginResult};
use xnas_oneshot::params::{check_recipe, invalid};
pub use xnas_oneshot::DropoutSchedule;
use xnas_oneshot::{skip_dropout, ArchConfig, Order, Sampling};

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PdartsParams {
    /// Cells of each stage's search network (one entry per stage).
    pub cells: Vec<u32>,
    /// Initial channels of each stage's search network.
    pub channels: Vec<u32>,
    /// Candidate ops kept per edge after each stage but the last (the reference's
    /// `num_to_keep = [5, 3, 1]`; its final 1 is the derivation's one op per edge).
    pub keep: Vec<u32>,
    /// Initial skip-connect dropout p0 of each stage.
    pub skip_dropout: Vec<f64>,
    pub dropout_schedule: DropoutSchedule,
    /// The rate of the exponential decay after the weights-only epochs.
    pub dropout_decay: f64,
    /// Epochs per stage.
    pub epochs: u32,
    /// Epochs at the start of each stage that train w only.
    pub epochs_weights_only: u32,
    /// Epochs at the end of each stage whose α split is evaluated.
    pub evaluate_last: u32,
    pub batch_size: u32,
    pub learning_rate: f64,
    pub learning_rate_min: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub grad_clip: f64,
    pub train_portion: f64,
    pub arch_learning_rate: f64,
    pub arch_betas: [f64; 2],
    pub arch_weight_decay: f64,
    pub arch_grad_clip: f64,
    pub init_scale: f64,
    /// M: skip connections allowed in the derived cell's skip cell (the normal cell).
    pub max_skips: u32,
    /// Transfer architecture search (TAS) for warm-started DARTS: also keep the last stage's
    /// reduced DAG λ and, with its α and weights, λ̂ as artifacts (`lambda.json`,
    /// `lambda_hat.json`).
    pub transfer_search: bool,
}

impl Default for PdartsParams {
    fn default() -> Self {
        PdartsParams {
            cells: vec![5, 11, 17],
            channels: vec![16, 16, 16],
            keep: vec![5, 3],
            skip_dropout: vec![0.0, 0.4, 0.7],
            dropout_schedule: DropoutSchedule::Reference,
            dropout_decay: 0.2,
            epochs: 25,
            epochs_weights_only: 10,
            evaluate_last: 5,
            batch_size: 96,
            learning_rate: 0.025,
            learning_rate_min: 0.0,
            momentum: 0.9,
            weight_decay: 3e-4,
            grad_clip: 5.0,
            train_portion: 0.5,
            arch_learning_rate: 6e-4,
            arch_betas: [0.5, 0.999],
            arch_weight_decay: 1e-3,
            arch_grad_clip: 5.0,
            init_scale: 1e-3,
            max_skips: 2,
            transfer_search: false,
        }
    }
}

xnas_oneshot::shared_keys!(PdartsParams);

impl CheckParams for PdartsParams {
    fn check(&self) -> PluginResult<()> {
        self.checked().map_err(invalid)
    }
}

impl PdartsParams {
    pub fn stages(&self) -> usize {
        self.cells.len()
    }

    fn checked(&self) -> Result<(), String> {
        let n = self.cells.len();
        if n == 0 {
            return Err("`cells` is empty: give the cells of each stage, e.g. [5, 11, 17]".into());
        }
        for (key, len) in [
            ("channels", self.channels.len()),
            ("skip_dropout", self.skip_dropout.len()),
        ] {
            if len != n {
                return Err(format!(
                    "`{key}` has {len} entries: it needs one per stage ({n}, as `cells`)"
                ));
            }
        }
        if self.keep.len() + 1 != n {
            return Err(format!(
                "`keep` has {} entries: it needs one per stage but the last ({}), as `cells` has {n}",
                self.keep.len(),
                n - 1
            ));
        }
        for (key, list) in [
            ("cells", &self.cells),
            ("channels", &self.channels),
            ("keep", &self.keep),
        ] {
            if list.contains(&0) {
                return Err(format!(
                    "`{key}` is {list:?}: every entry must be at least 1"
                ));
            }
        }
        if self.keep.windows(2).any(|w| w[1] >= w[0]) {
            return Err(format!(
                "`keep` is {:?}: each stage must keep fewer ops than the one before",
                self.keep
            ));
        }
        if let Some(p) = self.skip_dropout.iter().find(|p| !(0.0..1.0).contains(*p)) {
            return Err(format!(
                "`skip_dropout` has {p}: each rate must be at least 0 and below 1"
            ));
        }
        non_negative("dropout_decay", self.dropout_decay)?;
        check_recipe(&self.recipe())?;
        if self.epochs_weights_only >= self.epochs {
            return Err(format!(
                "`epochs_weights_only` is {}: it must be below `epochs` ({}), or α never trains",
                self.epochs_weights_only, self.epochs
            ));
        }
        self.arch_keys().check()
    }

    /// First order, softmax: P-DARTS has no second order.
    pub fn arch(&self) -> ArchConfig {
        self.arch_keys().config(Order::First, Sampling::Softmax)
    }

    /// The skip dropout of each epoch of stage `stage` (`xnas_oneshot::skip_dropout`).
    pub fn dropout(&self, stage: usize) -> Vec<f64> {
        skip_dropout(
            self.skip_dropout[stage],
            self.epochs,
            self.epochs_weights_only,
            self.dropout_decay,
            self.dropout_schedule,
        )
    }
}

#[cfg(test)]
#[path = "params_tests.rs"]
mod tests;
