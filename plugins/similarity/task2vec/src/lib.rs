//! `task2vec` (Achille et al. 2019, "Task2Vec: Task Embedding for Meta-Learning"; reference code
//! awslabs/aws-cv-task2vec task2vec.py): a probe (`xnas_tch::probe`) trained once in tch on a
//! dataset the user names (saved and reused, so every task is embedded by the same probe); per
//! task, a new classifier is fitted on the frozen probe's features, then the diagonal Fisher
//! information of the probe's conv and BN weights is estimated by Monte Carlo with labels sampled
//! from the model, one value per filter; distance = symmetric cosine d_sym.
//!
//! Tasks' data: `tasks` (the same tables as a trainable space's; the host passes the space's
//! when the similarity section has none), and a task named like a preset reads that preset.

pub mod params;
mod task2vec;

pub use params::Task2VecParams;
pub use task2vec::{d_sym, Task2Vec};

use xnas_core::{capability, Checked, Meta, PluginSet, SimilarityInit};

pub fn register(set: &mut PluginSet) {
    set.similarity(
        Meta {
            name: "task2vec",
            version: env!("CARGO_PKG_VERSION"),
            description: "Task2Vec: diagonal Fisher of a trained probe CNN, one value per filter; symmetric cosine distance",
            capabilities: &[capability::TRAINABLE],
        },
        // Checked as parsed, so `xnas validate` refuses what the constructor would.
        |Checked(p): Checked<Task2VecParams>, init: &SimilarityInit| Task2Vec::new(p, init),
    );
}
