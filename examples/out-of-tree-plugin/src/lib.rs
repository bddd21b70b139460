//! # `local-search`: an xnas optimizer plugin built outside the xnas repository
//!
//! A template for your own optimizer. It implements first-improvement hill climbing with random
//! restarts:
//!
//! 1. The first `initial` proposals are uniform samples of the search space.
//! 2. The best architecture told so far in the current climb is the *incumbent*. Every further
//!    proposal is a neighbour of it (`space.mutate`: one decision changed). As soon as a neighbour
//!    scores better, it becomes the incumbent (first improvement, not best of a neighbourhood).
//! 3. After `patience` evaluated neighbours without an improvement the climb is stuck in a local
//!    optimum: it restarts from a fresh `space.sample`.
//!
//! ## How a plugin plugs in
//!
//! * You implement the author trait [`Optimizer`] (`ask`, `tell`) for a plain Rust struct.
//! * A `register` function adds it to a [`PluginSet`] under a name, with a parameter type and a
//!   constructor.
//! * `xnas_core::export_plugins!(crate::register)` exports that set as the library's abi_stable root
//!   module. The host finds the library, checks its interface version and layout, and calls the
//!   constructor when an experiment names `plugin = "local-search"`.
//!
//! Every call from the host into this library runs under a guard that catches panics (a panic
//! must never unwind across the C ABI, and a bug in one plugin must not kill a long experiment):
//! a panic comes back to the host as an error of kind `PANIC`. Still, return `Err(PluginError)`
//! for failures you expect, with a message that helps the user.

use serde::Deserialize;
use std::collections::{HashMap, HashSet, VecDeque};
use xnas_core::abi_stable::std_types::RNone;
use xnas_core::{
    capability, derive_seed, CheckParams, Checked, Meta, Observation, Optimizer, OptimizerInit, PluginError,
    PluginResult, PluginSet, Proposal, SearchSpace, SpaceBox, TrialStatus,
};

/// The parameters under `[optimizer.params]` in an experiment file.
///
/// The host hands them over as TOML text and `PluginSet` parses them with serde.
/// `deny_unknown_fields` turns a typo (`patients = 5`) into an error naming the key instead of a
/// silently ignored setting; every field has a default so an empty table works.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalSearchParams {
    /// Random samples proposed before climbing starts.
    #[serde(default = "default_initial")]
    pub initial: u32,
    /// Evaluated neighbours without improvement after which the climb restarts.
    #[serde(default = "default_patience")]
    pub patience: u32,
    /// Draws of `mutate` tried to find a neighbour not proposed before (then a repeat is accepted).
    #[serde(default = "default_max_redraws")]
    pub max_redraws: u32,
}

/// Range checks serde cannot express. Registered as `Checked<LocalSearchParams>` (below), they run
/// as the parameters are parsed, so `xnas validate` refuses `patience = 0` before any run. The
/// message starts with the key in backticks: the host reports it at that key's line.
impl CheckParams for LocalSearchParams {
    fn check(&self) -> PluginResult<()> {
        if self.patience == 0 {
            return Err(PluginError::invalid_params(
                "`patience = 0`: expected at least 1 (neighbours without improvement before a restart)",
            ));
        }
        Ok(())
    }
}

fn default_initial() -> u32 {
    10
}
fn default_patience() -> u32 {
    20
}
fn default_max_redraws() -> u32 {
    10
}

/// Why a proposal was made; decides how its result is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// A random sample (initial design or restart point).
    Sample,
    /// A neighbour of the incumbent.
    Neighbour,
}

/// A proposal waiting for its result: which climb it belongs to and why it was made.
#[derive(Debug, Clone, Copy)]
struct Pending {
    climb: u64,
    origin: Origin,
}

pub struct LocalSearch {
    params: LocalSearchParams,
    /// The search space, an ABI handle to another plugin; used through the `SearchSpace` trait.
    space: SpaceBox,
    /// The task being searched; observations of other tasks are ignored.
    target: String,
    /// The optimizer's seed. All randomness is `derive_seed(seed, draws)`.
    seed: u64,
    /// Random draws made so far (the counter for `derive_seed`).
    draws: u64,
    /// Proposals made so far.
    proposed: u64,
    /// The current climb (incremented at each restart).
    climb: u64,
    /// Best (genome, metric) of the current climb.
    incumbent: Option<(Vec<u32>, f64)>,
    /// Evaluated neighbours of the current climb since the last improvement.
    stale: u32,
    /// Proposals not yet told, by canonical genome (a queue: the same genome may be pending twice).
    pending: HashMap<Vec<u32>, VecDeque<Pending>>,
    /// Canonical genomes proposed so far (to avoid re-proposing a neighbour).
    seen: HashSet<Vec<u32>>,
    /// Best (genome, metric) over all climbs, for the log.
    best: Option<(Vec<u32>, f64)>,
}

impl LocalSearch {
    /// The constructor registered below: called by the host with parsed parameters and what the
    /// experiment set up (the space, the target task, the seed, source-task history).
    pub fn new(params: LocalSearchParams, init: &OptimizerInit) -> PluginResult<Self> {
        params.check()?;
        Ok(LocalSearch {
            params,
            space: init.space.clone(),
            target: init.target.to_string(),
            seed: init.seed,
            draws: 0,
            proposed: 0,
            climb: 0,
            incumbent: None,
            stale: 0,
            pending: HashMap::new(),
            seen: HashSet::new(),
            best: None,
        })
    }

    /// The next seed. Seeds come from (optimizer seed, counter) only, never from the clock or
    /// thread timing: see `ask` for why.
    fn next_seed(&mut self) -> u64 {
        let s = derive_seed(self.seed, self.draws);
        self.draws += 1;
        s
    }

    /// The canonical form of a genome (isomorphic genomes share one), or the genome itself if the
    /// space refuses it.
    fn key(&self, genome: &[u32]) -> Vec<u32> {
        self.space
            .canonical(genome)
            .map(|arch| arch.genome.to_vec())
            .unwrap_or_else(|_| genome.to_vec())
    }

    /// A neighbour of `from` not proposed before, if one turns up within `max_redraws` draws.
    fn neighbour(&mut self, from: &[u32]) -> PluginResult<Vec<u32>> {
        let mut candidate = Vec::new();
        for _ in 0..self.params.max_redraws.max(1) {
            let seed = self.next_seed();
            candidate = self.space.mutate(from, seed)?;
            if !self.seen.contains(&self.key(&candidate)) {
                break;
            }
        }
        Ok(candidate)
    }

    /// Decides what to propose next.
    fn propose(&mut self) -> PluginResult<(Vec<u32>, Origin)> {
        match &self.incumbent {
            Some((genome, _)) if self.proposed >= u64::from(self.params.initial) => {
                let from = genome.clone();
                Ok((self.neighbour(&from)?, Origin::Neighbour))
            }
            // Initial design, a restart, or no successful result yet: a fresh random sample.
            _ => {
                let seed = self.next_seed();
                Ok((self.space.sample(seed)?, Origin::Sample))
            }
        }
    }

    /// Takes one result into account.
    fn observe(&mut self, obs: &Observation) {
        let key = self.key(&obs.genome);
        // Which proposal this answers. One we never made (should not happen) counts as a sample
        // of the current climb.
        let pending = match self.pending.get_mut(&key) {
            Some(queue) => {
                let p = queue.pop_front();
                if queue.is_empty() {
                    self.pending.remove(&key);
                }
                p
            }
            None => None,
        }
        .unwrap_or(Pending {
            climb: self.climb,
            origin: Origin::Sample,
        });

        // A failed trial (the evaluation returned an error or panicked) arrives with status
        // FAILED and a NaN metric. Never compare NaN: it would poison the incumbent.
        let ok = obs.status == TrialStatus::OK && obs.metric.is_finite();
        if ok && better(obs.metric, &self.best) {
            self.best = Some((obs.genome.to_vec(), obs.metric));
        }
        // Results of an abandoned climb (still in flight when it restarted) do not steer this one.
        if pending.climb != self.climb {
            return;
        }
        let improves = ok && better(obs.metric, &self.incumbent);
        if improves {
            // First improvement: move at once.
            self.incumbent = Some((obs.genome.to_vec(), obs.metric));
            self.stale = 0;
        } else if pending.origin == Origin::Neighbour {
            // A worse, equal or failed neighbour.
            self.stale += 1;
            if self.stale >= self.params.patience {
                tracing::debug!(
                    climb = self.climb,
                    incumbent = self.incumbent.as_ref().map_or(f64::NAN, |(_, m)| *m),
                    best = self.best.as_ref().map_or(f64::NAN, |(_, m)| *m),
                    "local-search: no improvement in {} neighbours, restarting",
                    self.params.patience
                );
                self.climb += 1;
                self.incumbent = None;
                self.stale = 0;
            }
        }
    }
}

/// Whether `metric` beats `than` (metrics are "higher is better"; nothing beats nothing).
fn better(metric: f64, than: &Option<(Vec<u32>, f64)>) -> bool {
    match than {
        None => true,
        Some((_, m)) => metric > *m,
    }
}

impl Optimizer for LocalSearch {
    /// Proposes `n` architectures. The host asks for `batch_size` at a time (fewer when the budget
    /// is nearly spent), so several proposals are in flight before their results are told.
    ///
    /// Determinism: given the same seed and the same tells, `ask` must return the same proposals.
    /// The host resumes an interrupted run by re-creating the optimizer and replaying the
    /// recorded asks and tells, and it checks that the replayed asks repeat; this optimizer
    /// therefore keeps no state that depends on time, thread scheduling or `HashMap` order.
    fn ask(&mut self, n: usize) -> PluginResult<Vec<Proposal>> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let (genome, origin) = self.propose()?;
            let key = self.key(&genome);
            self.seen.insert(key.clone());
            self.pending.entry(key).or_default().push_back(Pending {
                climb: self.climb,
                origin,
            });
            self.proposed += 1;
            out.push(Proposal {
                genome: genome.into(),
                // `RNone`: evaluate with the space's default budget (epochs, fidelity).
                budget: RNone,
            });
        }
        Ok(out)
    }

    /// Receives results in trial-id order, failed trials included (status FAILED, metric NaN).
    fn tell(&mut self, observations: &[Observation]) -> PluginResult<()> {
        for obs in observations {
            if obs.task.as_str() == self.target {
                self.observe(obs);
            }
        }
        Ok(())
    }

    // `save_state` / `load_state` keep their default ("unsupported"): without the `state`
    // capability the host resumes by replay, which the determinism above makes exact.
}

/// Registers the plugins of this library. One library may register several plugins (spaces,
/// optimizers, ...); each needs a unique name.
pub fn register(set: &mut PluginSet) {
    set.optimizer(
        Meta {
            // The id used in experiment files: `[optimizer] plugin = "local-search"`.
            name: "local-search",
            version: env!("CARGO_PKG_VERSION"),
            // One line for `xnas plugins`.
            description: "hill climbing (first improvement) with random restarts",
            // What the host may rely on: this optimizer speaks ask/tell and nothing more.
            capabilities: &[capability::ASK_TELL],
        },
        |Checked(p): Checked<LocalSearchParams>, init: &OptimizerInit| LocalSearch::new(p, init),
    );
}

// Exports the root module the host loads (`get_library`, checked by abi_stable for interface
// version and layout before anything is called).
xnas_core::export_plugins!(crate::register);

#[cfg(test)]
mod tests {
    //! Plugins are ordinary Rust: test them with an in-process search space.
    use super::*;
    use xnas_core::abi_stable::std_types::{RString, RVec};
    use xnas_core::{
        failed_observation, space_box, Arch, EvalRequest, EvalResult, Position, SpaceDesc,
        SplitMix64,
    };

    /// A toy space: 8 binary decisions, metric = number of ones.
    struct Bits;

    impl SearchSpace for Bits {
        fn describe(&self) -> PluginResult<SpaceDesc> {
            Ok(SpaceDesc {
                positions: (0..8)
                    .map(|i| Position {
                        name: format!("b{i}").into(),
                        choices: 2,
                        group: "bit".into(),
                        labels: RVec::new(),
                    })
                    .collect(),
                tasks: RVec::new(),
                size: 256,
            })
        }
        fn sample(&self, seed: u64) -> PluginResult<Vec<u32>> {
            let mut r = SplitMix64::new(seed);
            Ok((0..8).map(|_| r.below(2)).collect())
        }
        fn mutate(&self, genome: &[u32], seed: u64) -> PluginResult<Vec<u32>> {
            let mut g = genome.to_vec();
            let i = SplitMix64::new(seed).below(8) as usize;
            g[i] ^= 1;
            Ok(g)
        }
        fn canonical(&self, genome: &[u32]) -> PluginResult<Arch> {
            Ok(Arch {
                genome: genome.to_vec().into(),
                text: RString::new(),
            })
        }
        fn parse(&self, _text: &str) -> PluginResult<Vec<u32>> {
            Err(PluginError::unsupported("no text form"))
        }
        fn evaluate(&self, request: &EvalRequest) -> PluginResult<EvalResult> {
            Ok(EvalResult {
                metric: metric(&request.genome),
                test_metric: RNone,
                cost_seconds: 0.0,
                curve: RVec::new(),
                extras: RString::new(),
            })
        }
    }

    fn metric(genome: &[u32]) -> f64 {
        f64::from(genome.iter().sum::<u32>())
    }

    fn optimizer(seed: u64, params: &str) -> LocalSearch {
        let init = OptimizerInit {
            space: space_box(Bits),
            target: "toy".into(),
            sources: RVec::new(),
            history: RVec::new(),
            seed,
            heads: RNone,
            base_dir: ".".into(),
        };
        LocalSearch::new(xnas_core::parse_params(params).unwrap(), &init).unwrap()
    }

    fn observation(trial_id: u64, genome: &[u32]) -> Observation {
        Observation {
            trial_id,
            task: "toy".into(),
            genome: genome.to_vec().into(),
            metric: metric(genome),
            test_metric: RNone,
            cost_seconds: 0.0,
            budget: RNone,
            curve: RVec::new(),
            status: TrialStatus::OK,
        }
    }

    /// Runs `trials` evaluations in batches of `batch`; every 7th trial fails. Returns the asks.
    fn run(seed: u64, trials: u64, batch: usize) -> (Vec<Vec<u32>>, f64) {
        let mut opt = optimizer(seed, "initial = 4\npatience = 6");
        let mut asked = Vec::new();
        let mut best = f64::NEG_INFINITY;
        let mut id = 0;
        while id < trials {
            let proposals = opt.ask(batch).unwrap();
            let mut told = Vec::new();
            for p in proposals {
                let g = p.genome.to_vec();
                asked.push(g.clone());
                if id % 7 == 6 {
                    told.push(failed_observation(id, "toy", g));
                } else {
                    best = best.max(metric(&g));
                    told.push(observation(id, &g));
                }
                id += 1;
            }
            opt.tell(&told).unwrap();
        }
        (asked, best)
    }

    #[test]
    fn climbs_to_the_optimum_despite_failures() {
        for batch in [1, 3, 8] {
            let (_, best) = run(42, 120, batch);
            assert_eq!(best, 8.0, "batch {batch}");
        }
    }

    #[test]
    fn same_seed_same_asks() {
        assert_eq!(run(5, 60, 3).0, run(5, 60, 3).0);
        assert_ne!(run(5, 60, 3).0, run(6, 60, 3).0);
    }

    #[test]
    fn restarts_after_patience_neighbours_without_improvement() {
        let mut opt = optimizer(1, "initial = 2\npatience = 3");
        let mut id = 0;
        let mut flat = |opt: &mut LocalSearch| {
            let g = opt.ask(1).unwrap()[0].genome.to_vec();
            let mut obs = observation(id, &g);
            obs.metric = 1.0; // a flat landscape: nothing ever improves on the first result
            opt.tell(&[obs]).unwrap();
            id += 1;
        };
        for _ in 0..2 + 2 {
            flat(&mut opt);
        }
        assert_eq!((opt.climb, opt.stale), (0, 2));
        flat(&mut opt);
        assert_eq!(opt.climb, 1);
        assert!(opt.incumbent.is_none());
        // The next proposal starts the new climb from a fresh sample.
        assert_eq!(opt.propose().unwrap().1, Origin::Sample);
    }

    #[test]
    fn unknown_parameters_are_refused() {
        let set = PluginSet::from_register(register);
        let err = set
            .check_params(
                xnas_core::PluginKind::OPTIMIZER,
                "local-search",
                "patients = 5",
            )
            .into_result()
            .unwrap_err();
        assert!(err.message().contains("patients"), "{err}");
    }
}
