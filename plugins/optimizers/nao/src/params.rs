//! `[optimizer.params]` of `nao`. Every key has a default (renqianluo/NAO_pytorch NAO_V1's where
//! the reference has one, a measured choice otherwise: see docs/plugins/nao.md); range checks live here so that
//! `xnas validate` catches them, and every message starts with the key in backticks.

use serde::Deserialize;
use xnas_core::range::{at_least_one, non_negative, positive};
use xnas_core::Normalise;

/// Parameters of the `nao` optimizer, validated.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "Raw")]
pub struct NaoParams {
    /// `"cpu"`, `"cuda"`, `"cuda:N"` or `"auto"`.
    pub device: String,
    /// libtorch's intra-op CPU threads while `nao` computes (0 = leave libtorch's setting).
    /// Fixed by default: results depend on it, so a search repeats across machines.
    pub threads: usize,
    /// LSTM width H of the encoder and decoder; also the width of the code the head reads.
    pub hidden: usize,
    /// Width of the encoder's token embedding.
    pub emb: usize,
    /// Consecutive tokens folded into one encoder step (NAO V1 folds 2); the sequence length must
    /// be a multiple of it.
    pub fold: usize,
    pub encoder_dropout: f64,
    pub decoder_dropout: f64,
    /// Weight of the prediction loss; the reconstruction loss gets `1 − alpha`.
    pub alpha: f64,
    /// Adam on the encoder and decoder.
    pub lr: f64,
    pub weight_decay: f64,
    /// Global gradient-norm clip of the encoder and decoder.
    pub grad_clip: f64,
    pub batch_size: usize,
    /// Epochs per training round, and for the first round.
    pub epochs: usize,
    pub epochs_first: usize,
    /// Start points of the gradient ascent: the best `top_k` architectures.
    pub top_k: usize,
    /// Step sizes η = step_start, step_start + 1, … while η ≤ max_step.
    pub step_start: f64,
    pub max_step: f64,
    /// New architectures the ascent gathers per ask before keeping the `n` the model predicts
    /// best; at most `n` (0, say) keeps the first `n` new ones, NAO's own order.
    pub candidates: usize,
    /// Random unseen architectures that join the ascent's candidates from the target's start
    /// points, rated by the model like them (0 = none).
    pub sampled_candidates: usize,
    /// Mutations of the best target architectures (the best 10 in turn) that join the ascent's
    /// candidates from the target's start points, rated by the model like them (0 = none).
    pub mutated_candidates: usize,
    /// Random proposals until the target has this many observations (plain mode).
    pub initial_random: usize,
    /// Symmetric-variant augmentation when the space declares symmetries.
    pub augment: bool,
    /// Per-task normalisation of the metric; `None` = the head factory's plan (min-max for the
    /// plain factory, NAO's own).
    pub normalise: Option<Normalise>,
    /// Parameters start uniform in ±init_range.
    pub init_range: f64,
    pub head: HeadParams,
}

/// `[optimizer.params.head]`: the predictor head. `hidden` is passed to whichever head factory
/// builds it; the rest configures the plain head this plugin builds when it is not decorated.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HeadParams {
    pub hidden: Vec<u32>,
    pub lr: f64,
    pub weight_decay: f64,
    pub dropout: f64,
}

impl Default for HeadParams {
    fn default() -> Self {
        HeadParams {
            hidden: vec![64, 64],
            lr: 1e-3,
            weight_decay: 1e-4,
            dropout: 0.0,
        }
    }
}

impl Default for NaoParams {
    fn default() -> Self {
        NaoParams {
            device: "cpu".into(),
            threads: 1,
            hidden: 96,
            emb: 48,
            fold: 1,
            encoder_dropout: 0.0,
            decoder_dropout: 0.0,
            alpha: 0.8,
            lr: 1e-3,
            weight_decay: 1e-4,
            grad_clip: 5.0,
            batch_size: 100,
            epochs: 100,
            epochs_first: 300,
            top_k: 100,
            step_start: 1.0,
            max_step: 50.0,
            candidates: 50,
            sampled_candidates: 0,
            mutated_candidates: 0,
            initial_random: 10,
            augment: true,
            normalise: None,
            init_range: 0.1,
            head: HeadParams::default(),
        }
    }
}

/// What serde reads: every field optional, unknown keys refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    device: Option<String>,
    threads: Option<usize>,
    hidden: Option<usize>,
    emb: Option<usize>,
    fold: Option<usize>,
    encoder_dropout: Option<f64>,
    decoder_dropout: Option<f64>,
    alpha: Option<f64>,
    lr: Option<f64>,
    weight_decay: Option<f64>,
    grad_clip: Option<f64>,
    batch_size: Option<usize>,
    epochs: Option<usize>,
    epochs_first: Option<usize>,
    top_k: Option<usize>,
    step_start: Option<f64>,
    max_step: Option<f64>,
    candidates: Option<usize>,
    sampled_candidates: Option<usize>,
    mutated_candidates: Option<usize>,
    initial_random: Option<usize>,
    augment: Option<bool>,
    normalise: Option<String>,
    init_range: Option<f64>,
    head: Option<HeadParams>,
}

fn probability(key: &str, v: f64) -> Result<f64, String> {
    if (0.0..1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("`{key}` is {v}: a dropout rate is in [0, 1)"))
    }
}

/// Syntax of a device setting; whether CUDA is usable is checked when the optimizer is built.
fn device(v: String) -> Result<String, String> {
    let t = v.trim();
    let ok = matches!(t, "cpu" | "cuda" | "auto")
        || t.strip_prefix("cuda:")
            .is_some_and(|n| n.parse::<usize>().is_ok());
    if ok {
        Ok(t.to_string())
    } else {
        Err(format!(
            "`device` is \"{v}\": expected \"cpu\", \"cuda\", \"cuda:N\" or \"auto\""
        ))
    }
}

fn normalise(v: String) -> Result<Normalise, String> {
    match v.trim() {
        "minmax" => Ok(Normalise::MIN_MAX),
        "rank" => Ok(Normalise::RANK),
        _ => Err(format!(
            "`normalise` is \"{v}\": expected \"minmax\" or \"rank\" (or leave it out: the head \
             factory's plan decides)"
        )),
    }
}

impl TryFrom<Raw> for NaoParams {
    type Error = String;

    fn try_from(r: Raw) -> Result<Self, String> {
        let d = NaoParams::default();
        let p = NaoParams {
            device: r.device.map(device).transpose()?.unwrap_or(d.device),
            threads: r.threads.unwrap_or(d.threads),
            hidden: at_least_one("hidden", r.hidden.unwrap_or(d.hidden))?,
            emb: at_least_one("emb", r.emb.unwrap_or(d.emb))?,
            fold: at_least_one("fold", r.fold.unwrap_or(d.fold))?,
            encoder_dropout: probability(
                "encoder_dropout",
                r.encoder_dropout.unwrap_or(d.encoder_dropout),
            )?,
            decoder_dropout: probability(
                "decoder_dropout",
                r.decoder_dropout.unwrap_or(d.decoder_dropout),
            )?,
            alpha: r.alpha.unwrap_or(d.alpha),
            lr: positive("lr", r.lr.unwrap_or(d.lr))?,
            weight_decay: non_negative("weight_decay", r.weight_decay.unwrap_or(d.weight_decay))?,
            grad_clip: positive("grad_clip", r.grad_clip.unwrap_or(d.grad_clip))?,
            batch_size: at_least_one("batch_size", r.batch_size.unwrap_or(d.batch_size))?,
            epochs: at_least_one("epochs", r.epochs.unwrap_or(d.epochs))?,
            epochs_first: at_least_one("epochs_first", r.epochs_first.unwrap_or(d.epochs_first))?,
            top_k: at_least_one("top_k", r.top_k.unwrap_or(d.top_k))?,
            step_start: positive("step_start", r.step_start.unwrap_or(d.step_start))?,
            max_step: positive("max_step", r.max_step.unwrap_or(d.max_step))?,
            candidates: r.candidates.unwrap_or(d.candidates),
            sampled_candidates: r.sampled_candidates.unwrap_or(d.sampled_candidates),
            mutated_candidates: r.mutated_candidates.unwrap_or(d.mutated_candidates),
            initial_random: r.initial_random.unwrap_or(d.initial_random),
            augment: r.augment.unwrap_or(d.augment),
            normalise: r.normalise.map(normalise).transpose()?,
            init_range: positive("init_range", r.init_range.unwrap_or(d.init_range))?,
            head: r.head.unwrap_or(d.head),
        };
        if !(0.0..=1.0).contains(&p.alpha) {
            return Err(format!(
                "`alpha` is {}: it weighs the prediction loss against reconstruction, in [0, 1]",
                p.alpha
            ));
        }
        if p.max_step < p.step_start {
            return Err(format!(
                "`max_step` is {}: it must be at least `step_start` ({})",
                p.max_step, p.step_start
            ));
        }
        let h = &p.head;
        if h.hidden.contains(&0) {
            return Err(format!(
                "`head.hidden` is {:?}: every width must be positive",
                h.hidden
            ));
        }
        positive("head.lr", h.lr)?;
        non_negative("head.weight_decay", h.weight_decay)?;
        probability("head.dropout", h.dropout)?;
        Ok(p)
    }
}
