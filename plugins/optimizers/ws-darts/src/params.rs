//! `[optimizer.params]` of `ws-darts` (docs/plugins/ws-darts.md). The search recipe is the one
//! Grobelnik & Vanschoren ("Warm-starting DARTS using meta-learning") give for every stage of
//! TAS and for the warm-started search: 25 epochs, batch 96, the first 10 weights only, first
//! order, α by Adam (lr 6e-4, betas (0.5, 0.999), weight decay 1e-3); the weight recipe and the
//! skip-dropout schedule are P-DARTS's (chenxin061/pdarts `train_search.py`).

use serde::Deserialize;
use xnas_core::{CheckParams, PluginResult};
use xnas_oneshot::params::invalid;

/// Where the search starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WarmStart {
    /// The transfer architecture of the nearest source run (the first of `source_artifacts`,
    /// which the host ranks by the experiment's `[similarity]`).
    Nearest,
    /// No transfer: every op on every edge, fresh weights and α (the from-scratch baseline).
    None,
    /// The meta-transfer architecture λ_meta: the first source run whose TAS searched several
    /// tasks together (`pdarts` with `transfer_search` and `meta_search`), never one that
    /// searched the target itself.
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

xnas_oneshot::pdarts_family_params! {
    pub struct WsDartsParams {
        pub warm_start: WarmStart = WarmStart::Nearest,
        pub transfer: Transfer = Transfer::LambdaHat,
        /// Cells and initial channels of the search network; unset, the transfer architecture's
        /// (TAS's last stage), or 17 and 16 without a warm start. With λ̂ they must be λ̂'s.
        pub cells: Option<u32> = None,
        pub channels: Option<u32> = None,
        /// Initial skip-connect dropout p0, the one P-DARTS regulariser kept: one rate, or a
        /// sweep (the paper sweeps it from 0.0 to 0.9 and keeps the best architecture).
        pub skip_dropout: SkipDropout = SkipDropout::Rate(0.0),
    }
}

/// `skip_dropout`: one initial rate, or several, each searched in turn from the same start.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum SkipDropout {
    Rate(f64),
    Sweep(Vec<f64>),
}

impl SkipDropout {
    /// The rates in the order they are searched.
    pub fn rates(&self) -> Vec<f64> {
        match self {
            SkipDropout::Rate(p) => vec![*p],
            SkipDropout::Sweep(ps) => ps.clone(),
        }
    }
}

/// The search network without a warm start: TAS's last stage (Grobelnik & Vanschoren).
pub const DEFAULT_CELLS: u32 = 17;
pub const DEFAULT_CHANNELS: u32 = 16;

impl CheckParams for WsDartsParams {
    fn check(&self) -> PluginResult<()> {
        self.checked().map_err(invalid)
    }
}

impl WsDartsParams {
    fn checked(&self) -> Result<(), String> {
        for (key, v) in [("cells", self.cells), ("channels", self.channels)] {
            if v == Some(0) {
                return Err(format!("`{key}` is 0: it must be at least 1"));
            }
        }
        let rates = self.skip_dropout.rates();
        if rates.is_empty() {
            return Err("`skip_dropout` is an empty list: give one rate or several".into());
        }
        if let Some(p) = rates.iter().find(|p| !(0.0..1.0).contains(*p)) {
            return Err(format!(
                "`skip_dropout` has {p}: every rate must be at least 0 and below 1"
            ));
        }
        self.check_search_keys()
    }
}
