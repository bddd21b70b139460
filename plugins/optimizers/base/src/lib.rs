//! `base`: Bayesian Meta Architecture SEarch (Shaw et al. 2019, "Meta Architecture Search",
//! NeurIPS; ashaw596/meta_architecture_search publishes no search or meta-training code, so
//! every choice the paper leaves open is a documented default, docs/plugins/base.md).
//!
//! **Meta-training** (a run without source runs): one supernet over a distribution of tasks
//! (`meta_tasks`, default the target and the sources; class subsets of several datasets, each
//! task with its own classifier and the space's stem per input shape), the architecture a
//! Gumbel-softmax sample of Θ on every forward pass, the temperature annealed over the
//! meta-steps. Each meta-step trains m drawn tasks for K inner steps each from the meta-network
//! and moves it by Reptile's finite-difference rule ([`meta`]). The meta-network (weights and Θ)
//! is the run's artifact `meta_network.json` (with `supernet.weights`).
//!
//! **Few-shot mode** (`episodes`, [`fewshot`]): meta-training over N-way K-shot episodes of the
//! meta tasks, then a meta-test on episodes of the held-out target, kept as `fewshot.json`.
//!
//! **Adaptation** (a run naming a meta-training run in `tasks.source_runs`): the meta-network's
//! weights (a fresh classifier) and Θ on the target, K′ inner-style steps, then the cell DARTS's
//! rule derives from the adapted Θ (argmax per edge, the two strongest edges per node), which
//! the host trains from scratch as an ordinary trial.

mod fewshot;
mod meta;
mod params;
mod setup;

pub use fewshot::{FewShotResult, TestEpisode, FEWSHOT};
pub use params::{BaseParams, Episodes, DEFAULT_CELLS, DEFAULT_CHANNELS, MIN_TAU};

use fewshot::Draw;
use meta::{draw_tasks, meta_step, Inner};
use serde::{Deserialize, Serialize};
use setup::{adapt_epochs, meta_source, meta_tasks, start_from};
use xnas_core::{
    capability, component_seed, state, Artifact, BatchStats, Checked, Meta, OneShot, OneShotInit,
    PluginError, PluginResult, PluginSet, Proposal, SearchProgress, SpaceBox, Supernet,
    SupernetLayout, SupernetSpec,
};
use xnas_oneshot::mix::{softmax, to_matrix};
use xnas_oneshot::{
    require_supernet, Adam, ArchConfig, ArchRng, EpochEnd, RngState, Rule, Sampling, Stage,
    StageState, StatsSum, TransferArch,
};

const NAME: &str = "base";
/// The format of `base`'s saved state.
const STATE_VERSION: u32 = 1;
/// The meta-network a meta-training run keeps: the search network, Θ, and its weights'
/// artifact (`supernet.weights`).
pub const META_NETWORK: &str = "meta_network.json";
/// The same for an adaptation run's adapted network.
pub const ADAPTED_NETWORK: &str = "adapted_network.json";
/// DARTS's derivation rule: no skip limit.
const RULE: Rule = Rule { max_skips: None };

/// What the run does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Mode {
    /// Meta-training over these tasks (the supernet's tasks, in order).
    MetaTrain { tasks: Vec<String> },
    /// Adaptation of the meta-network of this source run to the target.
    Adapt { source: String },
    /// Few-shot meta-training over episodes of these tasks (the supernet's first tasks; the
    /// target is the last), then the meta-test on the target's episodes.
    FewShot { tasks: Vec<String> },
}

impl Mode {
    fn describe(&self) -> String {
        match self {
            Mode::MetaTrain { tasks } => format!("meta-training over {}", tasks.join(", ")),
            Mode::Adapt { source } => format!("an adaptation of source run {source}"),
            Mode::FewShot { tasks } => {
                format!(
                    "few-shot meta-training over episodes of {}",
                    tasks.join(", ")
                )
            }
        }
    }
}

/// The `base` one-shot optimizer.
pub struct Base {
    params: BaseParams,
    space: SpaceBox,
    layout: SupernetLayout,
    arch: ArchConfig,
    mode: Mode,
    target: String,
    network: (u32, u32),
    /// Candidates per edge: the columns of Θ.
    cols: usize,
    /// The supernet and, after every step, Θ (what reports, derivation and artifacts read).
    stage: Stage,
    theta: Vec<f64>,
    /// Θ's Adam during adaptation (meta-training starts one per inner loop).
    adam: Adam,
    rng: ArchRng,
    epoch: u32,
    step: u32,
    train: StatsSum,
    /// Few-shot mode: how episodes are drawn, this epoch's query figures, the meta-test's
    /// episodes so far and the meta-network's snapshot they start from.
    draw: Option<Draw>,
    query: StatsSum,
    tested: Vec<TestEpisode>,
    meta_snapshot: Option<u32>,
}

#[derive(Serialize, Deserialize)]
struct BaseState {
    mode: Mode,
    theta: Vec<f64>,
    adam: Adam,
    rng: RngState,
    epoch: u32,
    step: u32,
    train: StatsSum,
    stage: StageState,
    #[serde(default)]
    query: StatsSum,
    #[serde(default)]
    tested: Vec<TestEpisode>,
    #[serde(default)]
    meta_snapshot: Option<u32>,
}

impl Base {
    pub fn new(params: BaseParams, init: &OneShotInit) -> PluginResult<Self> {
        let layout = require_supernet(&init.space, NAME)?;
        let target = init.target.to_string();
        let source = meta_source(&init.source_artifacts)?;
        let (mode, meta) = match source {
            Some(s) if params.episodes.is_some() => {
                return Err(PluginError::invalid_params(format!(
                    "`episodes` (few-shot mode) meta-trains and meta-tests in one run, and this \
                     run names source run {}: remove source_runs (or `episodes` to adapt its \
                     meta-network)",
                    s.run
                )))
            }
            Some(s) if !params.meta_tasks.is_empty() => {
                return Err(PluginError::invalid_params(format!(
                    "`meta_tasks` names meta-training's tasks, and this run adapts the \
                     meta-network of source run {}: remove it (or remove source_runs to \
                     meta-train)",
                    s.run
                )))
            }
            Some(s) => {
                let missing = "name a meta-training run of `base`";
                let arch = TransferArch::read_named(s, META_NETWORK, true, &layout, missing)?;
                let mode = Mode::Adapt {
                    source: s.run.to_string(),
                };
                (mode, Some((s, arch)))
            }
            None if params.episodes.is_some() => {
                let sources: Vec<String> = init.sources.iter().map(|s| s.to_string()).collect();
                let tasks = fewshot::meta_tasks(&params.meta_tasks, &target, &sources)?;
                (Mode::FewShot { tasks }, None)
            }
            None => (
                Mode::MetaTrain {
                    tasks: meta_tasks(&params, init)?,
                },
                None,
            ),
        };
        let network = match &meta {
            Some((s, arch)) => {
                for (key, mine, theirs) in [
                    ("cells", params.cells, arch.cells),
                    ("channels", params.channels, arch.channels),
                ] {
                    if mine.is_some_and(|m| m != theirs) {
                        return Err(PluginError::invalid_params(format!(
                            "`{key}` is {}, and the meta-network of source run {} has {theirs}: \
                             leave it unset when adapting",
                            mine.unwrap_or_default(),
                            s.run
                        )));
                    }
                }
                (arch.cells, arch.channels)
            }
            None => (
                params.cells.unwrap_or(DEFAULT_CELLS),
                params.channels.unwrap_or(DEFAULT_CHANNELS),
            ),
        };
        let mut recipe = params.recipe();
        let tasks = match &mode {
            Mode::MetaTrain { tasks } => tasks.clone(),
            Mode::Adapt { .. } => {
                recipe.epochs = adapt_epochs(&params);
                vec![target.clone()]
            }
            // Reptile's inner SGD: one learning rate for every episode, the meta-test's too.
            Mode::FewShot { tasks } => {
                recipe.learning_rate_min = recipe.learning_rate;
                tasks.iter().chain([&target]).cloned().collect()
            }
        };
        let spec = SupernetSpec {
            tasks: tasks.iter().map(|t| t.as_str().into()).collect(),
            cells: network.0,
            channels: network.1,
            candidates: meta
                .as_ref()
                .map(|(_, a)| a.candidates.iter().map(|c| c.clone().into()).collect())
                .unwrap_or_default(),
            recipe,
            seed: component_seed(init.seed, "supernet"),
        };
        let arch = params.arch();
        let mut stage = Stage::build(
            &init.space,
            &layout,
            &spec,
            arch.init_scale,
            component_seed(init.seed, "alpha"),
        )?;
        if let Some((s, a)) = &meta {
            start_from(&mut stage, s, a)?;
        }
        let draw = params.episodes.as_ref().map(|e| Draw::new(e, init.seed));
        if let Some(d) = &draw {
            fewshot::check_tasks(stage.supernet(), tasks.len(), d)?;
        }
        let theta = stage.alpha().to_vec();
        Ok(Base {
            cols: stage.weights().cols,
            adam: Adam::new(theta.len()),
            theta,
            rng: ArchRng::new(component_seed(init.seed, "gumbel")),
            params,
            space: init.space.clone(),
            layout,
            arch,
            mode,
            target,
            network,
            stage,
            epoch: 0,
            step: 0,
            train: StatsSum::default(),
            draw,
            query: StatsSum::default(),
            tested: Vec::new(),
            meta_snapshot: None,
        })
    }

    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    /// Reported epochs of the whole run.
    fn epochs(&self) -> u32 {
        match self.mode {
            Mode::MetaTrain { .. } => self.params.epochs,
            Mode::Adapt { .. } => adapt_epochs(&self.params),
            Mode::FewShot { .. } => {
                self.params.epochs + self.test_episodes().div_ceil(self.params.steps_per_epoch)
            }
        }
    }

    /// Steps of epoch `epoch` (the last adaptation epoch may be shorter).
    fn steps_in(&self, epoch: u32) -> u32 {
        let per = self.params.steps_per_epoch;
        match self.mode {
            Mode::MetaTrain { .. } => per,
            Mode::Adapt { .. } => per.min(self.params.adapt_steps.saturating_sub(epoch * per)),
            Mode::FewShot { .. } => match epoch.checked_sub(self.params.epochs) {
                None => per,
                Some(e) => per.min(self.test_episodes().saturating_sub(e * per)),
            },
        }
    }

    /// M: the meta-test's episodes (few-shot mode).
    fn test_episodes(&self) -> u32 {
        self.params.episodes.as_ref().map_or(0, |e| e.test_episodes)
    }

    /// One meta-step, or one adaptation step; Θ is then the stage's.
    fn iterate(&mut self) -> PluginResult<()> {
        let Sampling::Gumbel { hard, temperature } = self.arch.sampling else {
            return Err(PluginError::other("`base` samples the architecture"));
        };
        let global =
            u64::from(self.epoch) * u64::from(self.params.steps_per_epoch) + u64::from(self.step);
        let test_episodes = self.test_episodes();
        let net = self.stage.supernet();
        let cols = self.cols;
        match &self.mode {
            Mode::MetaTrain { tasks } => {
                let total = self.params.meta_steps().saturating_sub(1).max(1);
                let inner = Inner {
                    arch: &self.arch,
                    hard,
                    tau: temperature.at(global as f64 / total as f64),
                    cols,
                };
                let m = self.params.tasks_per_step as usize;
                let drawn = draw_tasks(tasks.len(), m, &mut self.rng);
                meta_step(
                    &inner,
                    net,
                    &mut self.theta,
                    &mut self.rng,
                    &drawn,
                    self.params.inner_steps,
                    self.params.epsilon(global),
                    &mut self.train,
                )?;
            }
            Mode::FewShot { tasks } if self.epoch < self.params.epochs => {
                let total = self.params.meta_steps().saturating_sub(1).max(1);
                let inner = Inner {
                    arch: &self.arch,
                    hard,
                    tau: temperature.at(global as f64 / total as f64),
                    cols,
                };
                let draw = self.draw.ok_or_else(|| PluginError::other("no episodes"))?;
                fewshot::meta_step(
                    &inner,
                    net,
                    &mut self.theta,
                    &mut self.rng,
                    (tasks.len(), self.params.tasks_per_step as usize),
                    |j| draw.train(global, j),
                    (self.params.inner_steps, self.params.epsilon(global)),
                    (&mut self.train, &mut self.query),
                )?;
            }
            Mode::FewShot { tasks } => {
                // The meta-test samples at the temperature meta-training ended with.
                let inner = Inner {
                    arch: &self.arch,
                    hard,
                    tau: temperature.tau_min,
                    cols,
                };
                let draw = self.draw.ok_or_else(|| PluginError::other("no episodes"))?;
                let meta = match self.meta_snapshot {
                    Some(id) => id,
                    None => *self.meta_snapshot.insert(net.snapshot()?),
                };
                let i = self.tested.len() as u32;
                let r = fewshot::test_episode(
                    &inner,
                    net,
                    (meta, &self.theta),
                    tasks.len() as u32,
                    draw.test(i),
                    self.params.adapt_steps,
                    &mut self.rng,
                    &mut self.train,
                )?;
                self.query.add(&BatchStats {
                    loss: r.loss,
                    accuracy: r.accuracy,
                    examples: draw.way * draw.query,
                });
                self.tested.push(r);
                if i + 1 == test_episodes {
                    // The meta-network again, for the artifacts.
                    net.restore(meta)?;
                    net.drop_snapshot(meta)?;
                    net.set_episode(None)?;
                    self.meta_snapshot = None;
                }
            }
            Mode::Adapt { .. } => {
                // Adaptation samples at the temperature meta-training ended with.
                let inner = Inner {
                    arch: &self.arch,
                    hard,
                    tau: temperature.tau_min,
                    cols,
                };
                let (theta, adam, rng) = (&mut self.theta, &mut self.adam, &mut self.rng);
                inner.steps(net, theta, adam, rng, 1, &mut self.train)?;
            }
        }
        self.stage.set_alpha(self.theta.clone())?;
        self.step += 1;
        Ok(())
    }

    /// The network description kept with the weights: `meta_network.json` or
    /// `adapted_network.json`.
    fn network_artifact(&self) -> PluginResult<Artifact> {
        let (name, task) = match &self.mode {
            Mode::MetaTrain { tasks } | Mode::FewShot { tasks } => (META_NETWORK, tasks.join(",")),
            Mode::Adapt { .. } => (ADAPTED_NETWORK, self.target.clone()),
        };
        let arch = TransferArch::new(&self.layout, &task, self.network, self.stage.candidates())
            .with_alpha(&self.theta);
        let data = serde_json::to_vec_pretty(&arch)
            .map_err(|e| PluginError::other(format!("{name}: {e}")))?;
        Ok(Artifact {
            name: name.into(),
            data: data.into(),
        })
    }
}

impl OneShot for Base {
    fn run(&mut self, max_steps: u32) -> PluginResult<SearchProgress> {
        let epochs = self.epochs();
        let per = self.steps_in(self.epoch);
        let mut p = SearchProgress {
            steps: 0,
            step_in_epoch: self.step,
            steps_per_epoch: per,
            epoch_done: None.into(),
            finished: self.epoch >= epochs,
        };
        if p.finished {
            return Ok(p);
        }
        while p.steps < max_steps && self.step < per {
            self.iterate()?;
            p.steps += 1;
        }
        if self.step == per {
            let last = self.epoch + 1 == epochs;
            let valid = match self.mode {
                Mode::Adapt { .. } if last => {
                    let mix = to_matrix(&softmax(&self.theta, self.cols), self.cols);
                    self.stage.supernet().evaluate(&mix)?
                }
                // The episodes' query figures after their inner loops (meta-test: adaptation).
                Mode::FewShot { .. } => std::mem::take(&mut self.query).mean(),
                _ => BatchStats::default(),
            };
            self.stage.supernet().end_epoch()?;
            let end = EpochEnd {
                epoch: self.epoch,
                train: std::mem::take(&mut self.train).mean(),
                valid,
            };
            let report =
                self.stage
                    .report(&self.space, &self.layout, RULE, &end, (self.epoch, 0))?;
            p.epoch_done = Some(report).into();
            self.epoch += 1;
            self.step = 0;
            p.finished = self.epoch >= epochs;
        }
        p.step_in_epoch = self.step;
        Ok(p)
    }

    fn save_state(&self) -> PluginResult<Vec<u8>> {
        let s = BaseState {
            mode: self.mode.clone(),
            theta: self.theta.clone(),
            adam: self.adam.clone(),
            rng: self.rng.state(),
            epoch: self.epoch,
            step: self.step,
            train: self.train.clone(),
            stage: self.stage.save()?,
            query: self.query.clone(),
            tested: self.tested.clone(),
            meta_snapshot: self.meta_snapshot,
        };
        state::encode(NAME, STATE_VERSION, &s)
    }

    fn load_state(&mut self, blob: &[u8]) -> PluginResult<()> {
        let s: BaseState = state::decode(NAME, STATE_VERSION, blob)?;
        if s.mode != self.mode {
            return Err(PluginError::data(format!(
                "base state: the run started as {}, and these settings make it {}; resume \
                 with the tasks and source runs that started it",
                s.mode.describe(),
                self.mode.describe()
            )));
        }
        if s.theta.len() != self.theta.len() || s.step >= self.steps_in(s.epoch).max(1) {
            return Err(PluginError::data(
                "base state: it is of another search network or schedule than these settings \
                 build",
            ));
        }
        self.stage.load(s.stage)?;
        self.stage.set_alpha(s.theta.clone())?;
        self.theta = s.theta;
        self.adam = s.adam;
        self.rng = ArchRng::from_state(&s.rng);
        self.epoch = s.epoch;
        self.step = s.step;
        self.train = s.train;
        self.query = s.query;
        self.tested = s.tested;
        self.meta_snapshot = s.meta_snapshot;
        Ok(())
    }

    /// DARTS's rule on softmax(Θ): the meta-network's cell, or the adapted one.
    fn derive(&mut self, n: usize) -> PluginResult<Vec<Proposal>> {
        self.stage.derive_cells(&self.space, &self.layout, RULE, n)
    }

    /// `alpha.json`, `supernet.weights` and the network description that names them.
    fn artifacts(&self) -> PluginResult<Vec<Artifact>> {
        let mut out = self.stage.artifacts()?;
        out.push(self.network_artifact()?);
        if let (Mode::FewShot { tasks }, Some(draw)) = (&self.mode, &self.draw) {
            if !self.tested.is_empty() && self.tested.len() as u32 == self.test_episodes() {
                let r = FewShotResult::new(
                    (&self.target, tasks),
                    draw,
                    self.params.adapt_steps,
                    &self.tested,
                );
                let data = serde_json::to_vec_pretty(&r)
                    .map_err(|e| PluginError::other(format!("{FEWSHOT}: {e}")))?;
                out.push(Artifact {
                    name: FEWSHOT.into(),
                    data: data.into(),
                });
            }
        }
        Ok(out)
    }
}

/// Registers `base`.
pub fn register(set: &mut PluginSet) {
    set.one_shot(
        Meta {
            name: NAME,
            version: env!("CARGO_PKG_VERSION"),
            description: "BASE: a supernet meta-learned over a distribution of tasks (Gumbel \
                          architecture sampling, Reptile meta-updates), adapted to a new task in \
                          a few steps",
            capabilities: &[capability::ONE_SHOT, capability::STATE],
        },
        |Checked(p): Checked<BaseParams>, init: &OneShotInit| Base::new(p, init),
    );
}
