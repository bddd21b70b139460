//! `nao`: Neural Architecture Optimization (Luo et al., NeurIPS 2018) on any search space, through
//! the space's token view (reference code renqianluo/NAO_pytorch NAO_V1; user documentation in
//! docs/plugins/nao.md).
//!
//! ```text
//! encoder:   tokens → embedding → LSTM → per-step L2 norm = enc_out;  code = norm(mean_t enc_out)
//! predictor: a head from the head factory (plain, or a transfer plugin's): σ(head(code))
//! decoder:   LSTM from (code, code) with attention over enc_out, teacher-forced in training,
//!            greedy under the token view's masks at inference
//! loss:      α·MSE(σ(logit), y) + (1 − α)·NLL(reconstruction), Adam, gradient clip
//! ask:       random until the target has `initial_random` observations; then train (if new
//!            observations arrived) and move the top-k's enc_out along ∂Σσ/∂enc_out with
//!            growing step sizes, decoding until enough new architectures appear
//! ```
//!
//! The predictor's output layers are not this crate's: it asks the head factory for a head named
//! `predictor` and trains it through the head protocol (features → forward → backward → feature
//! gradient → own backward). Without a transfer plugin the host passes no factory and the plain
//! one of `xnas-tch` is used. With a transfer plugin's factory (`uses_all_tasks`), training data is
//! every task's history and start points follow the factory's plan (source architectures first).
//!
//! Deterministic given the seed and what it was told: parameters are initialised from the seed
//! in Rust, each training round shuffles and seeds torch's dropout generator from (seed, round),
//! random proposals come from (seed, draw counter), and `ask` runs libtorch with a fixed number of
//! threads (results depend on it). Its state (model, Adam, head, data,
//! counters) can be saved, so a resumed run continues without replaying.

mod model;
mod nao;
mod params;

pub use nao::{AskReport, Nao, TrainReport};
pub use params::{HeadParams, NaoParams};

use xnas_core::{capability, Meta, PluginSet};

/// Registers `nao` in a plugin set.
pub fn register(set: &mut PluginSet) {
    set.optimizer(
        Meta {
            name: "nao",
            version: env!("CARGO_PKG_VERSION"),
            description:
                "NAO: encoder-predictor-decoder, gradient ascent in architecture code space",
            capabilities: &[
                capability::ASK_TELL,
                capability::HEADS,
                capability::STATE,
                capability::USES_HISTORY,
                capability::PREDICT,
            ],
        },
        Nao::new,
    );
}

xnas_core::builtin_plugins!(register);
