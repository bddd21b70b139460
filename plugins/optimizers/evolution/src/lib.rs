//! `evolution`: regularized (aging) evolution, Real et al. 2019.
//!
//! ```text
//! population = deque()
//! first P proposals: random samples
//! then: sample S members WITH replacement, parent = best of them,
//!       child = mutate(parent) (or the parent itself with probability p_identity)
//! every told result is appended; when the population exceeds P the OLDEST is removed
//! ```
//!
//! Batch semantics: the host asks `n` proposals at a time and tells every observation of a batch,
//! in trial-id order, before the next ask. While fewer than `population` random samples have been
//! proposed, proposals are random samples; after that each proposal is a child of a tournament
//! over the population as told so far (random samples again while nothing has been told).
//!
//! A failed trial (status `FAILED` or a NaN metric) joins the population with metric `-inf`: it
//! ages out like any member but never wins a tournament. A tournament that draws only failed
//! members proposes a random sample instead of mutating one of them.
//!
//! Every random draw is seeded with `derive_seed(seed, counter)`, the counter advancing once per
//! proposal, so the proposals are a function of the seed and the observations told: a resumed run
//! that replays its asks and tells gets the same proposals again. Observations on source tasks
//! (the `history` of [`OptimizerInit`]) are not used; everything passed to `tell` is taken to be
//! about the target task.

use serde::Deserialize;
use std::collections::VecDeque;
use xnas_core::abi_stable::std_types::ROption;
use xnas_core::{
    capability, derive_seed, Meta, Observation, Optimizer, OptimizerInit, PluginResult, PluginSet,
    Proposal, SearchSpace, SpaceBox, SplitMix64, TrialStatus,
};

/// Parameters of `[optimizer.params]` for `evolution`.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawParams")]
pub struct EvolutionParams {
    /// Population size P: the number of initial random samples and of members kept.
    pub population: usize,
    /// Tournament size S, drawn with replacement from the population.
    pub sample_size: usize,
    /// Probability that a tournament proposes its winner unchanged (the paper's identity mutation).
    pub p_identity: f64,
}

impl Default for EvolutionParams {
    fn default() -> Self {
        EvolutionParams {
            population: 100,
            sample_size: 10,
            p_identity: 0.0,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParams {
    #[serde(default = "default_population")]
    population: usize,
    #[serde(default = "default_sample_size")]
    sample_size: usize,
    #[serde(default)]
    p_identity: f64,
}

fn default_population() -> usize {
    EvolutionParams::default().population
}

fn default_sample_size() -> usize {
    EvolutionParams::default().sample_size
}

impl TryFrom<RawParams> for EvolutionParams {
    type Error = String;

    fn try_from(raw: RawParams) -> Result<Self, String> {
        if raw.population == 0 || raw.population > u32::MAX as usize {
            return Err(format!(
                "`population` is {}: it must be at least 1 (and below 2^32)",
                raw.population
            ));
        }
        if raw.sample_size == 0 {
            return Err("`sample_size` is 0: a tournament needs at least 1 member".into());
        }
        if !(0.0..=1.0).contains(&raw.p_identity) {
            return Err(format!(
                "`p_identity` is {}: it is a probability, between 0 and 1",
                raw.p_identity
            ));
        }
        Ok(EvolutionParams {
            population: raw.population,
            sample_size: raw.sample_size,
            p_identity: raw.p_identity,
        })
    }
}

/// One member of the population.
#[derive(Debug, Clone, PartialEq)]
struct Member {
    genome: Vec<u32>,
    /// The told metric; `-inf` for a failed trial.
    metric: f64,
}

/// The `evolution` optimizer.
pub struct Evolution {
    space: SpaceBox,
    seed: u64,
    params: EvolutionParams,
    /// Number of proposals made so far; the tag of the next proposal's seed.
    counter: u64,
    /// Random samples proposed towards the initial quota (at most `population`).
    initial: usize,
    /// Oldest first.
    population: VecDeque<Member>,
}

impl Evolution {
    pub fn new(params: EvolutionParams, init: &OptimizerInit) -> PluginResult<Self> {
        Ok(Evolution {
            space: init.space.clone(),
            seed: init.seed,
            population: VecDeque::with_capacity(params.population + 1),
            params,
            counter: 0,
            initial: 0,
        })
    }

    /// Number of members currently in the population.
    pub fn population_len(&self) -> usize {
        self.population.len()
    }

    /// Index of the tournament winner, or `None` when every drawn member failed. Draws
    /// `sample_size` members with replacement; ties go to the first drawn.
    fn tournament(&self, rng: &mut SplitMix64) -> Option<usize> {
        let len = self.population.len() as u32;
        let mut best: Option<(usize, f64)> = None;
        for _ in 0..self.params.sample_size {
            let i = rng.below(len) as usize;
            let m = self.population[i].metric;
            match best {
                Some((_, b)) if m <= b => {}
                _ => best = Some((i, m)),
            }
        }
        best.filter(|&(_, m)| m > f64::NEG_INFINITY).map(|(i, _)| i)
    }

    fn propose(&mut self) -> PluginResult<Vec<u32>> {
        let seed = derive_seed(self.seed, self.counter);
        self.counter += 1;
        if self.initial < self.params.population {
            self.initial += 1;
            return self.space.sample(seed);
        }
        if self.population.is_empty() {
            return self.space.sample(seed);
        }
        let mut rng = SplitMix64::new(seed);
        let Some(parent) = self.tournament(&mut rng) else {
            return self.space.sample(rng.next_u64());
        };
        let parent = &self.population[parent].genome;
        if self.params.p_identity > 0.0 && rng.next_f64() < self.params.p_identity {
            return Ok(parent.clone());
        }
        match self.space.mutate(parent, rng.next_u64()) {
            // An isolated parent (no valid genome one decision away): a fresh sample instead.
            Err(e) if self.space.neighbours(parent).is_ok_and(|n| n.is_empty()) => {
                tracing::debug!("evolution: {e}; sampling instead");
                self.space.sample(rng.next_u64())
            }
            child => child,
        }
    }
}

impl Optimizer for Evolution {
    fn ask(&mut self, n: usize) -> PluginResult<Vec<Proposal>> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(Proposal {
                genome: self.propose()?.into(),
                budget: ROption::RNone,
            });
        }
        Ok(out)
    }

    fn tell(&mut self, observations: &[Observation]) -> PluginResult<()> {
        for obs in observations {
            let metric = if obs.status != TrialStatus::OK || obs.metric.is_nan() {
                f64::NEG_INFINITY
            } else {
                obs.metric
            };
            self.population.push_back(Member {
                genome: obs.genome.to_vec(),
                metric,
            });
            if self.population.len() > self.params.population {
                self.population.pop_front();
            }
        }
        Ok(())
    }
}

/// Registers `evolution` in a plugin set.
pub fn register(set: &mut PluginSet) {
    set.optimizer(
        Meta {
            name: "evolution",
            version: env!("CARGO_PKG_VERSION"),
            description:
                "regularized (aging) evolution: tournament, one-decision mutation, oldest out",
            capabilities: &[capability::ASK_TELL],
        },
        Evolution::new,
    );
}

xnas_core::builtin_plugins!(register);

#[cfg(test)]
mod tests;
