//! `[optimizer.params]` of `rl-controller`. Parsed through [`xnas_core::parse_params`] with unknown
//! keys refused, and checked in `TryFrom`, so `xnas validate` reports a bad value with its key.

use serde::Deserialize;
use xnas_core::range::{at_least_one, non_negative, positive};
use xnas_tch::tch::Device;
use xnas_tch::HeadConfig;

/// The policy-gradient update.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// PPO with the clipped surrogate, `ppo_epochs` passes over each told batch (NASNet).
    #[default]
    Ppo,
    /// One REINFORCE step per told batch: loss `−(R − b)·log π − λ_H·H` (ENAS).
    Reinforce,
}

/// Which probability ratio PPO clips.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ratio {
    /// One ratio per architecture, over all its decisions: `π(a)/π_old(a)`.
    #[default]
    Joint,
    /// One ratio per decision, clipped separately and summed over the decisions.
    PerDecision,
}

/// How the controller proposes while the transfer plan's phase 1 lasts (decorated mode, fewer
/// than `phase_switch` successful target results).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourcePhase {
    /// Policy samples, as in every later ask.
    #[default]
    Sample,
    /// The `n` likeliest of `resample·n` policy samples: the architectures the pretrained
    /// policy rates best, as `nao` starts from the sources' best architectures.
    Likeliest,
}

/// Reward transform applied to the normalised metric.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reward {
    #[default]
    Identity,
    /// `R = r³` (NAS-2017 used the cubed accuracy).
    Cube,
}

impl Reward {
    pub fn apply(self, r: f64) -> f64 {
        match self {
            Reward::Identity => r,
            Reward::Cube => r * r * r,
        }
    }
}

/// Settings of the plain heads (used when no transfer plugin supplies a head factory). Every key
/// is optional: the learning rate defaults to the controller's `lr`, weight decay to 0, so the
/// plain controller trains its output layers like NASNet's single Adam.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlainHeadParams {
    pub lr: Option<f64>,
    pub weight_decay: Option<f64>,
    pub dropout: Option<f64>,
    pub zero_last_layer: Option<bool>,
}

/// Parameters of `[optimizer.params]` for `rl-controller` (defaults in brackets).
#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "RawParams")]
pub struct RlParams {
    /// LSTM hidden units H (100).
    pub hidden: usize,
    /// Logits are divided by this before the tanh (5.0).
    pub temperature: f64,
    /// `C` of `C·tanh(ℓ/T)`; 0 turns the tanh off (2.5).
    pub tanh_constant: f64,
    pub algorithm: Algorithm,
    pub ratio: Ratio,
    /// PPO's ε (0.2).
    pub clip_epsilon: f64,
    /// PPO's K: passes over each told batch (4).
    pub ppo_epochs: usize,
    /// Adam learning rate of the controller's own parameters (3.5e-4).
    pub lr: f64,
    /// Global-norm clip of the controller's own gradients; 0 = none (5.0).
    pub grad_clip: f64,
    /// λ_H, weight of the entropy bonus (1e-5).
    pub entropy_weight: f64,
    /// β of the per-task EMA baseline (0.95).
    pub baseline_decay: f64,
    pub reward: Reward,
    /// Decorated mode: passes over the source history at creation (20).
    pub pretrain_epochs: usize,
    /// Decorated mode: minibatch size of those passes (20).
    pub pretrain_batch: usize,
    /// Decorated mode: `Some(q)` pretrains by imitation, the maximum likelihood of each source
    /// task's best share `q` of observations; `None` by REINFORCE on every source observation
    /// with its task's baseline (unset).
    pub pretrain_top: Option<f64>,
    /// Decorated mode: how the first proposals are chosen (`sample`).
    pub source_phase: SourcePhase,
    /// Decorated mode: source observations replayed with each target update (20).
    pub replay: usize,
    /// Self-imitation: each update also imitates the target's best `self_imitation` results so far
    /// (maximum likelihood, advantage 1), `self_imitation_weight` in all; 0 = off (0).
    pub self_imitation: usize,
    /// The share of the loss of those imitation rows, against 1 for the told batch (1.0).
    pub self_imitation_weight: f64,
    /// A batch of `n` proposals draws at most `resample·n` sequences from the policy before the
    /// rest are uniform samples (10).
    pub resample: usize,
    /// Hidden widths of every head (`[]` = linear), in plain and decorated mode alike.
    pub head_hidden: Vec<u32>,
    pub device: Device,
    /// torch intra-op threads while the controller computes; 0 leaves torch's setting (1).
    pub threads: usize,
    /// Training settings of the plain heads.
    pub head: HeadConfig,
}

impl Default for RlParams {
    fn default() -> Self {
        // The defaults are the raw defaults, which always pass the checks.
        RlParams::try_from(RawParams::default()).expect("the defaults are valid")
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawParams {
    hidden: usize,
    temperature: f64,
    tanh_constant: f64,
    algorithm: Algorithm,
    ratio: Ratio,
    clip_epsilon: f64,
    ppo_epochs: usize,
    lr: f64,
    grad_clip: f64,
    entropy_weight: f64,
    baseline_decay: f64,
    reward: Reward,
    pretrain_epochs: usize,
    pretrain_batch: usize,
    pretrain_top: Option<f64>,
    source_phase: SourcePhase,
    replay: usize,
    self_imitation: usize,
    self_imitation_weight: f64,
    resample: usize,
    head_hidden: Vec<u32>,
    device: String,
    threads: usize,
    head: PlainHeadParams,
}

impl Default for RawParams {
    fn default() -> Self {
        RawParams {
            hidden: 100,
            temperature: 5.0,
            tanh_constant: 2.5,
            algorithm: Algorithm::Ppo,
            ratio: Ratio::Joint,
            clip_epsilon: 0.2,
            ppo_epochs: 4,
            lr: 3.5e-4,
            grad_clip: 5.0,
            entropy_weight: 1e-5,
            baseline_decay: 0.95,
            reward: Reward::Identity,
            pretrain_epochs: 20,
            pretrain_batch: 20,
            pretrain_top: None,
            source_phase: SourcePhase::Sample,
            replay: 20,
            self_imitation: 0,
            self_imitation_weight: 1.0,
            resample: 10,
            head_hidden: Vec::new(),
            device: "cpu".into(),
            threads: 1,
            head: PlainHeadParams::default(),
        }
    }
}

impl TryFrom<RawParams> for RlParams {
    type Error = String;

    fn try_from(raw: RawParams) -> Result<Self, String> {
        if !(0.0..1.0).contains(&raw.baseline_decay) {
            return Err(format!(
                "`baseline_decay` is {}: it must be in [0, 1)",
                raw.baseline_decay
            ));
        }
        if !(raw.clip_epsilon > 0.0 && raw.clip_epsilon < 1.0) {
            return Err(format!(
                "`clip_epsilon` is {}: it must be in (0, 1)",
                raw.clip_epsilon
            ));
        }
        if let Some(w) = raw.head_hidden.iter().position(|&w| w == 0) {
            return Err(format!("`head_hidden[{w}]` is 0: widths must be positive"));
        }
        let lr = positive("lr", raw.lr)?;
        let head = HeadConfig {
            lr: positive("head.lr", raw.head.lr.unwrap_or(lr))?,
            weight_decay: non_negative("head.weight_decay", raw.head.weight_decay.unwrap_or(0.0))?,
            dropout: match raw.head.dropout.unwrap_or(0.0) {
                d if (0.0..1.0).contains(&d) => d,
                d => return Err(format!("`head.dropout` is {d}: it must be in [0, 1)")),
            },
            zero_last_layer: raw.head.zero_last_layer.unwrap_or(false),
        };
        // Checked here, not at creation, so `xnas validate` names a device that cannot be used.
        let device =
            xnas_tch::device::parse("device", &raw.device).map_err(|e| e.message().to_string())?;
        Ok(RlParams {
            hidden: at_least_one("hidden", raw.hidden)?,
            temperature: positive("temperature", raw.temperature)?,
            tanh_constant: non_negative("tanh_constant", raw.tanh_constant)?,
            algorithm: raw.algorithm,
            ratio: raw.ratio,
            clip_epsilon: raw.clip_epsilon,
            ppo_epochs: at_least_one("ppo_epochs", raw.ppo_epochs)?,
            lr,
            grad_clip: non_negative("grad_clip", raw.grad_clip)?,
            entropy_weight: non_negative("entropy_weight", raw.entropy_weight)?,
            baseline_decay: raw.baseline_decay,
            reward: raw.reward,
            pretrain_epochs: raw.pretrain_epochs,
            pretrain_batch: at_least_one("pretrain_batch", raw.pretrain_batch)?,
            pretrain_top: match raw.pretrain_top {
                Some(q) if !(q > 0.0 && q <= 1.0) => {
                    return Err(format!("`pretrain_top` is {q}: it must be in (0, 1]"))
                }
                q => q,
            },
            source_phase: raw.source_phase,
            replay: raw.replay,
            self_imitation: raw.self_imitation,
            self_imitation_weight: non_negative(
                "self_imitation_weight",
                raw.self_imitation_weight,
            )?,
            resample: at_least_one("resample", raw.resample)?,
            head_hidden: raw.head_hidden,
            device,
            threads: raw.threads,
            head,
        })
    }
}
