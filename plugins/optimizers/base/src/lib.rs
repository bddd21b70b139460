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
//! **Adaptation** (a run naming a meta-training run in `tasks.source_runs`): the meta-network's
//! weights (a fresh classifier) and Θ on the target, K′ inner-style steps, then the cell DARTS's
//! rule derives from the adapted Θ (argmax per edge, the two strongest edges per node), which
//! the host trains from scratch as an ordinary trial.

mod meta;
mod params;

pub use params::{BaseParams, DEFAULT_CELLS, DEFAULT_CHANNELS, MIN_TAU};

use meta::{draw_tasks, meta_step, Inner};
use serde::{Deserialize, Serialize};
use xnas_core::{
    capability, component_seed, state, Artifact, BatchStats, Checked, Meta, OneShot, OneShotInit,
    PluginError, PluginResult, PluginSet, Proposal, SearchProgress, SourceArtifacts, SpaceBox,
    Supernet, SupernetLayout, SupernetSpec,
};
use xnas_oneshot::mix::{softmax, to_matrix};
use xnas_oneshot::transfer::{self, artifact};
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
}

impl Mode {
    fn describe(&self) -> String {
        match self {
            Mode::MetaTrain { tasks } => format!("meta-training over {}", tasks.join(", ")),
            Mode::Adapt { source } => format!("an adaptation of source run {source}"),
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
}

impl Base {
    pub fn new(params: BaseParams, init: &OneShotInit) -> PluginResult<Self> {
        let layout = require_supernet(&init.space, NAME)?;
        let target = init.target.to_string();
        let source = meta_source(&init.source_artifacts)?;
        let (mode, meta) = match source {
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
        }
    }

    /// Steps of epoch `epoch` (the last adaptation epoch may be shorter).
    fn steps_in(&self, epoch: u32) -> u32 {
        let per = self.params.steps_per_epoch;
        match self.mode {
            Mode::MetaTrain { .. } => per,
            Mode::Adapt { .. } => per.min(self.params.adapt_steps.saturating_sub(epoch * per)),
        }
    }

    /// One meta-step, or one adaptation step; Θ is then the stage's.
    fn iterate(&mut self) -> PluginResult<()> {
        let Sampling::Gumbel { hard, temperature } = self.arch.sampling else {
            return Err(PluginError::other("`base` samples the architecture"));
        };
        let global =
            u64::from(self.epoch) * u64::from(self.params.steps_per_epoch) + u64::from(self.step);
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
            Mode::MetaTrain { tasks } => (META_NETWORK, tasks.join(",")),
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

/// The first source run that keeps a meta-network; source runs that all lack one are refused.
fn meta_source(sources: &[SourceArtifacts]) -> PluginResult<Option<&SourceArtifacts>> {
    if sources.is_empty() {
        return Ok(None);
    }
    match sources.iter().find(|s| artifact(s, META_NETWORK).is_some()) {
        Some(s) => Ok(Some(s)),
        None => Err(PluginError::data(format!(
            "tasks.source_runs names {} without a meta-network (artifacts/{META_NETWORK}): name \
             a meta-training run of `base` (a run without source_runs) to adapt its \
             meta-network, or remove source_runs to meta-train",
            sources[0].run
        ))),
    }
}

/// Meta-training's tasks: `meta_tasks`, or the target and the sources.
fn meta_tasks(params: &BaseParams, init: &OneShotInit) -> PluginResult<Vec<String>> {
    let tasks: Vec<String> = if params.meta_tasks.is_empty() {
        std::iter::once(init.target.to_string())
            .chain(init.sources.iter().map(|s| s.to_string()))
            .collect()
    } else {
        params.meta_tasks.clone()
    };
    if params.tasks_per_step as usize > tasks.len() {
        return Err(PluginError::invalid_params(format!(
            "`tasks_per_step` is {}, and meta-training has {} tasks ({}): draw at most as many \
             as there are, or list more in `meta_tasks`",
            params.tasks_per_step,
            tasks.len(),
            tasks.join(", ")
        )));
    }
    Ok(tasks)
}

fn adapt_epochs(p: &BaseParams) -> u32 {
    p.adapt_steps.div_ceil(p.steps_per_epoch)
}

/// The meta-network's Θ and weights into a freshly built stage on the target. Every weight but a
/// classifier or a stem (a new task's input shape gets a fresh one) must load.
fn start_from(
    stage: &mut Stage,
    source: &SourceArtifacts,
    arch: &TransferArch,
) -> PluginResult<()> {
    let fresh_stem = |n: &str| n.starts_with("stem");
    let misfits = transfer::start_from(stage, source, arch, "the meta-network's Θ", fresh_stem)?;
    if let Some(first) = misfits.first() {
        return Err(PluginError::data(format!(
            "source run {}: its meta-network does not fit this task's search network ({} of \
             its tensors absent there or of another shape, such as `{first}`); adapt with the \
             [search_space] settings that meta-trained it",
            source.run,
            misfits.len()
        )));
    }
    Ok(())
}
