//! `[transfer.params]` of `xfer`, checked when parsed so `xnas validate` reports a bad value at
//! its key.

use serde::Deserialize;
use xnas_core::range::{non_negative, positive};
use xnas_core::{capability, Normalise, PluginInfo};
use xnas_tch::tch::Device;

/// Target successes before start points switch from source to target architectures.
pub const DEFAULT_PHASE_SWITCH: u32 = 10;
/// Hidden widths of each residual MLP.
pub const DEFAULT_RESIDUAL_HIDDEN: [u32; 1] = [32];
/// Adam learning rate (NAO's, renqianluo/NAO_pytorch NAO_V1/train_search.py).
pub const DEFAULT_LR: f64 = 1e-3;
/// Adam weight decay (NAO's).
pub const DEFAULT_WEIGHT_DECAY: f64 = 1e-4;
/// Extra L2 penalty on the residuals' weight matrices.
pub const DEFAULT_RESIDUAL_L2: f64 = 1e-3;
/// Share of a surrogate's prediction loss carried by the target's rows. The ablation (surrogate's
/// Spearman on held-out architectures) chose 0.5; the leave-one-task-out search prefers 0.8, which
/// ends xfer(nao)'s loss to plain nao on cora (bench/RESULTS.md, "target_share = 0.8").
pub const DEFAULT_TARGET_SHARE: f64 = 0.8;
/// `residual_lr` left unset, for an optimizer without a surrogate (`predict`): this many times
/// `lr`. A policy's heads take a few steps per told batch (rl-controller: 4), against a
/// surrogate's epochs over the whole pooled history; at `lr` the target's residual barely moves in
/// 100 evaluations, and the policy keeps sampling where the sources point (bench/RESULTS.md,
/// "xfer(rl-controller) and the residual's learning rate").
pub const POLICY_RESIDUAL_LR_FACTOR: f64 = 100.0;
/// Epochs of a surrogate's first (source pretraining) round; `None` = the optimizer's own.
pub const DEFAULT_PRETRAIN_EPOCHS: Option<u32> = None;
/// Rows per pretraining step; `None` = the optimizer's own batch.
pub const DEFAULT_PRETRAIN_BATCH: Option<u32> = None;
/// Source rows replayed per later training round; `None` = every source row every round.
pub const DEFAULT_SOURCE_REPLAY: Option<u32> = None;
/// libtorch threads while the heads compute: one, as `nao` and `rl-controller` (docs/plugins/xfer.md, "Cost").
pub const DEFAULT_THREADS: usize = 1;

/// The parameters, validated.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "RawParams")]
pub struct XferParams {
    /// XferNAS phase 1 → 2: start points come from the best *source* architectures until the
    /// target has this many successful observations, then from the best target ones.
    pub phase_switch: u32,
    /// Per-task normalisation of the metric before the histories are pooled.
    pub normalise: Normalise,
    /// Epochs of the optimizer's pretraining on the sources (a surrogate's first training round,
    /// a policy's passes over the source rewards); `None` = the optimizer's own (`"optimizer"`).
    pub pretrain_epochs: Option<u32>,
    /// Rows per step of that pretraining; `None` = the optimizer's own batch (`"optimizer"`).
    pub pretrain_batch: Option<u32>,
    /// Source rows a surrogate replays per training round after the first, beside the target's;
    /// `None` = all of them, every round (`"all"` in the file; the XferNAS paper's training).
    pub source_replay: Option<u32>,
    /// Share of a surrogate's prediction loss carried by the target's rows, in [0, 1); 0 = every
    /// row weighs the same (see `TransferPlan::target_share`).
    pub target_share: f64,
    /// Hidden widths of each residual MLP (empty = one linear layer).
    pub residual_hidden: Vec<u32>,
    /// Adam learning rate of the universal part.
    pub lr: f64,
    /// Adam weight decay of the universal part.
    pub weight_decay: f64,
    /// Adam learning rate of the residuals; `None` until [`XferParams::for_inner`] chooses it
    /// by the wrapped optimizer's kind (`lr` where unknown).
    pub residual_lr: Option<f64>,
    /// Adam learning rate of the sources' residuals; `None` = the residuals' (`residual_lr`).
    /// The target's residual always takes `residual_lr`.
    pub source_residual_lr: Option<f64>,
    /// Adam weight decay of the residuals.
    pub residual_weight_decay: f64,
    /// L2 penalty `residual_l2 · Σ‖W‖²` on the weight matrices of the residuals, part of the loss
    /// of every step that used them, so shared signal flows through the universal part.
    pub residual_l2: f64,
    /// Where the heads' tensors live.
    pub device: Device,
    /// libtorch's intra-op CPU threads while the heads compute (0 = leave libtorch's setting).
    /// Fixed by default, like `nao`'s and `rl-controller`'s: results depend on it, and an
    /// optimizer that sets no count of its own would run the heads on libtorch's default.
    pub threads: usize,
}

impl Default for XferParams {
    fn default() -> Self {
        XferParams {
            phase_switch: DEFAULT_PHASE_SWITCH,
            normalise: Normalise::MIN_MAX,
            pretrain_epochs: DEFAULT_PRETRAIN_EPOCHS,
            pretrain_batch: DEFAULT_PRETRAIN_BATCH,
            source_replay: DEFAULT_SOURCE_REPLAY,
            target_share: DEFAULT_TARGET_SHARE,
            residual_hidden: DEFAULT_RESIDUAL_HIDDEN.to_vec(),
            lr: DEFAULT_LR,
            weight_decay: DEFAULT_WEIGHT_DECAY,
            residual_lr: None,
            source_residual_lr: None,
            residual_weight_decay: DEFAULT_WEIGHT_DECAY,
            residual_l2: DEFAULT_RESIDUAL_L2,
            device: Device::Cpu,
            threads: DEFAULT_THREADS,
        }
    }
}

impl XferParams {
    /// The residuals' learning rate: as set, else `lr`.
    pub fn residual_lr(&self) -> f64 {
        self.residual_lr.unwrap_or(self.lr)
    }

    /// The sources' residuals' learning rate: as set, else [`XferParams::residual_lr`].
    pub fn source_residual_lr(&self) -> f64 {
        self.source_residual_lr
            .unwrap_or_else(|| self.residual_lr())
    }

    /// Fills an unset `residual_lr` by what `inner` is: `lr` for a surrogate (capability
    /// `predict`), [`POLICY_RESIDUAL_LR_FACTOR`]`·lr` for anything else (a policy).
    pub fn for_inner(mut self, inner: &PluginInfo) -> Self {
        if self.residual_lr.is_none() {
            let factor = if inner.has(capability::PREDICT) {
                1.0
            } else {
                POLICY_RESIDUAL_LR_FACTOR
            };
            self.residual_lr = Some(factor * self.lr);
        }
        self
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum NormaliseName {
    Minmax,
    Rank,
}

/// A count, or a word that stands for "as before" (`"all"`, `"optimizer"`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CountOr {
    Count(i64),
    Word(String),
}

/// `raw` as a count (`None` for `word`); `min` is the smallest count allowed.
fn count_or(
    key: &str,
    raw: Option<CountOr>,
    word: &str,
    default: Option<u32>,
    min: u32,
) -> Result<Option<u32>, String> {
    match raw {
        None => Ok(default),
        Some(CountOr::Word(w)) if w == word => Ok(None),
        Some(CountOr::Word(w)) => Err(format!(
            "`{key}` is \"{w}\": give a whole number of at least {min}, or \"{word}\""
        )),
        Some(CountOr::Count(n)) => u32::try_from(n)
            .ok()
            .filter(|&n| n >= min)
            .map(Some)
            .ok_or_else(|| {
                format!("`{key}` is {n}: give a whole number of at least {min} (below 2^32), or \"{word}\"")
            }),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParams {
    #[serde(default = "default_phase_switch")]
    phase_switch: u32,
    #[serde(default = "default_normalise")]
    normalise: NormaliseName,
    #[serde(default = "default_target_share")]
    target_share: f64,
    pretrain_epochs: Option<CountOr>,
    pretrain_batch: Option<CountOr>,
    source_replay: Option<CountOr>,
    #[serde(default = "default_residual_hidden")]
    residual_hidden: Vec<u32>,
    #[serde(default = "default_lr")]
    lr: f64,
    #[serde(default = "default_weight_decay")]
    weight_decay: f64,
    /// Defaults to `lr`.
    residual_lr: Option<f64>,
    /// Defaults to `residual_lr`.
    source_residual_lr: Option<f64>,
    /// Defaults to `weight_decay`.
    residual_weight_decay: Option<f64>,
    #[serde(default = "default_residual_l2")]
    residual_l2: f64,
    #[serde(default = "default_device")]
    device: String,
    #[serde(default = "default_threads")]
    threads: usize,
}

fn default_phase_switch() -> u32 {
    DEFAULT_PHASE_SWITCH
}
fn default_normalise() -> NormaliseName {
    NormaliseName::Minmax
}
fn default_target_share() -> f64 {
    DEFAULT_TARGET_SHARE
}
fn default_residual_hidden() -> Vec<u32> {
    DEFAULT_RESIDUAL_HIDDEN.to_vec()
}
fn default_lr() -> f64 {
    DEFAULT_LR
}
fn default_weight_decay() -> f64 {
    DEFAULT_WEIGHT_DECAY
}
fn default_residual_l2() -> f64 {
    DEFAULT_RESIDUAL_L2
}
fn default_threads() -> usize {
    DEFAULT_THREADS
}
fn default_device() -> String {
    "cpu".into()
}

impl TryFrom<RawParams> for XferParams {
    type Error = String;

    fn try_from(raw: RawParams) -> Result<Self, String> {
        if let Some(i) = raw.residual_hidden.iter().position(|&w| w == 0) {
            return Err(format!(
                "`residual_hidden[{i}]` is 0: every hidden width must be at least 1 (use [] for a linear residual)"
            ));
        }
        if !(0.0..1.0).contains(&raw.target_share) {
            return Err(format!(
                "`target_share` is {}: it must be at least 0 and below 1 (0 = every row weighs the same)",
                raw.target_share
            ));
        }
        let lr = positive("lr", raw.lr)?;
        let weight_decay = non_negative("weight_decay", raw.weight_decay)?;
        let device =
            xnas_tch::device::parse("device", &raw.device).map_err(|e| e.message().to_string())?;
        Ok(XferParams {
            phase_switch: raw.phase_switch,
            normalise: match raw.normalise {
                NormaliseName::Minmax => Normalise::MIN_MAX,
                NormaliseName::Rank => Normalise::RANK,
            },
            pretrain_epochs: count_or(
                "pretrain_epochs",
                raw.pretrain_epochs,
                "optimizer",
                DEFAULT_PRETRAIN_EPOCHS,
                1,
            )?,
            pretrain_batch: count_or(
                "pretrain_batch",
                raw.pretrain_batch,
                "optimizer",
                DEFAULT_PRETRAIN_BATCH,
                1,
            )?,
            source_replay: count_or(
                "source_replay",
                raw.source_replay,
                "all",
                DEFAULT_SOURCE_REPLAY,
                0,
            )?,
            target_share: raw.target_share,
            residual_hidden: raw.residual_hidden,
            lr,
            weight_decay,
            residual_lr: raw
                .residual_lr
                .map(|v| positive("residual_lr", v))
                .transpose()?,
            source_residual_lr: raw
                .source_residual_lr
                .map(|v| positive("source_residual_lr", v))
                .transpose()?,
            residual_weight_decay: non_negative(
                "residual_weight_decay",
                raw.residual_weight_decay.unwrap_or(weight_decay),
            )?,
            residual_l2: non_negative("residual_l2", raw.residual_l2)?,
            device,
            threads: raw.threads,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xnas_core::parse_params;

    #[test]
    fn defaults_and_inherited_residual_settings() {
        let p: XferParams = parse_params("").unwrap();
        assert_eq!(p, XferParams::default());
        let p: XferParams = parse_params(
            "lr = 0.01\nweight_decay = 0.0\nresidual_hidden = []\nnormalise = \"rank\"",
        )
        .unwrap();
        assert_eq!((p.residual_lr(), p.residual_weight_decay), (0.01, 0.0));
        assert!(p.residual_hidden.is_empty());
        assert_eq!(p.normalise, Normalise::RANK);
        let p: XferParams = parse_params("target_share = 0.0").unwrap();
        assert_eq!(p.target_share, 0.0);
        let p: XferParams = parse_params("lr = 0.01\nresidual_lr = 0.002").unwrap();
        assert_eq!((p.lr, p.residual_lr), (0.01, Some(0.002)));
        assert_eq!(XferParams::default().threads, 1);
        let p: XferParams = parse_params("threads = 0").unwrap();
        assert_eq!(p.threads, 0);
    }

    #[test]
    fn cost_keys_take_a_count_or_the_word_for_as_before() {
        let p: XferParams =
            parse_params("pretrain_epochs = \"optimizer\"\nsource_replay = \"all\"").unwrap();
        assert_eq!((p.pretrain_epochs, p.source_replay), (None, None));
        let p: XferParams = parse_params("pretrain_epochs = 20\nsource_replay = 0").unwrap();
        assert_eq!((p.pretrain_epochs, p.source_replay), (Some(20), Some(0)));
        let p: XferParams = parse_params("").unwrap();
        assert_eq!(
            (p.pretrain_epochs, p.source_replay),
            (DEFAULT_PRETRAIN_EPOCHS, DEFAULT_SOURCE_REPLAY)
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            ("phase_swich = 3", "phase_swich"),
            ("normalise = \"zscore\"", "normalise"),
            ("lr = 0.0", "lr"),
            ("residual_lr = -1.0", "residual_lr"),
            ("source_residual_lr = 0.0", "source_residual_lr"),
            ("weight_decay = -0.1", "weight_decay"),
            ("residual_l2 = nan", "residual_l2"),
            ("residual_hidden = [16, 0]", "residual_hidden[1]"),
            ("device = \"gpu\"", "device"),
            ("phase_switch = -2", "phase_switch"),
            ("target_share = 1.0", "target_share"),
            ("target_share = -0.1", "target_share"),
            ("target_share = nan", "target_share"),
            ("threads = -1", "threads"),
            ("threads = 1.5", "threads"),
            ("source_replay = \"some\"", "source_replay"),
            ("source_replay = -1", "source_replay"),
            ("source_replay = 4294967296", "source_replay"),
            ("pretrain_epochs = 0", "pretrain_epochs"),
            ("pretrain_batch = 0", "pretrain_batch"),
            ("pretrain_epochs = \"all\"", "pretrain_epochs"),
        ] {
            let e = parse_params::<XferParams>(text).unwrap_err();
            assert!(e.message().contains(&format!("`{key}")), "{text}: {e}");
        }
    }
}
