//! The author layer: plain Rust traits a plugin implements. [`crate::PluginSet`] wraps them into
//! ABI objects with a panic guard; the host uses ABI objects through these same traits.

use crate::abi::*;
use crate::error::{PluginError, PluginResult};

/// A search space: describes, samples, mutates, canonicalises and evaluates architectures.
///
/// Every method takes `&self` and the space is shared between worker threads, so keep mutable
/// state behind a lock (or better, have none: randomness arrives as a seed).
pub trait SearchSpace: Send + Sync + 'static {
    fn describe(&self) -> PluginResult<SpaceDesc>;
    /// A uniformly random valid genome, determined by `seed`.
    fn sample(&self, seed: u64) -> PluginResult<Vec<u32>>;
    /// A valid genome that differs from `genome` by one decision, determined by `seed`: one of
    /// [`SearchSpace::neighbours`]. An error when `genome` has no neighbour.
    fn mutate(&self, genome: &[u32], seed: u64) -> PluginResult<Vec<u32>>;
    /// Every valid genome one decision away from `genome`, in a fixed order, without duplicates
    /// and without `genome` itself: the neighbourhood of local search. Every answer of
    /// [`SearchSpace::mutate`] for `genome` is among them. Empty when no single change stays in
    /// the space; an error when `genome` is not valid.
    ///
    /// The default ([`single_changes`]) tries every single-position change that `describe`
    /// allows and keeps those `canonical` accepts. A space whose `mutate` answers canonical
    /// genomes (which may then differ in several genes) answers the distinct canonical forms of
    /// its single changes that are another architecture, and says so in its docs.
    fn neighbours(&self, genome: &[u32]) -> PluginResult<Vec<Vec<u32>>> {
        single_changes(self, genome)
    }
    /// Validates `genome` and returns its canonical form (isomorphic genomes map to one) and text.
    fn canonical(&self, genome: &[u32]) -> PluginResult<Arch>;
    /// Parses the text form written by `canonical`.
    fn parse(&self, text: &str) -> PluginResult<Vec<u32>>;
    /// Genomes with the same metric as `genome` (e.g. branch swaps), for data augmentation.
    fn symmetric_variants(&self, _genome: &[u32]) -> PluginResult<Vec<Vec<u32>>> {
        Ok(Vec::new())
    }
    /// The best validation metric of `task` in the space, if the space knows it (benchmarks).
    fn best_metric(&self, _task: &str) -> Option<f64> {
        None
    }
    /// Evaluates one architecture. An `Err` marks the trial failed; the search goes on.
    fn evaluate(&self, request: &EvalRequest) -> PluginResult<EvalResult>;
    /// The edges and candidate ops of this space's supernets (spaces declaring `supernet`).
    fn supernet_layout(&self) -> PluginResult<SupernetLayout> {
        Err(PluginError::unsupported(
            "this search space offers no supernet (it does not declare `supernet`)",
        ))
    }
    /// Builds a weight-sharing supernet (spaces declaring `supernet`).
    fn build_supernet(&self, _spec: &SupernetSpec) -> PluginResult<SupernetBox> {
        Err(PluginError::unsupported(
            "this search space offers no supernet (it does not declare `supernet`)",
        ))
    }
    /// The genome of a derived cell: `selection[e]` is the op chosen on layout edge `e`, or −1
    /// where the edge is dropped.
    fn supernet_genome(&self, _selection: &[i32]) -> PluginResult<Vec<u32>> {
        Err(PluginError::unsupported(
            "this search space offers no supernet (it does not declare `supernet`)",
        ))
    }
}

/// An ask/tell optimizer. It must be deterministic given its seed and the observations it was
/// told: the host resumes a run by replaying asks and tells, and checks that asks repeat.
pub trait Optimizer: Send + 'static {
    /// Proposes `n` architectures to evaluate next.
    fn ask(&mut self, n: usize) -> PluginResult<Vec<Proposal>>;
    /// Receives the outcomes of earlier proposals, in trial-id order (failed trials included).
    fn tell(&mut self, observations: &[Observation]) -> PluginResult<()>;
    /// Serialised state, for optimizers that declare the `state` capability.
    fn save_state(&self) -> PluginResult<Vec<u8>> {
        Err(PluginError::unsupported(
            "this optimizer does not save its state",
        ))
    }
    fn load_state(&mut self, _state: &[u8]) -> PluginResult<()> {
        Err(PluginError::unsupported(
            "this optimizer does not restore state",
        ))
    }
    /// The surrogate's prediction of the target metric for each genome (higher is better; any
    /// monotone scale), for optimizers that declare the `predict` capability. Trains on what
    /// it was told first if it needs to.
    fn predict(&mut self, _genomes: &[Vec<u32>]) -> PluginResult<Vec<f64>> {
        Err(PluginError::unsupported(
            "this optimizer has no surrogate to predict with",
        ))
    }
}

/// The output layers of an optimizer that takes heads (see the head protocol in the docs).
pub trait Head: Send + 'static {
    fn forward(&mut self, features: &Matrix, tasks: &[u32], train: bool) -> PluginResult<Matrix>;
    fn backward(&mut self, grad_output: &Matrix) -> PluginResult<Matrix>;
    fn step(&mut self) -> PluginResult<()>;
    fn save_state(&self) -> PluginResult<Vec<u8>>;
    fn load_state(&mut self, state: &[u8]) -> PluginResult<()>;
}

/// Builds heads for an optimizer.
pub trait HeadFactory: Send + Sync + 'static {
    fn describe(&self) -> String;
    /// True when heads are per-task (transfer): the optimizer then trains on all tasks' history.
    fn uses_all_tasks(&self) -> bool;
    fn make_head(&self, spec: &HeadSpec) -> PluginResult<HeadBox>;
    /// Phases and normalisation for the optimizer; the plain plan unless a transfer plugin says otherwise.
    fn plan(&self) -> TransferPlan {
        TransferPlan::plain()
    }
}

/// A transfer decorator: supplies the head factory the inner optimizer is built with, then wraps it.
pub trait Transfer: Send + 'static {
    fn head_factory(&self) -> PluginResult<HeadFactoryBox>;
    fn wrap(&mut self, inner: OptimizerBox, init: &OptimizerInit) -> PluginResult<OptimizerBox>;
}

/// A task-similarity measure: embeds tasks, then measures distances between embeddings.
///
/// A measure that needs architectures evaluated on each task (landmark architectures) declares
/// the `landmarks` capability and implements [`Similarity::landmarks`] and
/// [`Similarity::embed_scores`]; the host evaluates them (persisted, in parallel, the target's
/// against the search budget) and never calls `embed`.
pub trait Similarity: Send + 'static {
    fn embed(&mut self, task: &str) -> PluginResult<Vec<f32>>;
    fn distance(&self, a: &[f32], b: &[f32]) -> PluginResult<f64>;
    fn landmarks(&mut self) -> PluginResult<Vec<Vec<u32>>> {
        Err(PluginError::unsupported(
            "this similarity measure has no landmark architectures",
        ))
    }
    fn embed_scores(&mut self, task: &str, _scores: &[f64]) -> PluginResult<Vec<f32>> {
        self.embed(task)
    }
}

/// A weight-sharing supernet built by a space for a one-shot optimizer (the supernet protocol;
/// see [`FfiSupernet`] for each call's contract). `mix` is rows = layout edges × cols = the
/// edge's candidates.
pub trait Supernet: Send + 'static {
    fn info(&self) -> PluginResult<SupernetInfo>;
    fn train_step(&mut self, mix: &Matrix) -> PluginResult<BatchStats>;
    fn arch_grad(&mut self, mix: &Matrix) -> PluginResult<ArchGrad>;
    fn unrolled_arch_grad(&mut self, mix: &Matrix) -> PluginResult<ArchGrad>;
    fn evaluate(&mut self, mix: &Matrix) -> PluginResult<BatchStats>;
    fn end_epoch(&mut self) -> PluginResult<u32>;
    fn set_skip_dropout(&mut self, p: f64) -> PluginResult<()>;
    fn set_task(&mut self, task: u32) -> PluginResult<()>;
    fn save_state(&self) -> PluginResult<Vec<u8>>;
    fn load_state(&mut self, state: &[u8]) -> PluginResult<()>;
    fn snapshot(&mut self) -> PluginResult<u32>;
    fn restore(&mut self, id: u32) -> PluginResult<()>;
    fn drop_snapshot(&mut self, id: u32) -> PluginResult<()>;
    fn interpolate(&mut self, base: u32, others: &[u32], epsilon: f64) -> PluginResult<()>;
    fn export_weights(&self) -> PluginResult<Vec<u8>>;
    fn import_weights(&mut self, weights: &[u8]) -> PluginResult<ImportReport>;
    /// Starts (or with None ends) a few-shot episode on the current task; returns the task's
    /// labels of its classes. Unsupported unless the supernet implements it.
    fn set_episode(&mut self, episode: Option<Episode>) -> PluginResult<Vec<u32>> {
        let _ = episode;
        Err(PluginError::unsupported(
            "this supernet has no few-shot episodes",
        ))
    }
}

/// A one-shot optimizer (DARTS family): owns the architecture parameters, drives a supernet it
/// builds from `OneShotInit::space`, and derives the final architectures. The host runs it by
/// steps, checkpoints it at every epoch's end and evaluates what `derive` returns as trials.
/// It must be deterministic given its seed: a resumed search continues exactly.
pub trait OneShot: Send + 'static {
    fn run(&mut self, max_steps: u32) -> PluginResult<SearchProgress>;
    fn save_state(&self) -> PluginResult<Vec<u8>>;
    fn load_state(&mut self, state: &[u8]) -> PluginResult<()>;
    fn derive(&mut self, n: usize) -> PluginResult<Vec<Proposal>>;
    /// What the run keeps for later runs; none by default.
    fn artifacts(&self) -> PluginResult<Vec<Artifact>> {
        Ok(Vec::new())
    }
}

/// The default [`SearchSpace::neighbours`]: every genome that differs from `genome` in one
/// position (any other value `describe` allows there) and that `canonical` accepts, by position
/// then value. `genome` itself must be valid.
pub fn single_changes<S: SearchSpace + ?Sized>(
    space: &S,
    genome: &[u32],
) -> PluginResult<Vec<Vec<u32>>> {
    space.canonical(genome)?;
    let desc = space.describe()?;
    if genome.len() != desc.positions.len() {
        return Err(PluginError::invalid_architecture(format!(
            "genome {genome:?} has {} genes, the space describes {} positions",
            genome.len(),
            desc.positions.len()
        )));
    }
    let mut out = Vec::new();
    let mut child = genome.to_vec();
    for (p, position) in desc.positions.iter().enumerate() {
        for v in (0..position.choices).filter(|&v| v != genome[p]) {
            child[p] = v;
            if space.canonical(&child).is_ok() {
                out.push(child.clone());
            }
        }
        child[p] = genome[p];
    }
    Ok(out)
}
