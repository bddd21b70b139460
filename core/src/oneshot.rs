//! The ABI of one-shot search: the **supernet protocol** between a trainable search space and a
//! one-shot optimizer, and the one-shot optimizer object the host drives.
//!
//! One-shot methods (DARTS, P-DARTS, warm-started DARTS, BASE) train one weight-sharing network
//! and read the architecture off its mixing weights. The split keeps both sides plugins:
//!
//! * **The space owns the network** ([`FfiSupernet`]): weights, their SGD optimizer and
//!   learning-rate schedule, the data iterators, BN, per-task classifiers, checkpoints.
//! * **The optimizer owns the architecture**: α (or BASE's Θ), its update rule, Gumbel noise,
//!   the derivation rule, P-DARTS's pruning. It needs no tch: these are small matrices.
//! * **What crosses**: per batch, the mixing weights of every edge as a [`Matrix`] (rows = edges
//!   in [`SupernetLayout::edges`] order, cols = the edge's candidates in
//!   [`SupernetInfo::candidates`] order) and back the loss and ∂loss/∂mix. The optimizer applies
//!   the softmax (or Gumbel-softmax) Jacobian itself.

use crate::abi::{Arch, Matrix, Proposal, SpaceBox};
use crate::error::PluginError;
use abi_stable::std_types::{RBox, ROption, RResult, RSlice, RString, RVec};
use abi_stable::{sabi_trait, StableAbi};

/// One edge of a cell's DAG: the mixed operation from state `input` into intermediate `node`.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct SupernetEdge {
    /// The cell kind whose α this edge belongs to (`"normal"`, `"reduce"`, or `"cell"`).
    pub cell: RString,
    /// The intermediate node it feeds, 0-based.
    pub node: u32,
    /// The state it reads: 0 and 1 are the cell's inputs (or the only input, 0), 2.. earlier nodes.
    pub input: u32,
}

/// The shape every supernet of a space shares, whatever its depth: what α is indexed by.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct SupernetLayout {
    /// Every edge of the searched cells, in the row order of every mixing matrix.
    pub edges: RVec<SupernetEdge>,
    /// Every candidate operation's name, in the space's order (op indices point here).
    pub ops: RVec<RString>,
    /// The zero operation (`none`), if the space has one.
    pub zero_op: ROption<u32>,
    /// The identity operation (`skip_connect`), if the space has one.
    pub skip_op: ROption<u32>,
    /// Incoming edges each node keeps in a derived cell; 0 keeps all of them (NAS-Bench-201).
    pub edges_per_node: u32,
    /// Whether a derived cell may choose the zero op for a kept edge (NAS-Bench-201: yes;
    /// the DARTS cell: no, `none` is excluded from edge ranking and op choice).
    pub zero_op_selectable: bool,
    /// The cell a genome's skip count is read from (`"normal"` for the DARTS cell).
    pub skip_cell: RString,
}

/// How the supernet trains its network weights: the method's recipe, which the space applies.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct WeightRecipe {
    pub batch_size: u32,
    /// SGD learning rate, cosine-annealed to `learning_rate_min` over `epochs`.
    pub learning_rate: f64,
    pub learning_rate_min: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    /// Global-norm clip of the weight gradient; 0 = off.
    pub grad_clip: f64,
    /// Length of the cosine schedule, in epochs.
    pub epochs: u32,
    /// Share of each task's training split that trains w; the rest gives the α batches and
    /// [`FfiSupernet::evaluate`]'s split (DARTS: 0.5).
    pub train_portion: f64,
}

/// What a one-shot optimizer asks a space to build.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct SupernetSpec {
    /// Tasks whose data trains it: one for DARTS; several for BASE or a meta search, each with
    /// its own classifier (and stem per input shape). [`FfiSupernet::set_task`] picks one.
    pub tasks: RVec<RString>,
    /// Cells of the search network; 0 = the space's default.
    pub cells: u32,
    /// Initial channels; 0 = the space's default.
    pub channels: u32,
    /// Candidate op indices kept on each edge (layout order), every edge the same count; empty =
    /// every op on every edge (P-DARTS's later stages and warm starts keep fewer).
    pub candidates: RVec<RVec<u32>>,
    pub recipe: WeightRecipe,
    pub seed: u64,
}

/// What a built supernet reports about itself.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct SupernetInfo {
    /// Candidate op indices per edge (layout order): the columns of a mixing matrix.
    pub candidates: RVec<RVec<u32>>,
    /// Trainable network weights, per-task classifiers included.
    pub parameters: u64,
    /// Training batches in one epoch of the current task (the length of its w split).
    pub train_batches: u32,
    /// Batches of the current task's α split.
    pub valid_batches: u32,
    /// The epoch the learning-rate schedule is in (0-based).
    pub epoch: u32,
    /// The learning rate of the next weight step.
    pub learning_rate: f64,
}

/// Loss and accuracy of one batch or one split.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Default)]
pub struct BatchStats {
    pub loss: f64,
    pub accuracy: f64,
    pub examples: u32,
}

/// A loss and its gradient with respect to the mixing weights.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct ArchGrad {
    pub stats: BatchStats,
    /// ∂loss/∂mix, the mixing matrix's shape.
    pub grad: Matrix,
}

/// An N-way K-shot episode (few-shot learning; BASE's few-shot mode, Shaw et al. 2019,
/// appendix B) on the supernet's current task: `way` of the task's classes drawn from `seed`,
/// relabelled 0..way, `shot` support and `query` query images of each, all drawn from the task's
/// training split. While it lasts, `train_step` and `arch_grad` read the whole support set as
/// one batch, `evaluate` the query set, and the logits are the first `way` outputs of the
/// task's classifier.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Episode {
    pub way: u32,
    pub shot: u32,
    pub query: u32,
    pub seed: u64,
}

/// What importing weights by name did.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Default)]
pub struct ImportReport {
    /// Tensors loaded (same name and shape).
    pub loaded: u32,
    /// Names of this network's tensors left as initialised (absent or of another shape there).
    pub kept: RVec<RString>,
}

#[sabi_trait]
/// ABI object of a supernet. Implement [`crate::Supernet`] instead. Every call that takes a batch
/// advances that split's iterator; the iterators cycle, and their positions are part of the state.
pub trait FfiSupernet: Send {
    fn info(&self) -> RResult<SupernetInfo, PluginError>;
    /// One weight step on the next training batch of the current task.
    fn train_step(&mut self, mix: &Matrix) -> RResult<BatchStats, PluginError>;
    /// The loss on the next α batch and ∂loss/∂mix; the weights are untouched.
    fn arch_grad(&mut self, mix: &Matrix) -> RResult<ArchGrad, PluginError>;
    /// Second-order DARTS: with w′ = w − ξ(μm + ∇w L_train + λw), ξ the current learning rate,
    /// returns ∂L_val(w′)/∂mix − ξ·[∂L_train(w⁺)/∂mix − ∂L_train(w⁻)/∂mix]/(2ε), w± = w ± εv,
    /// v = ∇w′ L_val(w′), ε = 0.01/‖v‖. It uses the next training batch (which the following
    /// `train_step` trains on) and the next α batch; w is left as it was.
    fn unrolled_arch_grad(&mut self, mix: &Matrix) -> RResult<ArchGrad, PluginError>;
    /// Loss and accuracy over the current task's whole α split.
    fn evaluate(&mut self, mix: &Matrix) -> RResult<BatchStats, PluginError>;
    /// Ends an epoch: advances the learning-rate schedule; returns the new epoch.
    fn end_epoch(&mut self) -> RResult<u32, PluginError>;
    /// Element-wise dropout after every stride-1 identity candidate (P-DARTS), 0 = off.
    fn set_skip_dropout(&mut self, p: f64) -> RResult<(), PluginError>;
    /// Which of the spec's tasks the next calls train and evaluate on.
    fn set_task(&mut self, task: u32) -> RResult<(), PluginError>;
    /// Weights, momentum buffers, iterator positions, schedule and RNG: resuming from it
    /// continues exactly as if never stopped.
    fn save_state(&self) -> RResult<RVec<u8>, PluginError>;
    fn load_state(&mut self, state: RSlice<'_, u8>) -> RResult<(), PluginError>;
    /// Keeps a copy of the weights (and momentum buffers) in the plugin; returns its id.
    fn snapshot(&mut self) -> RResult<u32, PluginError>;
    /// Sets the weights to a snapshot's.
    fn restore(&mut self, id: u32) -> RResult<(), PluginError>;
    fn drop_snapshot(&mut self, id: u32) -> RResult<(), PluginError>;
    /// Reptile's update of the weights shared by all tasks: w ← base + ε·mean_j(others_j − base).
    /// Per-task classifiers are left as they are.
    fn interpolate(
        &mut self,
        base: u32,
        others: RSlice<'_, u32>,
        epsilon: f64,
    ) -> RResult<(), PluginError>;
    /// The network weights by name (a warm start's learned transfer architecture).
    fn export_weights(&self) -> RResult<RVec<u8>, PluginError>;
    /// Loads the tensors whose names and shapes match; the rest stay as initialised.
    #[sabi(last_prefix_field)]
    fn import_weights(&mut self, weights: RSlice<'_, u8>) -> RResult<ImportReport, PluginError>;
    /// Appended in interface 0.3.1: starts an [`Episode`] on the current task (`RNone` ends it;
    /// so does `set_task`) and returns the task's labels of its classes, in relabelled order.
    /// The same episode and task draw the same images. A supernet built against 0.3.0 lacks it;
    /// calling it there gives this body's `UNSUPPORTED`.
    fn set_episode(&mut self, episode: ROption<Episode>) -> RResult<RVec<u32>, PluginError> {
        let _ = episode;
        RResult::RErr(PluginError::unsupported(
            "this search space's supernet was built before episodes (plugin interface 0.3.0)",
        ))
    }
}

/// An owned handle to a supernet. Use it through the author trait (`xnas_core::Supernet`).
#[repr(transparent)]
#[derive(StableAbi)]
pub struct SupernetBox(pub FfiSupernet_TO<'static, RBox<()>>);

// ---------------------------------------------------------------------------------------------
// The one-shot optimizer
// ---------------------------------------------------------------------------------------------

/// A named blob a run keeps (a transfer architecture, a meta-network).
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct Artifact {
    pub name: RString,
    pub data: RVec<u8>,
}

/// The artifacts of an earlier run named as a source.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct SourceArtifacts {
    /// The run directory, for messages.
    pub run: RString,
    /// The task that run searched.
    pub task: RString,
    pub artifacts: RVec<Artifact>,
}

/// Everything a one-shot optimizer is told when it is created.
#[repr(C)]
#[derive(StableAbi, Clone)]
pub struct OneShotInit {
    /// The experiment's space; it offers the supernet (`capability::SUPERNET`).
    pub space: SpaceBox,
    /// The task being searched.
    pub target: RString,
    /// Source tasks, most relevant first when a similarity plugin ranked them.
    pub sources: RVec<RString>,
    /// Artifacts of earlier runs named as sources, in the order of `sources` where they match.
    pub source_artifacts: RVec<SourceArtifacts>,
    pub seed: u64,
    pub base_dir: RString,
}

/// One search epoch's figures: what the host prints, plots and writes to `alpha.csv`.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct EpochReport {
    /// Epoch index over the whole search (stages included), 0-based.
    pub epoch: u32,
    /// Stage (P-DARTS), 0 for single-stage methods.
    pub stage: u32,
    pub train: BatchStats,
    pub valid: BatchStats,
    /// Mixing weights (softmax of α) per edge and candidate: rows in layout edge order.
    pub mix: Matrix,
    /// The op index of each mix column, per edge.
    pub candidates: RVec<RVec<u32>>,
    /// The architecture derived from the current α.
    pub genotype: Arch,
    /// Skip connections in the derived genotype's `skip_cell`.
    pub skip_count: u32,
    /// Mean entropy (nats) of the edges' mixing distributions.
    pub entropy: f64,
}

/// What one call to [`FfiOneShot::run`] did.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct SearchProgress {
    /// Iterations done in this call.
    pub steps: u32,
    /// Iterations done in the current epoch, and in a whole epoch (for a progress bar).
    pub step_in_epoch: u32,
    pub steps_per_epoch: u32,
    /// Set when this call ended an epoch.
    pub epoch_done: ROption<EpochReport>,
    /// The search is over: call `derive`.
    pub finished: bool,
}

#[sabi_trait]
/// ABI object of a one-shot optimizer. Implement [`crate::OneShot`] instead.
pub trait FfiOneShot: Send {
    /// Runs at most `max_steps` iterations; stops early at the end of an epoch.
    fn run(&mut self, max_steps: u32) -> RResult<SearchProgress, PluginError>;
    /// Everything needed to continue (its supernet's state included).
    fn save_state(&self) -> RResult<RVec<u8>, PluginError>;
    fn load_state(&mut self, state: RSlice<'_, u8>) -> RResult<(), PluginError>;
    /// The final architectures, best first, at most `n`.
    fn derive(&mut self, n: u32) -> RResult<RVec<Proposal>, PluginError>;
    /// What the run keeps for later runs (transfer architectures, meta-networks).
    #[sabi(last_prefix_field)]
    fn artifacts(&self) -> RResult<RVec<Artifact>, PluginError>;
}

/// An owned handle to a one-shot optimizer. Use it through the author trait (`xnas_core::OneShot`).
#[repr(transparent)]
#[derive(StableAbi)]
pub struct OneShotBox(pub FfiOneShot_TO<'static, RBox<()>>);
