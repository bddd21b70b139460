//! [`check_optimizer`]: drives an optimizer with the host's protocol (`host/src/run/mod.rs`).
//!
//! The run loop asks `n = min(batch_size, evaluations left)` proposals, canonicalises each (a
//! proposal `canonical` refuses becomes a failed trial), evaluates them and tells the whole batch
//! at once, in trial-id order (the order of the proposals), failed trials included, each with the
//! canonical genome. An empty ask ends the search. Observations may also be told before the first
//! ask: a similarity plugin's landmark evaluations (batch 0) and `xnas ablation` do that. On
//! resume the host rebuilds the optimizer with the same seed and replays the asks and tells, or
//! loads the latest `save_state` blob into it.

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
fn observation(target: &str, trial_id: u64, arch: &Arch, budget: ROption<f64>) -> Observation {
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

/// The proposals of each round of one run.
type Transcript = Vec<Vec<Proposal>>;

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

impl Kit<'_> {
    /// The run loop with the first seed, twice: what a run does and what its resume replays.
    fn check_run<O, F>(
        &self,
        make: &mut F,
        report: &mut Report,
    ) -> Result<(Transcript, Saved), Failure>
    where
        O: Optimizer,
        F: FnMut(&OptimizerInit) -> PluginResult<O>,
    {
        let options = self.options;
        let seed = options.seeds[0];
        let rounds = options.batches.len();
        let state_after = options.state_after.min(rounds - 1);

        // The run loop, with the state saved after one round.
        let mut a = self.build(make, seed)?;
        let mut first: Transcript = Vec::new();
        let mut next_id = 0;
        let mut saved = None;
        for r in 0..rounds {
            match self.round(&mut a, seed, r, &mut next_id, "")? {
                Some(p) => first.push(p),
                None => break,
            }
            if r == state_after {
                let state = guarded(
                    "state/save",
                    || format!("save_state() after round {r} (seed {seed})"),
                    || a.save_state(),
                )?;
                saved = Some((state, next_id));
            }
        }
        report.pass(
            "ask",
            format!(
                "{} rounds with n = {:?}: at most n proposals each, all accepted by canonical",
                first.len(),
                &options.batches[..first.len()]
            ),
        );
        report.pass(
            "tell",
            format!(
                "{next_id} observations told batch by batch in trial-id order, with canonical \
                 genomes; {} of them failed trials",
                self.failed.get()
            ),
        );

        // The same seed and the same tells again: what a resume replays.
        let second = self.run(make, seed)?;
        if let Some(d) = self.difference(&first, &second, 0, TWO) {
            return Err(Failure::new(
                "determinism",
                format!(
                    "two optimizers built with seed {seed} and told the same results proposed \
                     different architectures: {d}. An optimizer must be a function of its seed \
                     and of what it was told: `xnas resume` replays the asks and tells and stops \
                     at the first difference. Take every random draw from derive_seed(init.seed, \
                     counter), never from the clock, a global or thread-local generator, or \
                     HashMap order"
                ),
            ));
        }
        report.pass(
            "determinism",
            format!(
                "two optimizers with seed {seed} proposed the same {} architectures",
                first.iter().map(Vec::len).sum::<usize>()
            ),
        );
        Ok((first, saved))
    }

    /// save_state / load_state, unless unsupported.
    fn check_state<O, F>(
        &self,
        make: &mut F,
        first: &[Vec<Proposal>],
        saved: Saved,
        report: &mut Report,
    ) -> Result<(), Failure>
    where
        O: Optimizer,
        F: FnMut(&OptimizerInit) -> PluginResult<O>,
    {
        let seed = self.options.seeds[0];
        let rounds = self.options.batches.len();
        let state_after = self.options.state_after.min(rounds - 1);
        match saved {
            None => report.skip(
                "state",
                format!(
                    "the optimizer proposed nothing before round {state_after}, after which the \
                     state is saved"
                ),
            ),
            Some((Err(e), _)) if e.kind == ErrorKind::UNSUPPORTED => report.skip(
                "state",
                format!(
                    "save_state is unsupported ({}): the host resumes by replay",
                    e.message()
                ),
            ),
            Some((Err(e), _)) => {
                return Err(Failure::new(
                    "state/save",
                    format!(
                        "save_state() after round {state_after} (seed {seed}) failed: {}. An \
                         optimizer without state keeps the default, an UNSUPPORTED error; any \
                         other error stops a run",
                        err_text(&e)
                    ),
                ))
            }
            Some((Ok(blob), id)) => {
                let mut c = self.build(make, seed)?;
                guarded(
                    "state/load",
                    || format!("load_state({} bytes)", blob.len()),
                    || c.load_state(&blob),
                )?
                .map_err(|e| {
                    Failure::new(
                        "state/load",
                        format!(
                            "a fresh optimizer (seed {seed}) refused the {}-byte state that \
                             save_state() returned after round {state_after}: {}. On resume the \
                             host loads the latest saved state into a freshly built optimizer",
                            blob.len(),
                            err_text(&e)
                        ),
                    )
                })?;
                let context = ", restored by load_state";
                let restored = self.run_on(&mut c, seed, state_after + 1..rounds, id, context)?;
                if let Some(d) = self.difference(
                    &first[state_after + 1..],
                    &restored,
                    state_after + 1,
                    ("the original", "the restored one"),
                ) {
                    return Err(Failure::new(
                        "state/restore",
                        format!(
                            "an optimizer restored with load_state from the state saved after \
                             round {state_after} proposes differently from the one that saved it \
                             (seed {seed}, told the same): {d}. The state must hold everything \
                             later asks depend on (counters, generator states, models, pending \
                             proposals)"
                        ),
                    ));
                }
                report.pass(
                    "state",
                    format!(
                        "{} bytes saved after round {state_after}; the restored optimizer \
                         proposed the same in the {} later rounds",
                        blob.len(),
                        restored.len()
                    ),
                );
            }
        }
        Ok(())
    }

    /// Other seeds must give other proposals.
    fn check_seeds<O, F>(
        &self,
        make: &mut F,
        first: &[Vec<Proposal>],
        report: &mut Report,
    ) -> Result<(), Failure>
    where
        O: Optimizer,
        F: FnMut(&OptimizerInit) -> PluginResult<O>,
    {
        let options = self.options;
        let seed = options.seeds[0];
        let mut differs = None;
        for &other in &options.seeds[1..] {
            let t = self.run(make, other)?;
            if differs.is_none() && self.difference(first, &t, 0, TWO).is_some() {
                differs = Some(other);
            }
        }
        match differs {
            _ if options.seeds.len() < 2 => report.skip("seed", "only one seed given"),
            _ if !options.seed_matters => {
                report.skip("seed", "OptimizerOptions::seed_matters is off")
            }
            Some(other) => report.pass(
                "seed",
                format!("seeds {seed} and {other} gave different proposals"),
            ),
            None => {
                return Err(Failure::new(
                    "seed",
                    format!(
                        "optimizers built with the seeds {:?} proposed the same architectures \
                         in every round: the optimizer ignores OptimizerInit::seed, so runs of an \
                         experiment with different seeds repeat one search. (For an optimizer \
                         that is deterministic by design, set OptimizerOptions::seed_matters = \
                         false.)",
                        options.seeds
                    ),
                ))
            }
        }
        Ok(())
    }

    /// Observations told before the first ask (landmarks, ablation).
    fn check_unasked<O, F>(&self, make: &mut F, report: &mut Report) -> Result<(), Failure>
    where
        O: Optimizer,
        F: FnMut(&OptimizerInit) -> PluginResult<O>,
    {
        let options = self.options;
        let seed = options.seeds[0];
        let rounds = options.batches.len();
        if options.told_first == 0 {
            report.skip("tell/unasked", "OptimizerOptions::told_first is 0");
            return Ok(());
        }
        let told = self.unasked(options.told_first)?;
        let mut runs = Vec::new();
        for _ in 0..2 {
            let mut d = self.build(make, seed)?;
            self.tell(&mut d, &told, "tell/unasked", &|| {
                format!("seed {seed}, before the first ask")
            })?;
            let to = rounds.min(ROUNDS_AFTER_UNASKED);
            let context = ", after observations told before the first ask";
            runs.push(self.run_on(&mut d, seed, 0..to, told.len() as u64, context)?);
        }
        if let Some(d) = self.difference(&runs[0], &runs[1], 0, TWO) {
            return Err(Failure::new(
                "determinism",
                format!(
                    "two optimizers built with seed {seed} and told the same {} observations \
                     before their first ask proposed different architectures: {d}",
                    told.len()
                ),
            ));
        }
        report.pass(
            "tell/unasked",
            format!(
                "{} observations told before the first ask were accepted; the asks after them \
                 were valid and deterministic",
                told.len()
            ),
        );
        Ok(())
    }

    /// predict, as `xnas ablation` uses it: tell, then predict.
    fn check_predict<O, F>(&self, make: &mut F, report: &mut Report) -> Result<(), Failure>
    where
        O: Optimizer,
        F: FnMut(&OptimizerInit) -> PluginResult<O>,
    {
        let options = self.options;
        let seed = options.seeds[0];
        let told = self.unasked(options.told_first.max(PREDICTED))?;
        let held: Vec<Vec<u32>> = self
            .sampled(HELD_TAG, PREDICTED)?
            .into_iter()
            .map(|a| a.genome.to_vec())
            .collect();
        let mut predictions = Vec::new();
        for _ in 0..2 {
            let mut f = self.build(make, seed)?;
            self.tell(&mut f, &told, "predict", &|| {
                format!("seed {seed}, before predict")
            })?;
            let p = guarded(
                "predict",
                || format!("predict({held:?})"),
                || f.predict(&held),
            )?;
            match p {
                Err(e) if e.kind == ErrorKind::UNSUPPORTED => {
                    report.skip(
                        "predict",
                        format!("predict is unsupported ({})", e.message()),
                    );
                    return Ok(());
                }
                Err(e) => {
                    return Err(Failure::new(
                        "predict",
                        format!(
                            "predict({held:?}) after {} observations (seed {seed}) failed: {}. An \
                             optimizer without a surrogate keeps the default, an UNSUPPORTED error",
                            told.len(),
                            err_text(&e)
                        ),
                    ))
                }
                Ok(v) if v.len() != held.len() => {
                    return Err(Failure::new(
                        "predict/count",
                        format!(
                            "predict was given {} genomes ({held:?}) and returned {} values \
                             ({v:?}): one value per genome, in order",
                            held.len(),
                            v.len()
                        ),
                    ))
                }
                Ok(v) => predictions.push(v),
            }
        }
        let (p, q) = (&predictions[0], &predictions[1]);
        if p.iter().zip(q).any(|(x, y)| !same_f64(*x, *y)) {
            return Err(Failure::new(
                "predict/deterministic",
                format!(
                    "two optimizers built with seed {seed} and told the same {} observations \
                     predicted {p:?} and {q:?} for {held:?}: predictions must be a function of \
                     the seed and the observations, so that an ablation reproduces",
                    told.len()
                ),
            ));
        }
        report.pass(
            "predict",
            format!("one value per genome, the same for the same seed: {p:?}"),
        );
        Ok(())
    }

    fn build<O, F>(&self, make: &mut F, seed: u64) -> Result<O, Failure>
    where
        O: Optimizer,
        F: FnMut(&OptimizerInit) -> PluginResult<O>,
    {
        let init = optimizer_init(self.space, &self.options.target, seed);
        guarded(
            "build",
            || format!("make (building the optimizer with seed {seed})"),
            || make(&init),
        )?
        .map_err(|e| {
            Failure::new(
                "build",
                format!(
                    "building the optimizer with seed {seed} failed: {}",
                    err_text(&e)
                ),
            )
        })
    }

    /// `count` canonical architectures sampled from the space with the kit's seeds.
    fn sampled(&self, tag: u64, count: usize) -> Result<Vec<Arch>, Failure> {
        let base = derive_seed(KIT_SEED, tag);
        (0..count)
            .map(|j| {
                let seed = derive_seed(base, j as u64);
                self.space
                    .sample(seed)
                    .and_then(|g| self.space.canonical(&g))
                    .map_err(|e| {
                        Failure::new(
                            "space",
                            format!(
                                "the space given to check_optimizer failed to sample and \
                                 canonicalise an architecture (seed {seed}): {}; check the space \
                                 with check_space",
                                err_text(&e)
                            ),
                        )
                    })
            })
            .collect()
    }

    /// Observations of `count` sampled architectures, trial ids `0..count`, some failed.
    fn unasked(&self, count: usize) -> Result<Vec<Observation>, Failure> {
        Ok(self
            .sampled(UNASKED_TAG, count)?
            .iter()
            .enumerate()
            .map(|(j, a)| observation(&self.options.target, j as u64, a, RNone))
            .collect())
    }

    fn tell<O: Optimizer>(
        &self,
        opt: &mut O,
        observations: &[Observation],
        check: &'static str,
        at: &dyn Fn() -> String,
    ) -> Result<(), Failure> {
        guarded(
            check,
            || format!("tell ({})", at()),
            || opt.tell(observations),
        )?
        .map_err(|e| {
            let failed: Vec<u64> = observations
                .iter()
                .filter(|o| o.status != TrialStatus::OK)
                .map(|o| o.trial_id)
                .collect();
            let ids = match (observations.first(), observations.last()) {
                (Some(a), Some(b)) => format!("trial ids {}..={}", a.trial_id, b.trial_id),
                _ => "no observations".into(),
            };
            let unasked = if check == "tell" {
                ""
            } else {
                " The host tells observations before the first ask when a similarity plugin's \
                 landmarks were evaluated on the target, and in `xnas ablation`."
            };
            Failure::new(
                check,
                format!(
                    "{}: tell of {} observations ({ids}; failed, with status FAILED and a NaN \
                     metric: {failed:?}) failed: {}. The host tells a batch at once, in trial-id \
                     order, failed trials included, each with the genome canonical returned, \
                     which may differ from the one proposed.{unasked}",
                    at(),
                    observations.len(),
                    err_text(&e)
                ),
            )
        })
    }

    /// One batch as the run loop does it. `None`: the optimizer proposed nothing (the host stops).
    fn round<O: Optimizer>(
        &self,
        opt: &mut O,
        seed: u64,
        r: usize,
        next_id: &mut u64,
        context: &str,
    ) -> Result<Option<Vec<Proposal>>, Failure> {
        let n = self.options.batches[r];
        let at = || format!("seed {seed}{context}, round {r}");
        let proposals =
            guarded("ask", || format!("ask({n}) ({})", at()), || opt.ask(n))?.map_err(|e| {
                Failure::new(
                    "ask",
                    format!("ask({n}) failed ({}): {}", at(), err_text(&e)),
                )
            })?;
        if proposals.len() > n {
            return Err(Failure::new(
                "ask/count",
                format!(
                    "{}: ask({n}) returned {} proposals; at most n are allowed (the host stops \
                     the run otherwise)",
                    at(),
                    proposals.len()
                ),
            ));
        }
        if proposals.is_empty() {
            if r == 0 {
                return Err(Failure::new(
                    "ask/empty",
                    format!(
                        "{}: ask({n}) returned no proposals: the host ends a search at an empty \
                         ask, so this one would end before it began",
                        at()
                    ),
                ));
            }
            return Ok(None);
        }
        let mut observations = Vec::with_capacity(proposals.len());
        for (i, p) in proposals.iter().enumerate() {
            let arch = self.space.canonical(&p.genome).map_err(|e| {
                Failure::new(
                    "ask/valid",
                    format!(
                        "{}: ask({n}) proposal {i}, {}, is not an architecture of the space: \
                         canonical says {}. The host records it as a failed trial without \
                         evaluating it",
                        at(),
                        proposal_text(p),
                        err_text(&e)
                    ),
                )
            })?;
            let o = observation(&self.options.target, *next_id, &arch, p.budget);
            if o.status != TrialStatus::OK {
                self.failed.set(self.failed.get() + 1);
            }
            observations.push(o);
            *next_id += 1;
        }
        self.tell(opt, &observations, "tell", &at)?;
        Ok(Some(proposals))
    }

    /// A fresh optimizer with `seed` through every round.
    fn run<O, F>(&self, make: &mut F, seed: u64) -> Result<Transcript, Failure>
    where
        O: Optimizer,
        F: FnMut(&OptimizerInit) -> PluginResult<O>,
    {
        let mut opt = self.build(make, seed)?;
        let rounds = 0..self.options.batches.len();
        self.run_on(&mut opt, seed, rounds, 0, "")
    }

    /// `rounds` on `opt`, trial ids from `next_id`, until the last or an empty ask.
    fn run_on<O: Optimizer>(
        &self,
        opt: &mut O,
        seed: u64,
        rounds: std::ops::Range<usize>,
        mut next_id: u64,
        context: &str,
    ) -> Result<Transcript, Failure> {
        let mut transcript = Vec::new();
        for r in rounds {
            match self.round(opt, seed, r, &mut next_id, context)? {
                Some(p) => transcript.push(p),
                None => break,
            }
        }
        Ok(transcript)
    }

    /// The first difference between two transcripts whose first round is `first_round`, told
    /// as what `who.0` and `who.1` proposed.
    fn difference(
        &self,
        a: &[Vec<Proposal>],
        b: &[Vec<Proposal>],
        first_round: usize,
        who: (&str, &str),
    ) -> Option<String> {
        for (k, (x, y)) in a.iter().zip(b).enumerate() {
            let r = first_round + k;
            let n = self.options.batches[r];
            if x.len() != y.len() {
                return Some(format!(
                    "in round {r}, ask({n}) gave {} proposals from {} and {} from {}",
                    x.len(),
                    who.0,
                    y.len(),
                    who.1
                ));
            }
            if let Some(i) = (0..x.len()).find(|&i| !same_proposal(&x[i], &y[i])) {
                return Some(format!(
                    "in round {r}, proposal {i} of ask({n}) was {} from {} and {} from {}",
                    proposal_text(&x[i]),
                    who.0,
                    proposal_text(&y[i]),
                    who.1
                ));
            }
        }
        if a.len() != b.len() {
            let r = first_round + a.len().min(b.len());
            let (empty, other) = if a.len() < b.len() {
                who
            } else {
                (who.1, who.0)
            };
            return Some(format!(
                "in round {r}, ask({}) gave no proposals from {empty} and some from {other}",
                self.options.batches[r]
            ));
        }
        None
    }
}
