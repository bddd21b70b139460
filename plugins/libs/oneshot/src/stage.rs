//! One stage of a DARTS-style search: a supernet, α over its candidates, Adam on α, and the
//! iteration of DARTS (Liu et al. 2019, quark0/darts `train_search.py`): **first** the α step on
//! the next α batch (first order `arch_grad`, second order `unrolled_arch_grad`), **then** the w
//! step on the next training batch with the updated mixing weights. DARTS is one stage;
//! P-DARTS (chenxin061/pdarts) runs three, with weights-only epochs first and skip dropout.

use crate::adam::{clip_grad_norm, Adam, AdamConfig};
use crate::derive::Weights;
use crate::gumbel::{self, GumbelSample, Temperature};
use crate::mix::{from_grad, softmax, softmax_backward, to_matrix};
use crate::report::StatsSum;
use crate::rng::{init_alpha, ArchRng, RngState};
use serde::{Deserialize, Serialize};
use xnas_core::{
    Artifact, BatchStats, ImportReport, Matrix, PluginError, PluginResult, SearchSpace, Supernet,
    SupernetBox, SupernetLayout, SupernetSpec,
};

/// Which α gradient: DARTS's first order (w taken as optimal) or second order (one unrolled step).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    First,
    Second,
}

/// How mixing weights are made from α.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sampling {
    /// `softmax(α)` per edge.
    Softmax,
    /// A fresh Gumbel-softmax sample per forward (hard: one-hot forward, straight-through back),
    /// the temperature annealed over the stage's iterations.
    Gumbel {
        hard: bool,
        temperature: Temperature,
    },
}

/// How α is made and updated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ArchConfig {
    pub adam: AdamConfig,
    /// Global-norm clip of α's gradient; 0 = off.
    pub grad_clip: f64,
    /// α starts as `init_scale · N(0, 1)`.
    pub init_scale: f64,
    pub order: Order,
    pub sampling: Sampling,
}

/// The epochs of a stage and what happens in each.
#[derive(Clone, Debug, PartialEq)]
pub struct StagePlan {
    pub epochs: u32,
    /// Epochs at the start that train w only, α left as it is (P-DARTS's `eps_no_arch`).
    pub weights_only: u32,
    /// Epochs at the end whose α split is evaluated; the others report `valid.examples = 0`.
    pub evaluate_last: u32,
    /// Skip-connect dropout of each epoch; empty: never set.
    pub skip_dropout: Vec<f64>,
}

/// What one call to [`Stage::run`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct StageProgress {
    pub steps: u32,
    pub step_in_epoch: u32,
    pub steps_per_epoch: u32,
    /// Set when the call ended an epoch.
    pub epoch_end: Option<EpochEnd>,
    pub finished: bool,
}

/// An ended epoch's figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochEnd {
    /// Within the stage, 0-based.
    pub epoch: u32,
    pub train: BatchStats,
    pub valid: BatchStats,
}

/// Everything a stage needs to continue exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageState {
    pub alpha: Vec<f64>,
    pub adam: Adam,
    pub rng: RngState,
    pub epoch: u32,
    pub step: u32,
    pub train: StatsSum,
    pub supernet: Vec<u8>,
}

/// One stage: see the module docs.
pub struct Stage {
    supernet: SupernetBox,
    candidates: Vec<Vec<u32>>,
    rows: usize,
    cols: usize,
    /// The spec's tasks in training order with each one's training batches: one entry, or for
    /// a supernet of several tasks (a meta search, warm-started DARTS's λ_meta) the smallest
    /// task first. An epoch runs through each in turn.
    tasks: Vec<(u32, u32)>,
    /// The task the supernet is set to (index into `tasks`); None when unknown (after a load).
    current: Option<usize>,
    steps_per_epoch: u32,
    alpha: Vec<f64>,
    adam: Adam,
    rng: ArchRng,
    epoch: u32,
    step: u32,
    train: StatsSum,
}

enum Sampled {
    Softmax(Vec<f64>),
    Gumbel(GumbelSample),
}

impl Sampled {
    fn mix(&self) -> &[f64] {
        match self {
            Sampled::Softmax(p) => p,
            Sampled::Gumbel(s) => &s.mix,
        }
    }
}

impl Stage {
    /// Builds the space's supernet for `spec` and draws α from `seed`.
    pub fn build<S: SearchSpace + ?Sized>(
        space: &S,
        layout: &SupernetLayout,
        spec: &SupernetSpec,
        init_scale: f64,
        seed: u64,
    ) -> PluginResult<Self> {
        let mut supernet = space.build_supernet(spec)?;
        let info = supernet.info()?;
        let candidates: Vec<Vec<u32>> = info.candidates.iter().map(|c| c.to_vec()).collect();
        let shape = Weights::new(
            candidates.clone(),
            vec![0.0; candidates.len() * candidates.first().map_or(0, Vec::len)],
        )
        .map_err(|e| PluginError::data(format!("the supernet's candidates: {}", e.message())))?;
        if candidates.len() != layout.edges.len() {
            return Err(PluginError::data(format!(
                "the supernet has {} edges, but the space's layout has {}",
                candidates.len(),
                layout.edges.len()
            )));
        }
        if let Some(op) = candidates
            .iter()
            .flatten()
            .find(|&&op| op as usize >= layout.ops.len())
        {
            return Err(PluginError::data(format!(
                "the supernet names op {op}, which the layout lacks"
            )));
        }
        if !spec.candidates.is_empty()
            && spec
                .candidates
                .iter()
                .map(|c| c.to_vec())
                .ne(candidates.iter().cloned())
        {
            return Err(PluginError::data(
                "the supernet's candidates differ from the ones asked for",
            ));
        }
        if info.train_batches == 0 || info.valid_batches == 0 {
            return Err(PluginError::data(format!(
                "the supernet has {} training and {} α batches; both splits need at least one \
                 batch (more training images, or another `train_portion`)",
                info.train_batches, info.valid_batches
            )));
        }
        let tasks = training_order(&mut supernet, spec, info.train_batches)?;
        let mut rng = ArchRng::new(seed);
        let alpha = init_alpha(candidates.len() * shape.cols, init_scale, &mut rng);
        Ok(Stage {
            supernet,
            rows: candidates.len(),
            cols: shape.cols,
            candidates,
            steps_per_epoch: tasks.iter().map(|t| t.1).sum(),
            current: Some(0),
            tasks,
            adam: Adam::new(alpha.len()),
            alpha,
            rng,
            epoch: 0,
            step: 0,
            train: StatsSum::default(),
        })
    }

    pub fn candidates(&self) -> &[Vec<u32>] {
        &self.candidates
    }

    pub fn alpha(&self) -> &[f64] {
        &self.alpha
    }

    /// The epoch in progress (or, after the last, the number of epochs), 0-based in the stage.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    pub fn steps_per_epoch(&self) -> u32 {
        self.steps_per_epoch
    }

    pub fn supernet(&mut self) -> &mut SupernetBox {
        &mut self.supernet
    }

    /// `softmax(α)` with its candidates: what derivation, pruning and reports read.
    pub fn weights(&self) -> Weights {
        Weights {
            candidates: self.candidates.clone(),
            values: softmax(&self.alpha, self.cols),
            cols: self.cols,
        }
    }

    fn softmax_matrix(&self) -> Matrix {
        to_matrix(&softmax(&self.alpha, self.cols), self.cols)
    }

    fn sample(&mut self, cfg: &ArchConfig, progress: f64) -> Sampled {
        match cfg.sampling {
            Sampling::Softmax => Sampled::Softmax(softmax(&self.alpha, self.cols)),
            Sampling::Gumbel { hard, temperature } => {
                let tau = temperature.at(progress);
                Sampled::Gumbel(gumbel::sample(
                    &self.alpha,
                    self.cols,
                    tau,
                    hard,
                    &mut self.rng,
                ))
            }
        }
    }

    /// Runs iterations until `max_steps` are done or the epoch ends; at an epoch's end evaluates
    /// the α split (in the plan's last epochs) and advances the supernet's schedule.
    pub fn run(
        &mut self,
        cfg: &ArchConfig,
        plan: &StagePlan,
        max_steps: u32,
    ) -> PluginResult<StageProgress> {
        let mut progress = StageProgress {
            steps: 0,
            step_in_epoch: self.step,
            steps_per_epoch: self.steps_per_epoch,
            epoch_end: None,
            finished: self.epoch >= plan.epochs,
        };
        if progress.finished {
            return Ok(progress);
        }
        // Every call, not only at an epoch's start: a resumed supernet gets it too.
        if let Some(&p) = plan.skip_dropout.get(self.epoch as usize) {
            self.supernet.set_skip_dropout(p)?;
        }
        while progress.steps < max_steps && self.step < self.steps_per_epoch {
            self.iterate(cfg, plan)?;
            progress.steps += 1;
        }
        if self.step == self.steps_per_epoch {
            let valid = if self.epoch + plan.evaluate_last >= plan.epochs {
                self.evaluate_tasks()?
            } else {
                BatchStats::default()
            };
            self.supernet.end_epoch()?;
            progress.epoch_end = Some(EpochEnd {
                epoch: self.epoch,
                train: std::mem::take(&mut self.train).mean(),
                valid,
            });
            self.epoch += 1;
            self.step = 0;
            progress.finished = self.epoch >= plan.epochs;
        }
        progress.step_in_epoch = self.step;
        Ok(progress)
    }

    fn iterate(&mut self, cfg: &ArchConfig, plan: &StagePlan) -> PluginResult<()> {
        self.enter_task_of_step()?;
        let total = u64::from(plan.epochs) * u64::from(self.steps_per_epoch);
        let done = u64::from(self.epoch) * u64::from(self.steps_per_epoch) + u64::from(self.step);
        let t = done as f64 / (total.saturating_sub(1).max(1)) as f64;
        if self.epoch >= plan.weights_only {
            let sampled = self.sample(cfg, t);
            let mix = to_matrix(sampled.mix(), self.cols);
            let g = match cfg.order {
                Order::First => self.supernet.arch_grad(&mix)?,
                Order::Second => self.supernet.unrolled_arch_grad(&mix)?,
            };
            let grad_mix = from_grad(&g.grad, self.rows, self.cols)?;
            let mut grad = match &sampled {
                Sampled::Softmax(p) => softmax_backward(p, &grad_mix, self.cols),
                Sampled::Gumbel(s) => gumbel::backward(s, &grad_mix, self.cols),
            };
            clip_grad_norm(&mut grad, cfg.grad_clip);
            self.adam.step(&cfg.adam, &mut self.alpha, &grad);
        }
        let sampled = self.sample(cfg, t);
        let stats = self
            .supernet
            .train_step(&to_matrix(sampled.mix(), self.cols))?;
        if !stats.loss.is_finite() {
            return Err(PluginError::evaluation(format!(
                "the supernet's training loss is {} at epoch {} step {}: training diverged; \
                 lower `learning_rate`",
                stats.loss, self.epoch, self.step
            )));
        }
        self.train.add(&stats);
        self.step += 1;
        Ok(())
    }

    /// Sets the supernet to the task whose share of the epoch the current step is in.
    fn enter_task_of_step(&mut self) -> PluginResult<()> {
        if self.tasks.len() < 2 {
            return Ok(());
        }
        let mut end = 0;
        let at = (self.tasks.iter())
            .position(|&(_, batches)| {
                end += batches;
                self.step < end
            })
            .unwrap_or(self.tasks.len() - 1);
        self.set_task(at)
    }

    fn set_task(&mut self, at: usize) -> PluginResult<()> {
        if self.current != Some(at) {
            self.supernet.set_task(self.tasks[at].0)?;
            self.current = Some(at);
        }
        Ok(())
    }

    /// The α split of every task, one mean weighted by examples.
    fn evaluate_tasks(&mut self) -> PluginResult<BatchStats> {
        let mix = self.softmax_matrix();
        if self.tasks.len() < 2 {
            return self.supernet.evaluate(&mix);
        }
        let mut sum = StatsSum::default();
        for at in 0..self.tasks.len() {
            self.set_task(at)?;
            sum.add(&self.supernet.evaluate(&mix)?);
        }
        Ok(sum.mean())
    }

    /// What a run keeps of the stage for later runs (warm starts): `alpha.json` (α and the
    /// candidate ops of each edge, rows in layout edge order) and `supernet.weights` (the
    /// supernet's weights by name, as `import_weights` reads them).
    pub fn artifacts(&self) -> PluginResult<Vec<Artifact>> {
        #[derive(Serialize)]
        struct Alpha<'a> {
            candidates: &'a [Vec<u32>],
            alpha: Vec<&'a [f64]>,
        }
        let alpha = Alpha {
            candidates: &self.candidates,
            alpha: self.alpha.chunks(self.cols.max(1)).collect(),
        };
        let alpha = serde_json::to_vec_pretty(&alpha)
            .map_err(|e| PluginError::other(format!("α as JSON: {e}")))?;
        Ok(vec![
            Artifact {
                name: "alpha.json".into(),
                data: alpha.into(),
            },
            Artifact {
                name: "supernet.weights".into(),
                data: self.supernet.export_weights()?.into(),
            },
        ])
    }

    /// Sets α (a warm start's transferred α, rows in layout edge order); Adam starts afresh.
    pub fn set_alpha(&mut self, alpha: Vec<f64>) -> PluginResult<()> {
        if alpha.len() != self.alpha.len() {
            return Err(PluginError::data(format!(
                "α of {} entries for a supernet of {} edges × {} candidates",
                alpha.len(),
                self.rows,
                self.cols
            )));
        }
        self.alpha = alpha;
        self.adam = Adam::new(self.alpha.len());
        Ok(())
    }

    /// Warm-started DARTS's weight transfer (Grobelnik & Vanschoren, "Warm-starting DARTS using
    /// meta-learning"): the shared weights and buffers become `weights`' (those of the same name
    /// and shape), while the per-task classifiers stay as initialised (re-initialised, even where
    /// the source's has the same shape) and the momentum stays zero. Done with the protocol's
    /// snapshots: import, keep that as a snapshot, go back to the fresh weights, then
    /// `interpolate` at ε = 0 to the imported one, which moves the shared weights only. Returns
    /// what the import loaded and left.
    pub fn transfer_weights(&mut self, weights: &[u8]) -> PluginResult<ImportReport> {
        let net = &mut self.supernet;
        let fresh = net.snapshot()?;
        let report = net.import_weights(weights)?;
        let imported = net.snapshot()?;
        net.restore(fresh)?;
        net.interpolate(imported, &[imported], 0.0)?;
        net.drop_snapshot(imported)?;
        net.drop_snapshot(fresh)?;
        Ok(report)
    }

    pub fn save(&self) -> PluginResult<StageState> {
        Ok(StageState {
            alpha: self.alpha.clone(),
            adam: self.adam.clone(),
            rng: self.rng.state(),
            epoch: self.epoch,
            step: self.step,
            train: self.train.clone(),
            supernet: self.supernet.save_state()?,
        })
    }

    /// Continues from `state`, which must be of a stage with this one's shape.
    pub fn load(&mut self, state: StageState) -> PluginResult<()> {
        if state.alpha.len() != self.alpha.len() || state.adam.len() != self.alpha.len() {
            return Err(PluginError::data(format!(
                "the saved α has {} entries, this supernet's {}",
                state.alpha.len(),
                self.alpha.len()
            )));
        }
        if state.step >= self.steps_per_epoch {
            return Err(PluginError::data(format!(
                "the saved search is at step {} of an epoch of {}: the data differ from the run \
                 that saved it",
                state.step, self.steps_per_epoch
            )));
        }
        self.supernet.load_state(&state.supernet)?;
        self.alpha = state.alpha;
        self.adam = state.adam;
        self.rng = ArchRng::from_state(&state.rng);
        self.epoch = state.epoch;
        self.step = state.step;
        self.train = state.train;
        self.current = None;
        Ok(())
    }
}

/// The spec's tasks in training order with their training batches: the one task, or several
/// smallest first (Grobelnik & Vanschoren train λ_meta's tasks "in order from smallest to
/// largest"; equal sizes keep the spec's order), the supernet left set to the first.
fn training_order(
    supernet: &mut SupernetBox,
    spec: &SupernetSpec,
    first_batches: u32,
) -> PluginResult<Vec<(u32, u32)>> {
    if spec.tasks.len() < 2 {
        return Ok(vec![(0, first_batches)]);
    }
    let mut tasks = Vec::with_capacity(spec.tasks.len());
    for (i, name) in spec.tasks.iter().enumerate() {
        supernet.set_task(i as u32)?;
        let info = supernet.info()?;
        if info.train_batches == 0 || info.valid_batches == 0 {
            return Err(PluginError::data(format!(
                "task `{name}` of the supernet has {} training and {} α batches; both splits \
                 need at least one batch (more training images, or another `train_portion`)",
                info.train_batches, info.valid_batches
            )));
        }
        tasks.push((i as u32, info.train_batches));
    }
    tasks.sort_by_key(|&(_, batches)| batches);
    supernet.set_task(tasks[0].0)?;
    Ok(tasks)
}

#[cfg(test)]
#[path = "stage_tests.rs"]
mod tests;
