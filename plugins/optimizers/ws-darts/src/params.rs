//! `[optimizer.params]` of `ws-darts` (docs/plugins/ws-darts.md). The search recipe is the one
//! Grobelnik & Vanschoren ("Warm-starting DARTS using meta-learning") give for every stage of
//! TAS and for the warm-started search: 25 epochs, batch 96, the first 10 weights only, first
//! order, α by Adam (lr 6e-4, betas (0.5, 0.999), weight decay 1e-3); the weight recipe and the
//! skip-dropout schedule are P-DARTS's (chenxin061/pdarts `train_search.py`).

use serde::Deserialize;
use xnas_core::range::non_negative;
use xnas_core::{CheckParams, PluginResult};
use xnas_oneshot::params::{check_recipe, invalid};
use xnas_oneshot::{skip_dropout, ArchConfig, DropoutSchedule, Order, Sampling};

/// Where the search starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WarmStart {
    /// The transfer architecture of the nearest source run (the first of `source_artifacts`,
    /// which the host ranks by the experiment's `[similarity]`).
    Nearest,
    /// No transfer: every op on every edge, fresh weights and α (the from-scratch baseline).
    None,
    /// The meta-transfer architecture λ_meta (one TAS over several tasks): not implemented yet,
    /// refused with that message.
    Meta,
}

/// What is taken from the chosen source run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transfer {
    /// λ: the search network is restricted to its ops; weights and α start afresh.
    Lambda,
    /// λ̂: also its supernet weights (the classifier re-initialised) and α; nothing frozen.
    LambdaHat,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WsDartsParams {
    pub warm_start: WarmStart,
    pub transfer: Transfer,
    /// Cells and initial channels of the search network; unset, the transfer architecture's
    /// (TAS's last stage), or 17 and 16 without a warm start. With λ̂ they must be λ̂'s.
    pub cells: Option<u32>,
    pub channels: Option<u32>,
    /// Initial skip-connect dropout p0, the one P-DARTS regulariser kept (the paper sweeps it
    /// from 0.0 to 0.9).
    pub skip_dropout: f64,
    pub dropout_schedule: DropoutSchedule,
    pub dropout_decay: f64,
    pub epochs: u32,
    pub epochs_weights_only: u32,
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
    /// M: skip connections allowed in the derived cell's skip cell (P-DARTS's derivation).
    pub max_skips: u32,
}

/// The search network without a warm start: TAS's last stage (Grobelnik & Vanschoren).
pub const DEFAULT_CELLS: u32 = 17;
pub const DEFAULT_CHANNELS: u32 = 16;

impl Default for WsDartsParams {
    fn default() -> Self {
        WsDartsParams {
            warm_start: WarmStart::Nearest,
            transfer: Transfer::LambdaHat,
            cells: None,
            channels: None,
            skip_dropout: 0.0,
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
        }
    }
}

xnas_oneshot::shared_keys!(WsDartsParams);

impl CheckParams for WsDartsParams {
    fn check(&self) -> PluginResult<()> {
        self.checked().map_err(invalid)
    }
}

impl WsDartsParams {
    fn checked(&self) -> Result<(), String> {
        if self.warm_start == WarmStart::Meta {
            return Err(
                "`warm_start = \"meta\"` (the meta-transfer architecture λ_meta) is not \
                        implemented yet: use \"nearest\" or \"none\""
                    .to_string(),
            );
        }
        for (key, v) in [("cells", self.cells), ("channels", self.channels)] {
            if v == Some(0) {
                return Err(format!("`{key}` is 0: it must be at least 1"));
            }
        }
        if !(0.0..1.0).contains(&self.skip_dropout) {
            return Err(format!(
                "`skip_dropout` is {}: it must be at least 0 and below 1",
                self.skip_dropout
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

    /// First order, softmax, as in TAS.
    pub fn arch(&self) -> ArchConfig {
        self.arch_keys().config(Order::First, Sampling::Softmax)
    }

    /// The skip dropout of each epoch (P-DARTS's schedule from `skip_dropout`).
    pub fn dropout(&self) -> Vec<f64> {
        skip_dropout(
            self.skip_dropout,
            self.epochs,
            self.epochs_weights_only,
            self.dropout_decay,
            self.dropout_schedule,
        )
    }
}
