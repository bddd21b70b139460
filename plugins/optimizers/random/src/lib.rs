//! `random`: random search. Each proposal is a fresh uniform sample of the search space, seeded by
//! (optimizer seed, proposal counter) so the same seed gives the same sequence however many
//! workers evaluate it. Duplicates are allowed, as in the literature's baseline, unless
//! `unique = true`, in which case already proposed canonical architectures are re-drawn.

use serde::Deserialize;
use std::collections::HashSet;
use xnas_core::{
    capability, derive_seed, Meta, Observation, Optimizer, OptimizerInit, PluginError,
    PluginResult, PluginSet, Proposal, SearchSpace, SpaceBox,
};

/// Parameters of `[optimizer.params]` for `random`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomParams {
    /// Never propose an architecture twice (compared by canonical form).
    #[serde(default)]
    pub unique: bool,
    /// How many draws to try for a new unique architecture before giving up.
    #[serde(default = "default_max_redraws")]
    pub max_redraws: u32,
}

fn default_max_redraws() -> u32 {
    1000
}

pub struct RandomSearch {
    space: SpaceBox,
    seed: u64,
    drawn: u64,
    params: RandomParams,
    seen: HashSet<Vec<u32>>,
}

impl RandomSearch {
    pub fn new(params: RandomParams, init: &OptimizerInit) -> PluginResult<Self> {
        Ok(RandomSearch {
            space: init.space.clone(),
            seed: init.seed,
            drawn: 0,
            params,
            seen: HashSet::new(),
        })
    }

    fn draw(&mut self) -> PluginResult<Vec<u32>> {
        let genome = self.space.sample(derive_seed(self.seed, self.drawn))?;
        self.drawn += 1;
        Ok(genome)
    }
}

impl Optimizer for RandomSearch {
    fn ask(&mut self, n: usize) -> PluginResult<Vec<Proposal>> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let mut genome = self.draw()?;
            if self.params.unique {
                let mut tries = 0;
                loop {
                    let canon = self.space.canonical(&genome)?.genome.to_vec();
                    if self.seen.insert(canon) {
                        break;
                    }
                    tries += 1;
                    if tries > self.params.max_redraws {
                        return Err(PluginError::other(format!(
                            "random: no new architecture after {} draws; the space may be exhausted",
                            self.params.max_redraws
                        )));
                    }
                    genome = self.draw()?;
                }
            }
            out.push(Proposal {
                genome: genome.into(),
                budget: None.into(),
            });
        }
        Ok(out)
    }

    fn tell(&mut self, _observations: &[Observation]) -> PluginResult<()> {
        Ok(())
    }
}

/// Registers `random` in a plugin set.
pub fn register(set: &mut PluginSet) {
    set.optimizer(
        Meta {
            name: "random",
            version: env!("CARGO_PKG_VERSION"),
            description: "random search: uniform samples of the space",
            capabilities: &[capability::ASK_TELL],
        },
        RandomSearch::new,
    );
}

xnas_core::builtin_plugins!(register);
