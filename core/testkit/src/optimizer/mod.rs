//! [`check_optimizer`]: drives an optimizer with the host's protocol (`host/src/run/mod.rs`).
//!
//! The run loop asks `n = min(batch_size, evaluations left)` proposals, canonicalises each (a
//! proposal `canonical` refuses becomes a failed trial), evaluates them and tells the whole batch
//! at once, in trial-id order (the order of the proposals), failed trials included, each with the
//! canonical genome. An empty ask ends the search. Observations may also be told before the first
//! ask: a similarity plugin's landmark evaluations (batch 0) and `xnas ablation` do that. On
//! resume the host rebuilds the optimizer with the same seed and replays the asks and tells, or
//! loads the latest `save_state` blob into it.

mod checks;
mod protocol;

use super::{err_text, guarded, same_f64, Failure, Report};
use abi_stable::std_types::{RNone, ROption, RVec};
use std::cell::Cell;
use xnas_core::{
    derive_seed, fnv1a64, Arch, ErrorKind, Observation, Optimizer, OptimizerInit, PluginResult,
    Proposal, SearchSpace, SpaceBox, TrialStatus,
};

/// Base of the kit's own seeds (its default optimizer seeds, and the genomes it tells unasked).
const KIT_SEED: u64 = 0x7e57_0b7e;
const UNASKED_TAG: u64 = 1;
const HELD_TAG: u64 = 2;
/// Rounds run after observations told before the first ask.
const ROUNDS_AFTER_UNASKED: usize = 3;
/// How transcripts of two optimizers built alike are told apart.
const TWO: (&str, &str) = ("the first optimizer", "the second");
/// Architectures `predict` is asked about.
const PREDICTED: usize = 5;

/// How [`check_optimizer_with`] drives the optimizer.
#[derive(Clone, Debug)]
pub struct OptimizerOptions {
    /// The target task of the [`OptimizerInit`] the kit builds, and of every observation told.
    pub target: String,
    /// Seeds optimizers are built with. The first is used for the determinism and state checks;
    /// the others must give different proposals (see `seed_matters`). At least one.
    pub seeds: Vec<u64>,
    /// `n` of each round's `ask(n)`: one round per entry. Each at least 1.
    pub batches: Vec<usize>,
    /// The round (an index into `batches`) after which `save_state` is taken; the restored
    /// optimizer must propose what the original proposes in the later rounds.
    pub state_after: usize,
    /// Observations of sampled architectures told before the first ask (as the host does with
    /// landmark evaluations and in ablations); 0 skips that check.
    pub told_first: usize,
    /// Whether different seeds must give different proposals. Turn it off only for an optimizer
    /// that is deterministic by design (say, an exhaustive enumeration).
    pub seed_matters: bool,
}

impl Default for OptimizerOptions {
    fn default() -> Self {
        OptimizerOptions {
            target: "testkit-target".into(),
            seeds: (0..3).map(|i| derive_seed(KIT_SEED, i)).collect(),
            batches: vec![1, 4, 2, 8, 3, 5, 1, 6],
            state_after: 2,
            told_first: 6,
            seed_matters: true,
        }
    }
}

/// A minimal [`OptimizerInit`] for `space`: the target task, the seed, no sources, no source
/// history, no head factory, base folder `"."`. The kit hands one of these to `make`; change what
/// your optimizer needs (sources, history, heads) on a clone inside your `make`.
pub fn optimizer_init(space: &SpaceBox, target: &str, seed: u64) -> OptimizerInit {
    OptimizerInit {
        space: space.clone(),
        target: target.into(),
        sources: RVec::new(),
        history: RVec::new(),
        seed,
        heads: RNone,
        base_dir: ".".into(),
    }
}

/// The outcome the kit reports for an architecture (its canonical text) evaluated as trial
/// `trial_id`: `None` for a failed trial, else a metric in `[0, 1)` derived from the text's
/// FNV-1a hash, so the same architecture always scores the same. Trials whose id is 3 modulo 5
/// fail (a crash), and so does about one architecture in eleven (a hole in a benchmark table).
pub fn synthetic_outcome(text: &str, trial_id: u64) -> Option<f64> {
    let h = fnv1a64(text.as_bytes());
    if trial_id % 5 == 3 || h.is_multiple_of(11) {
        return None;
    }
    Some((derive_seed(h, 0) >> 11) as f64 / (1u64 << 53) as f64)
}

/// The observation the host would tell for `arch` evaluated as trial `trial_id`.
pub(crate) fn observation(
    target: &str,
    trial_id: u64,
    arch: &Arch,
    budget: ROption<f64>,
) -> Observation {
    let metric = synthetic_outcome(&arch.text, trial_id);
    Observation {
        trial_id,
        task: target.into(),
        genome: arch.genome.clone(),
        metric: metric.unwrap_or(f64::NAN),
        test_metric: RNone,
        cost_seconds: 1.0,
        budget,
        curve: RVec::new(),
        status: if metric.is_some() {
            TrialStatus::OK
        } else {
            TrialStatus::FAILED
        },
    }
}

fn proposal_text(p: &Proposal) -> String {
    match p.budget {
        ROption::RSome(b) => format!("{:?} with budget {b}", p.genome.as_slice()),
        ROption::RNone => format!("{:?}", p.genome.as_slice()),
    }
}

fn same_proposal(p: &Proposal, q: &Proposal) -> bool {
    p.genome == q.genome
        && match (p.budget, q.budget) {
            (ROption::RSome(a), ROption::RSome(b)) => same_f64(a, b),
            (ROption::RNone, ROption::RNone) => true,
            _ => false,
        }
}

/// What builds the optimizer under test: [`check_optimizer`]'s `make`, named once for the checks.
trait Make {
    type Optimizer: Optimizer;
    fn make(&mut self, init: &OptimizerInit) -> PluginResult<Self::Optimizer>;
}

impl<O: Optimizer, F: FnMut(&OptimizerInit) -> PluginResult<O>> Make for F {
    type Optimizer = O;
    fn make(&mut self, init: &OptimizerInit) -> PluginResult<O> {
        self(init)
    }
}

/// The proposals of each round of one run.
type Transcript = Vec<Vec<Proposal>>;

/// The checks of [`check_optimizer`] that apply to every optimizer: the ask/tell protocol,
/// determinism, dependence on the seed and observations told before the first ask (`state` and
/// `predict` apply where the optimizer supports them). For
/// [`Report::assert_passed`](crate::Report::assert_passed).
pub const PROTOCOL_CHECKS: [&str; 5] = ["ask", "tell", "determinism", "seed", "tell/unasked"];

/// Checks an optimizer with the default [`OptimizerOptions`]. `make` builds a fresh optimizer from
/// the [`OptimizerInit`] it is given (built by [`optimizer_init`] on `space`, the target and a
/// seed); call it with your constructor and parameters.
///
/// The kit scores proposals itself with [`synthetic_outcome`]; `evaluate` is never called, so any
/// space works. The checks, each named in a [`Failure`]:
///
/// * `build`: `make` succeeds;
/// * `ask`, `ask/count`, `ask/empty`, `ask/valid`: in every round `ask(n)` succeeds, returns at
///   most `n` proposals, something in the first round, and genomes `canonical` accepts;
/// * `tell`: every batch is accepted, told as the host does (in trial-id order, the canonical
///   genome, failed trials with status `FAILED` and a NaN metric);
/// * `determinism`: two optimizers built with the same seed and told the same propose the same
///   (genomes and budgets) in every round, as `xnas resume`'s replay requires;
/// * `state/save`, `state/load`, `state/restore`: unless `save_state` answers `UNSUPPORTED`, a
///   fresh optimizer that loads the blob saved after a round proposes exactly what the original
///   proposes in the later rounds;
/// * `seed`: optimizers built with different seeds do not all propose the same;
/// * `tell/unasked`: observations told before the first ask are accepted, and the optimizer then
///   proposes valid architectures, deterministically;
/// * `predict`, `predict/count`, `predict/deterministic`: unless `predict` answers
///   `UNSUPPORTED`, after a tell it returns one value per genome, the same for the same seed and
///   observations (`xnas ablation` calls it that way).
pub fn check_optimizer<O, F>(make: F, space: &SpaceBox) -> Result<Report, Failure>
where
    O: Optimizer,
    F: FnMut(&OptimizerInit) -> PluginResult<O>,
{
    check_optimizer_with(make, space, &OptimizerOptions::default())
}

/// [`check_optimizer`] with explicit options.
///
/// # Panics
///
/// If `options` has no seed, no batch, or a batch of 0.
pub fn check_optimizer_with<O, F>(
    mut make: F,
    space: &SpaceBox,
    options: &OptimizerOptions,
) -> Result<Report, Failure>
where
    O: Optimizer,
    F: FnMut(&OptimizerInit) -> PluginResult<O>,
{
    assert!(
        !options.seeds.is_empty(),
        "OptimizerOptions::seeds needs at least one seed"
    );
    assert!(
        !options.batches.is_empty() && options.batches.iter().all(|&n| n > 0),
        "OptimizerOptions::batches needs at least one round, each asking at least 1"
    );
    let kit = Kit {
        space,
        options,
        failed: Cell::new(0),
    };
    let mut report = Report::new("optimizer");
    let (first, saved) = kit.check_run(&mut make, &mut report)?;
    kit.check_state(&mut make, &first, saved, &mut report)?;
    kit.check_seeds(&mut make, &first, &mut report)?;
    kit.check_unasked(&mut make, &mut report)?;
    kit.check_predict(&mut make, &mut report)?;
    Ok(report)
}

/// What `save_state` returned after the round `OptimizerOptions::state_after` of the first run,
/// with the next trial id; `None` when the run stopped before that round.
type Saved = Option<(PluginResult<Vec<u8>>, u64)>;

/// The kit's side of the protocol: the space, the options, and a count of failed trials told.
struct Kit<'a> {
    space: &'a SpaceBox,
    options: &'a OptimizerOptions,
    failed: Cell<usize>,
}
