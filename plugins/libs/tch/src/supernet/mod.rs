//! The supernet engine: everything a trainable search space needs to offer the supernet protocol
//! (`xnas_core::Supernet`, see `FfiSupernet` for each call's contract) for its own weight-sharing
//! network. The space writes the network ([`SearchNetwork`]: its cells, mixed ops, stems and
//! classifiers); [`SupernetEngine`] does the rest, the same way for every space:
//!
//! * **data**: each task's training split (`crate::data`) is shuffled with a seed and cut by
//!   `train_portion`: the first part trains w, the rest gives the α batches and `evaluate`'s split
//!   (DARTS, Liu et al. 2019, quark0/darts `train_search.py`). Each part has a *cycling*
//!   iterator, reshuffled from the seed at every pass; the α iterator cycles on its own and is
//!   never re-created per step (DARTS's `next(iter(valid_queue))` pitfall). A pass of the w
//!   iterator is one epoch of `train_step`s. A trailing batch of one image is skipped (batch norm
//!   cannot train on it).
//! * **w**: SGD with momentum and weight decay as PyTorch's `SGD` (d = g + λw, m ← μm + d,
//!   w ← w − ξm) with the momentum buffer kept explicitly (second-order DARTS reads it), the
//!   gradient clipped by its global L2 norm first (`clip_grad_norm_`), and a cosine schedule from
//!   `learning_rate` to `learning_rate_min` over `recipe.epochs`, stepped by `end_epoch`
//!   (`CosineAnnealingLR`; it stays at the minimum after the last epoch).
//! * **α gradients**: the mixing matrix becomes a leaf tensor that requires grad and only
//!   ∂loss/∂mix is computed (no weight gradients). The unrolled (second-order) gradient is
//!   DARTS's `architect.py` step: w′ = w − ξ(μm + ∇w L_train + λw), v = ∇w′ L_val(w′),
//!   the Hessian-vector product by central differences on the **current** w (not w′),
//!   w± = w ± εv with ε = 0.01/‖v‖ and a division by (2ε), then w restored exactly. The training
//!   batch it uses is the one the next `train_step` trains on. Batch-norm running statistics are
//!   left as DARTS leaves them (its w′ forward runs on a copy of the model).
//! * **skip dropout** (P-DARTS, Chen et al. 2019): element-wise dropout after every stride-1
//!   identity candidate in training passes; the network calls [`Pass::skip_dropout`].
//! * **tasks**: one network for every task of the spec; the network keeps one classifier per
//!   task (and whatever else it keys by task, e.g. one stem per input channel count); `set_task`
//!   picks the task the next calls use. Parameters a step does not reach (other tasks'
//!   classifiers) are left alone by it: no weight decay, no momentum (PyTorch's `grad = None`).
//! * **reproducible**: weights are drawn from torch's generator seeded from the spec's seed
//!   (`crate::seed::with_torch_seed`), shuffles from `SplitMix64` streams of (seed, task, split,
//!   pass), dropout masks from torch's generator re-seeded from (seed, the batch's draw, the
//!   call's index), so no generator state needs saving: `save_state` → `load_state` continues
//!   bit-identically on the same device and thread count.
//! * **state, snapshots, weights by name**: see [`SupernetEngine`]'s `Supernet` implementation.
//!
//! All weights (and, separately, all buffers such as batch-norm running statistics) live in one
//! flat tensor each, every variable a view into it: an SGD step, a clip, a perturbation w ± εv,
//! a snapshot or an interpolation is then a handful of large tensor operations, not thousands of
//! small ones.
//!
//! The mixing matrix a network receives is `[edges, candidates]` in the engine's float kind, on
//! its device, rows in the space's layout edge order; row `e`, column `k` weighs the `k`-th
//! candidate op of edge `e` (`SupernetSpec::candidates`). The network must only read it (it is
//! a leaf requiring grad during `arch_grad`).

mod data;
mod engine;
mod episode;
mod flat;
mod pass;
mod persist;
mod second_order;

pub use data::Batch;
pub use engine::{EngineConfig, SupernetEngine};
pub use pass::Pass;
pub use second_order::Unrolled;

use tch::Tensor;

/// A space's weight-sharing search network, which [`SupernetEngine`] trains.
///
/// Build it on the `nn::Path` the engine's builder receives (every variable under it: the engine
/// flattens, trains, saves and names them). Name variables by what they are, not by position
/// where it matters: weights are exported and imported by name (a warm start, a supernet with
/// fewer candidates), so a candidate op's variables should carry the op's name
/// (`cells.3.edges.5.sep_conv_3x3.unit0.conv0.weight`), not its column.
pub trait SearchNetwork: Send + 'static {
    /// Logits `[B, classes of task]` of a batch `x: [B, C, H, W]` of task `task`'s images (the
    /// spec's task order), with `mix: [edges, candidates]` weighing each edge's candidates.
    /// Train-mode batch norm (batch statistics, running statistics updated) when
    /// `pass.is_train()`. May panic on a libtorch error: the engine catches it.
    fn forward(&self, x: &Tensor, mix: &Tensor, task: usize, pass: &Pass) -> Tensor;

    /// Whether the variable `name` (as named in the var store) belongs to one task, like a
    /// per-task classifier: `interpolate` (Reptile's meta-update) leaves such variables as they
    /// are.
    fn is_task_specific(&self, name: &str) -> bool;
}

/// What the network is built for: the spec's tasks, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskShape {
    pub name: String,
    /// `[C, H, W]` of the task's images.
    pub shape: [usize; 3],
    pub classes: usize,
}

/// Which tasks of a multi-task search network share a stem (the featurising first layer):
/// those with the same number of image channels (`channels`, the default: the cells pool
/// globally, so 28×28 and 8×8 images share every weight but the classifiers), or only those of
/// the same `[C, H, W]` (`shape`: one stem per image size, as BASE meta-trains over ImageNet at
/// three sizes, Shaw et al. 2019). A space's `supernet_stems` parameter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StemSharing {
    #[default]
    Channels,
    Shape,
}

impl StemSharing {
    /// The stem's name among the network's variables: `c1` by channels, `c1h28w28` by shape.
    pub fn key(self, shape: [usize; 3]) -> String {
        match self {
            StemSharing::Channels => format!("c{}", shape[0]),
            StemSharing::Shape => format!("c{}h{}w{}", shape[0], shape[1], shape[2]),
        }
    }

    /// One stem per distinct key among `tasks`, built by `build(key, input channels)` in the
    /// order the tasks first need them, and each task's index into them.
    pub fn stems<S>(
        self,
        tasks: &[TaskShape],
        mut build: impl FnMut(&str, usize) -> S,
    ) -> (Vec<S>, Vec<usize>) {
        let mut keys: Vec<String> = Vec::new();
        let mut stems = Vec::new();
        let task_stem = tasks
            .iter()
            .map(|t| {
                let key = self.key(t.shape);
                keys.iter().position(|k| *k == key).unwrap_or_else(|| {
                    stems.push(build(&key, t.shape[0]));
                    keys.push(key);
                    keys.len() - 1
                })
            })
            .collect();
        (stems, task_stem)
    }
}
