//! `rl-controller`: the NASNet RL controller (Zoph et al. 2018; reference code melodyguan/enas
//! src/cifar10/micro_controller.py, carpedm20/ENAS-pytorch), over any search
//! space, with its output layers taken through the head protocol.
//!
//! ```text
//! policy:  h_t, c_t = LSTMCell(emb[token_{t−1}], h_{t−1}, c_{t−1})   (emb[SOS] = learned go input)
//!          ℓ_t = head_{group(t)}(h_t, task)  narrowed to position t's choices
//!          π(a_t) = softmax(C·tanh(ℓ_t / T))                          T = 5, C = 2.5
//! ask(n):  sample n sequences for the target; drop what was seen or the space refuses; resample,
//!          then fall back to uniform unseen samples; keep each one's log π (detached)
//! tell:    R = per-task normalised metric (failed = 0), optionally cubed;
//!          A = R − b, then b ← β b + (1 − β) R, in observation order (b starts at the first R)
//!          PPO: K epochs of −mean(min(ρA, clip(ρ, 1±ε)A)) − λ_H·mean(H); or REINFORCE
//! ```
//!
//! Plain mode (no transfer plugin, or a factory whose heads ignore tasks): the heads come from
//! [`xnas_tch::PlainHeadFactory`] and the controller learns from the target's results only.
//! Decorated mode (`HeadFactory::uses_all_tasks`): the heads are universal + per-task residual
//! (the transfer plugin's); at creation the controller pretrains on the source history, each
//! observation with its own task row, and every target update also replays a minibatch of
//! source observations, so the universal part keeps learning from all tasks.
//!
//! Deterministic: parameters are drawn from the seed, sampling uses this crate's own seeded
//! generator on the probabilities torch computes, and every random choice is a function of
//! (seed, number of asks or tells). The state (`save_state`) holds everything else. See
//! `docs/plugins/rl-controller.md` for every parameter.

mod optimizer;
pub mod params;
pub mod policy;
mod state;

pub use optimizer::RlController;
pub use params::{Algorithm, Ratio, Reward, RlParams, SourcePhase};
pub use policy::StepStats;

use xnas_core::{capability, Meta, PluginSet};

/// Registers `rl-controller` in a plugin set.
pub fn register(set: &mut PluginSet) {
    set.optimizer(
        Meta {
            name: "rl-controller",
            version: env!("CARGO_PKG_VERSION"),
            description: "NASNet RL controller: LSTM policy trained with PPO or REINFORCE, \
                          output layers through heads",
            capabilities: &[
                capability::ASK_TELL,
                capability::HEADS,
                capability::STATE,
                capability::USES_HISTORY,
            ],
        },
        RlController::new,
    );
}

xnas_core::builtin_plugins!(register);
