//! `[optimizer.params]` of `base` (docs/plugins/base.md). The paper (Shaw et al. 2019) gives no
//! values that could be checked, so these are documented defaults: the inner loop is DARTS's
//! first-order iteration (quark0/darts `train_search.py`: SGD lr 0.025, momentum 0.9, weight
//! decay 3e-4 for w; Adam 3e-4, betas (0.5, 0.999), weight decay 1e-3 for Θ), K = 10 inner
//! steps, ε = 1 decayed linearly to 0, two tasks per meta-step, τ annealed exponentially from
//! 1 to 0.1 (never below 0.05: the straight-through regime makes Θ's gradients explode).

use serde::Deserialize;
use xnas_core::range::at_least_one;
use xnas_core::{CheckParams, PluginResult};
use xnas_oneshot::params::{check_recipe, invalid, temperatures};
use xnas_oneshot::{Anneal, ArchConfig, Order, Sampling, Temperature};

/// The lowest temperature allowed (straight-through regime below it).
pub const MIN_TAU: f64 = 0.05;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BaseParams {
    /// Meta-training's tasks (dataset tables of the space); empty: the target and the sources.
    pub meta_tasks: Vec<String>,
    /// m: tasks drawn (without replacement) per meta-step.
    pub tasks_per_step: u32,
    /// K: inner steps per drawn task.
    pub inner_steps: u32,
    /// K′: adaptation steps on a new task (a run naming a meta-training run).
    pub adapt_steps: u32,
    /// Meta-steps (or adaptation steps) per reported epoch and checkpoint.
    pub steps_per_epoch: u32,
    /// ε of the meta-update, decayed linearly to `meta_lr_min` over meta-training.
    pub meta_lr: f64,
    pub meta_lr_min: f64,
    /// Epochs of meta-training: `epochs × steps_per_epoch` meta-steps; the weights' cosine
    /// schedule spans them.
    pub epochs: u32,
    pub batch_size: u32,
    pub learning_rate: f64,
    pub learning_rate_min: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub grad_clip: f64,
    pub train_portion: f64,
    /// Cells and initial channels of the search network; when adapting, the meta-network's.
    pub cells: Option<u32>,
    pub channels: Option<u32>,
    pub arch_learning_rate: f64,
    pub arch_betas: [f64; 2],
    pub arch_weight_decay: f64,
    pub arch_grad_clip: f64,
    pub init_scale: f64,
    /// Hard (one-hot forward, straight-through) instead of soft Gumbel-softmax samples.
    pub gumbel_hard: bool,
    pub tau_max: f64,
    pub tau_min: f64,
    pub tau_anneal: Anneal,
    /// Few-shot mode (docs/plugins/base.md "Few-shot"): meta-training over N-way K-shot
    /// episodes of the meta tasks, then a meta-test on episodes of the held-out target.
    pub episodes: Option<Episodes>,
}

/// `episodes = { way, shot, query, test_episodes }`: N-way K-shot episodes with Q query images
/// per class, and M meta-test episodes (each adapted for `adapt_steps` = K′ steps).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Episodes {
    pub way: u32,
    pub shot: u32,
    #[serde(default = "default_query")]
    pub query: u32,
    #[serde(default = "default_test_episodes")]
    pub test_episodes: u32,
}

/// The query images per class of the paper's Mini-ImageNet protocol (Ravi & Larochelle 2017).
fn default_query() -> u32 {
    15
}

fn default_test_episodes() -> u32 {
    20
}

/// The search network when neither the parameters nor a meta-network say: DARTS's.
pub const DEFAULT_CELLS: u32 = 8;
pub const DEFAULT_CHANNELS: u32 = 16;

impl Default for BaseParams {
    fn default() -> Self {
        BaseParams {
            meta_tasks: Vec::new(),
            tasks_per_step: 2,
            inner_steps: 10,
            adapt_steps: 50,
            steps_per_epoch: 10,
            meta_lr: 1.0,
            meta_lr_min: 0.0,
            epochs: 10,
            batch_size: 64,
            learning_rate: 0.025,
            learning_rate_min: 0.001,
            momentum: 0.9,
            weight_decay: 3e-4,
            grad_clip: 5.0,
            train_portion: 0.5,
            cells: None,
            channels: None,
            arch_learning_rate: 3e-4,
            arch_betas: [0.5, 0.999],
            arch_weight_decay: 1e-3,
            arch_grad_clip: 5.0,
            init_scale: 1e-3,
            gumbel_hard: false,
            tau_max: 1.0,
            tau_min: 0.1,
            tau_anneal: Anneal::Exponential,
            episodes: None,
        }
    }
}

xnas_oneshot::shared_keys!(BaseParams);

impl CheckParams for BaseParams {
    fn check(&self) -> PluginResult<()> {
        self.checked().map_err(invalid)
    }
}

impl BaseParams {
    fn checked(&self) -> Result<(), String> {
        check_recipe(&self.recipe())?;
        for (key, v) in [
            ("tasks_per_step", self.tasks_per_step),
            ("inner_steps", self.inner_steps),
            ("adapt_steps", self.adapt_steps),
            ("steps_per_epoch", self.steps_per_epoch),
        ] {
            at_least_one(key, v as usize)?;
        }
        for (key, v) in [("cells", self.cells), ("channels", self.channels)] {
            if v == Some(0) {
                return Err(format!("`{key}` is 0: it must be at least 1"));
            }
        }
        xnas_oneshot::params::lr_range("meta_lr", self.meta_lr, "meta_lr_min", self.meta_lr_min)?;
        if self.meta_lr > 1.0 {
            return Err(format!(
                "`meta_lr` is {}: ε moves the meta-network towards the tasks' mean, at most all \
                 the way (1)",
                self.meta_lr
            ));
        }
        temperatures(self.tau_max, self.tau_min)?;
        if self.tau_min < MIN_TAU {
            return Err(format!(
                "`tau_min` is {}: below {MIN_TAU} the Gumbel-softmax gradients of Θ explode or \
                 vanish; keep it at {MIN_TAU} or more",
                self.tau_min
            ));
        }
        if let Some(e) = &self.episodes {
            if e.way < 2 {
                return Err(format!(
                    "`episodes.way` is {}: an episode tells at least 2 classes apart",
                    e.way
                ));
            }
            for (key, v) in [("episodes.shot", e.shot), ("episodes.query", e.query)] {
                at_least_one(key, v as usize)?;
            }
            if e.test_episodes < 2 {
                return Err(format!(
                    "`episodes.test_episodes` is {}: the meta-test's interval needs at least 2",
                    e.test_episodes
                ));
            }
        }
        for (i, t) in self.meta_tasks.iter().enumerate() {
            if self.meta_tasks[..i].contains(t) {
                return Err(format!("`meta_tasks` lists `{t}` twice"));
            }
        }
        self.arch_keys().check()
    }

    /// Θ's Adam and clip, first order, a Gumbel-softmax sample per forward.
    pub fn arch(&self) -> ArchConfig {
        self.arch_keys().config(
            Order::First,
            Sampling::Gumbel {
                hard: self.gumbel_hard,
                temperature: Temperature {
                    anneal: self.tau_anneal,
                    tau_max: self.tau_max,
                    tau_min: self.tau_min,
                },
            },
        )
    }

    /// Meta-steps of meta-training.
    pub fn meta_steps(&self) -> u64 {
        u64::from(self.epochs) * u64::from(self.steps_per_epoch)
    }

    /// ε at meta-step `step` (0-based): linear from `meta_lr` to `meta_lr_min` over meta-training.
    pub fn epsilon(&self, step: u64) -> f64 {
        let t = step as f64 / self.meta_steps().max(1) as f64;
        self.meta_lr + (self.meta_lr_min - self.meta_lr) * t.min(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xnas_oneshot::testkit::parse_checked;

    fn parse(text: &str) -> Result<BaseParams, String> {
        parse_checked(text)
    }

    #[test]
    fn defaults_and_schedules() {
        let p = parse("").unwrap();
        assert_eq!(p, BaseParams::default());
        assert_eq!(p.meta_steps(), 100);
        assert_eq!(p.epsilon(0), 1.0);
        assert!((p.epsilon(25) - 0.75).abs() < 1e-12);
        let a = p.arch();
        assert_eq!((a.adam.lr, a.adam.beta1, a.grad_clip), (3e-4, 0.5, 5.0));
        let Sampling::Gumbel { hard, temperature } = a.sampling else {
            panic!("not gumbel");
        };
        assert!(!hard);
        assert!((temperature.at(1.0) - 0.1).abs() < 1e-12);
        let e = parse("episodes = { way = 5, shot = 1 }")
            .unwrap()
            .episodes
            .unwrap();
        assert_eq!((e.way, e.shot, e.query, e.test_episodes), (5, 1, 15, 20));
        let q = parse("meta_lr = 0.5\nmeta_lr_min = 0.1\nepochs = 2\nsteps_per_epoch = 2").unwrap();
        assert!((q.epsilon(2) - 0.3).abs() < 1e-12);
    }

    #[test]
    fn out_of_range_values_name_their_key() {
        for (text, want) in [
            (
                "inner_steps = 0",
                "`inner_steps` is 0: it must be at least 1",
            ),
            (
                "tasks_per_step = 0",
                "`tasks_per_step` is 0: it must be at least 1",
            ),
            (
                "tau_min = 0.01",
                "`tau_min` is 0.01: below 0.05 the Gumbel-softmax gradients of Θ explode or \
                 vanish; keep it at 0.05 or more",
            ),
            (
                "meta_lr = 1.5",
                "`meta_lr` is 1.5: ε moves the meta-network towards the tasks' mean, at most \
                 all the way (1)",
            ),
            (
                "meta_lr_min = 2.0",
                "`meta_lr_min` is 2: it must not exceed `meta_lr` (1)",
            ),
            (
                "meta_tasks = [\"a\", \"a\"]",
                "`meta_tasks` lists `a` twice",
            ),
            ("cells = 0", "`cells` is 0: it must be at least 1"),
            (
                "episodes = { way = 1, shot = 1 }",
                "`episodes.way` is 1: an episode tells at least 2 classes apart",
            ),
            (
                "episodes = { way = 3, shot = 0 }",
                "`episodes.shot` is 0: it must be at least 1",
            ),
            (
                "episodes = { way = 3, shot = 1, test_episodes = 1 }",
                "`episodes.test_episodes` is 1: the meta-test's interval needs at least 2",
            ),
        ] {
            assert_eq!(parse(text).unwrap_err(), want, "{text}");
        }
    }
}
