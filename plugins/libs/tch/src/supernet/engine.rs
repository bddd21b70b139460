//! [`SupernetEngine`]: training the weights, the α gradients (first and second order) and
//! evaluation. Persistence (state, snapshots, weights by name) is in `persist.rs`.

use super::data::{Batch, Cycle, TaskSplit};
use super::flat::FlatStore;
use super::{Pass, SearchNetwork, TaskShape};
use crate::data::TaskData;
use crate::error::TchContext;
use crate::seed::with_torch_seed;
use crate::threads::ThreadLimit;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use tch::{nn, Device, Kind, Reduction, Tensor};
use xnas_core::{
    component_seed, derive_seed, ArchGrad, BatchStats, Matrix, PluginError, PluginResult,
    SupernetInfo, WeightRecipe,
};

/// The w iterator's index in [`SupernetEngine`]'s pair of iterators; the α iterator is 1.
pub(crate) const W: usize = 0;
pub(crate) const ALPHA: usize = 1;

/// What the space decides about its supernet beyond the spec's recipe.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineConfig {
    /// The owner named in saved states (`"nasnet.supernet"`).
    pub owner: String,
    /// Candidate op indices per edge (layout order), every edge the same count: the mixing
    /// matrix's shape and what `info` reports.
    pub candidates: Vec<Vec<u32>>,
    pub recipe: WeightRecipe,
    pub seed: u64,
    pub device: Device,
    /// libtorch intra-op threads while the engine computes; 0 leaves them.
    pub threads: usize,
    /// `Kind::Float`, or `Kind::Double` (gradient checks).
    pub kind: Kind,
    /// Batch size of `evaluate`.
    pub eval_batch_size: usize,
}

/// A copy of the weights, buffers and momentum.
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub params: Tensor,
    pub buffers: Tensor,
    pub momentum: Tensor,
}

/// A space's supernet: its [`SearchNetwork`] with everything the supernet protocol asks of it
/// (see the module documentation). Implements `xnas_core::Supernet`; wrap it with
/// `xnas_core::supernet_box` to return it from `SearchSpace::build_supernet`.
pub struct SupernetEngine<N> {
    pub(crate) cfg: EngineConfig,
    /// Owns the variables (the network's modules hold views of them).
    pub(crate) _vs: nn::VarStore,
    pub(crate) net: N,
    pub(crate) store: FlatStore,
    pub(crate) momentum: Tensor,
    pub(crate) tasks: Vec<TaskSplit>,
    /// Per task: the w and the α iterator.
    pub(crate) iters: Vec<[Cycle; 2]>,
    pub(crate) task: usize,
    pub(crate) epoch: u32,
    pub(crate) skip_dropout: f64,
    pub(crate) snapshots: BTreeMap<u32, Snapshot>,
    pub(crate) next_snapshot: u32,
    /// 1 over the variables shared by all tasks (weights, buffers): what `interpolate` moves.
    pub(crate) shared: [Tensor; 2],
    /// R of the finite difference, ε = R/‖v‖ (DARTS: 0.01).
    pub(crate) difference_scale: f64,
    /// The few-shot episode under way (`episode.rs`), if any.
    pub(crate) episode: Option<super::episode::Active>,
}

/// Runs `f`, turning a panic (a libtorch error in a non-`f_` tch call) into an error.
pub(crate) fn catch<T>(what: &str, f: impl FnOnce() -> T) -> PluginResult<T> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let msg = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic without a message".into());
        PluginError::other(format!("{what}: libtorch error: {msg}"))
    })
}

fn check_recipe(r: &WeightRecipe) -> PluginResult<()> {
    use xnas_core::range::{non_negative, positive};
    let bad = |m: String| PluginError::invalid_params(format!("supernet recipe: {m}"));
    if r.batch_size < 2 {
        return Err(bad(format!(
            "`batch_size = {}`: expected at least 2 (batch norm)",
            r.batch_size
        )));
    }
    positive("learning_rate", r.learning_rate).map_err(bad)?;
    for (name, v) in [
        ("learning_rate_min", r.learning_rate_min),
        ("momentum", r.momentum),
        ("weight_decay", r.weight_decay),
        ("grad_clip", r.grad_clip),
    ] {
        non_negative(name, v).map_err(bad)?;
    }
    if r.momentum >= 1.0 {
        return Err(bad(format!(
            "`momentum = {}`: expected 0 ≤ m < 1",
            r.momentum
        )));
    }
    if r.epochs == 0 {
        return Err(bad("`epochs = 0`: expected at least 1".into()));
    }
    if !(r.train_portion > 0.0 && r.train_portion < 1.0) {
        return Err(bad(format!(
            "`train_portion = {}`: expected 0 < p < 1",
            r.train_portion
        )));
    }
    Ok(())
}

/// Checks a candidates table: every edge the same, non-zero count.
pub(crate) fn check_candidates(candidates: &[Vec<u32>]) -> PluginResult<()> {
    let Some(first) = candidates.first() else {
        return Err(PluginError::invalid_params(
            "supernet candidates: no edges".to_string(),
        ));
    };
    if first.is_empty() {
        return Err(PluginError::invalid_params(
            "supernet candidates: edge 0 has no candidate op".to_string(),
        ));
    }
    if let Some((e, c)) = candidates
        .iter()
        .enumerate()
        .find(|(_, c)| c.len() != first.len())
    {
        return Err(PluginError::invalid_params(format!(
            "supernet candidates: every edge must keep the same number of ops; edge 0 keeps {}, \
             edge {e} keeps {}",
            first.len(),
            c.len()
        )));
    }
    Ok(())
}

impl<N: SearchNetwork> SupernetEngine<N> {
    /// Builds the network with `build` (on the engine's var store, weights drawn from torch's
    /// generator seeded from `cfg.seed`; `build` must not take `with_torch_seed`'s lock itself),
    /// flattens its variables and splits every task's training data.
    pub fn new<F>(cfg: EngineConfig, data: &[&TaskData], build: F) -> PluginResult<Self>
    where
        F: FnOnce(&nn::Path, &[TaskShape]) -> PluginResult<N>,
    {
        check_recipe(&cfg.recipe)?;
        check_candidates(&cfg.candidates)?;
        if data.is_empty() {
            return Err(PluginError::invalid_params(
                "a supernet needs at least one task".to_string(),
            ));
        }
        if !matches!(cfg.kind, Kind::Float | Kind::Double) {
            return Err(PluginError::invalid_params(format!(
                "supernet: float kind {:?}; expected Float or Double",
                cfg.kind
            )));
        }
        if cfg.eval_batch_size == 0 {
            return Err(PluginError::invalid_params(
                "supernet: `eval_batch_size = 0`: expected at least 1".to_string(),
            ));
        }
        crate::device::init();
        let _threads = ThreadLimit::new(cfg.threads);
        let shapes: Vec<TaskShape> = data
            .iter()
            .map(|d| TaskShape {
                name: d.name.clone(),
                shape: d.shape,
                classes: d.classes,
            })
            .collect();
        let mut vs = nn::VarStore::new(cfg.device);
        let net = with_torch_seed(component_seed(cfg.seed, "supernet.init"), || {
            catch("building the supernet", || build(&vs.root(), &shapes))
        })??;
        if cfg.kind == Kind::Double {
            vs.double();
        }
        let store = FlatStore::new(&vs, cfg.kind, cfg.device)?;
        let momentum = store
            .params
            .flat
            .f_zeros_like()
            .context("supernet momentum")?;
        let split_seed = component_seed(cfg.seed, "supernet.split");
        let mut tasks = Vec::with_capacity(data.len());
        let mut iters = Vec::with_capacity(data.len());
        for (t, d) in data.iter().enumerate() {
            let split = TaskSplit::new(
                d,
                cfg.recipe.train_portion,
                derive_seed(split_seed, t as u64),
                cfg.device,
                cfg.kind,
            )?;
            let batch = cfg.recipe.batch_size as usize;
            let stream = |s: &str| derive_seed(component_seed(cfg.seed, s), t as u64);
            iters.push([
                Cycle::new(split.w.len(), batch, stream("supernet.w"), cfg.device)?,
                Cycle::new(
                    split.alpha.len(),
                    batch,
                    stream("supernet.alpha"),
                    cfg.device,
                )?,
            ]);
            tasks.push(split);
        }
        let shared_of = |g: &super::flat::FlatGroup| {
            let keep: Vec<bool> = g.names.iter().map(|n| !net.is_task_specific(n)).collect();
            g.mask(&keep)
        };
        let shared = [shared_of(&store.params)?, shared_of(&store.buffers)?];
        Ok(SupernetEngine {
            cfg,
            _vs: vs,
            net,
            store,
            momentum,
            tasks,
            iters,
            task: 0,
            epoch: 0,
            skip_dropout: 0.0,
            snapshots: BTreeMap::new(),
            next_snapshot: 0,
            shared,
            difference_scale: 0.01,
            episode: None,
        })
    }

    pub fn network(&self) -> &N {
        &self.net
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// The trainable variables (views into the flat weights), in name order.
    pub fn parameters(&self) -> &[Tensor] {
        &self.store.params.vars
    }

    /// Sets R of the unrolled step's finite difference, ε = R/‖v‖: DARTS's 0.01 unless changed.
    /// A ReLU network's gradient jumps where a unit changes sign, so a difference over a step
    /// that flips units is not the Hessian's product; gradient checks use a small R.
    pub fn set_difference_scale(&mut self, r: f64) {
        self.difference_scale = r;
    }

    /// The SGD momentum buffer, flat, in the order of [`SupernetEngine::parameters`].
    pub fn momentum(&self) -> &Tensor {
        &self.momentum
    }

    /// The learning rate of this epoch: cosine from `learning_rate` to `learning_rate_min` over
    /// `recipe.epochs`, at the minimum after.
    pub fn learning_rate(&self) -> f64 {
        let r = &self.cfg.recipe;
        let t = (self.epoch.min(r.epochs)) as f64 / r.epochs as f64;
        r.learning_rate_min
            + (r.learning_rate - r.learning_rate_min)
                * 0.5
                * (1.0 + (std::f64::consts::PI * t).cos())
    }

    pub(crate) fn threads(&self) -> ThreadLimit {
        ThreadLimit::new(self.cfg.threads)
    }

    /// The mixing matrix as a tensor of the engine's kind on its device, checked for shape
    /// and finite values; a leaf requiring grad when `grad`.
    pub fn mix_tensor(&self, mix: &Matrix, grad: bool) -> PluginResult<Tensor> {
        let (rows, cols) = (self.cfg.candidates.len(), self.cfg.candidates[0].len());
        if (mix.rows as usize, mix.cols as usize) != (rows, cols) || mix.data.len() != rows * cols {
            return Err(PluginError::invalid_params(format!(
                "mixing matrix: expected {rows} rows (edges) × {cols} columns (candidate ops per \
                 edge), got {}×{} with {} values",
                mix.rows,
                mix.cols,
                mix.data.len()
            )));
        }
        if let Some(i) = mix.data.iter().position(|v| !v.is_finite()) {
            return Err(PluginError::invalid_params(format!(
                "mixing matrix: row {}, column {} is {}",
                i / cols,
                i % cols,
                mix.data[i]
            )));
        }
        let t = crate::matrix::to_tensor(mix, self.cfg.device)?
            .f_to_kind(self.cfg.kind)
            .context("mixing matrix")?;
        Ok(if grad { t.set_requires_grad(true) } else { t })
    }

    /// The next training batch of the current task (an episode's support set), without moving
    /// the iterator.
    pub fn peek_train_batch(&self) -> PluginResult<Batch> {
        match &self.episode {
            Some(e) => Ok(e.support_batch()),
            None => self.iters[self.task][W].peek(&self.tasks[self.task].w),
        }
    }

    /// The next α batch of the current task (an episode's support set), without moving.
    pub(crate) fn peek_alpha_batch(&self) -> PluginResult<Batch> {
        match &self.episode {
            Some(e) => Ok(e.support_batch()),
            None => self.iters[self.task][ALPHA].peek(&self.tasks[self.task].alpha),
        }
    }

    /// Moves split `split`'s iterator (`W` or `ALPHA`) on; an episode's batch stays.
    pub(crate) fn advance(&mut self, split: usize) -> PluginResult<()> {
        match self.episode {
            Some(_) => Ok(()),
            None => self.iters[self.task][split].advance(),
        }
    }

    /// The training-mode loss of `batch` (graph kept) and the number of correct predictions.
    pub fn batch_loss(&self, batch: &Batch, mix: &Tensor) -> PluginResult<(Tensor, i64)> {
        let pass = Pass::training(self.skip_dropout, batch.seed);
        self.loss(batch, mix, &pass)
    }

    fn loss(&self, batch: &Batch, mix: &Tensor, pass: &Pass) -> PluginResult<(Tensor, i64)> {
        let logits = catch("supernet forward", || {
            self.net.forward(&batch.images, mix, self.task, pass)
        })?;
        let what = "supernet loss";
        // An episode's classes are the classifier's first `way` outputs.
        let logits = match &self.episode {
            Some(e) => logits.f_narrow(1, 0, e.spec.way as i64).context(what)?,
            None => logits,
        };
        let loss = logits
            .f_cross_entropy_loss::<Tensor>(&batch.labels, None, Reduction::Mean, -100, 0.0)
            .context(what)?;
        let correct = tch::no_grad(|| {
            logits
                .f_argmax(-1, false)
                .and_then(|p| p.f_eq_tensor(&batch.labels))
                .and_then(|e| e.f_sum(Kind::Int64))
                .and_then(|s| s.f_int64_value(&[]))
        })
        .context(what)?;
        Ok((loss, correct))
    }

    pub(crate) fn stats(
        &self,
        loss: &Tensor,
        correct: i64,
        n: usize,
        what: &str,
    ) -> PluginResult<BatchStats> {
        let value = loss.f_double_value(&[]).context(what)?;
        self.stats_of(value, correct, n, what)
    }

    fn stats_of(&self, value: f64, correct: i64, n: usize, what: &str) -> PluginResult<BatchStats> {
        if !value.is_finite() {
            return Err(PluginError::evaluation(format!(
                "{what} on task `{}`: the loss became NaN or infinite in epoch {} (from 0); try a \
                 lower learning rate",
                self.tasks[self.task].name, self.epoch
            )));
        }
        Ok(BatchStats {
            loss: value,
            accuracy: correct as f64 / n.max(1) as f64,
            examples: n as u32,
        })
    }

    /// ∇w of a loss, flat, and which weights it reached.
    pub(crate) fn weight_grad(
        &self,
        loss: &Tensor,
        what: &str,
    ) -> PluginResult<(Tensor, Vec<bool>)> {
        let grads =
            Tensor::f_run_backward(&[loss], &self.store.params.vars, false, false).context(what)?;
        self.store.params.flatten(&grads)
    }

    /// ∂loss/∂mix.
    pub(crate) fn mix_grad(&self, loss: &Tensor, mix: &Tensor, what: &str) -> PluginResult<Tensor> {
        let mut g = Tensor::f_run_backward(&[loss], &[mix], false, false).context(what)?;
        let g = g.remove(0);
        if g.defined() {
            Ok(g)
        } else {
            mix.f_zeros_like().context(what)
        }
    }

    /// One SGD step (clip, weight decay, momentum) with gradient `g` over the weights
    /// `reached` (the others are left alone).
    fn sgd_step(&mut self, mut g: Tensor, reached: &[bool]) -> PluginResult<()> {
        let r = self.cfg.recipe.clone();
        let lr = self.learning_rate();
        let what = "supernet weight step";
        let all = reached.iter().all(|&r| r);
        let mask = if all {
            None
        } else {
            Some(self.store.params.mask(reached)?)
        };
        tch::no_grad(|| -> Result<(), tch::TchError> {
            if r.grad_clip > 0.0 {
                // PyTorch's clip_grad_norm_: scale by min(1, clip / (‖g‖ + 1e-6)).
                let norm = g.f_norm()?.f_double_value(&[])?;
                let coef = (r.grad_clip / (norm + 1e-6)).min(1.0);
                let _ = g.f_mul_scalar_(coef)?;
            }
            let w = &mut self.store.params.flat;
            if r.weight_decay > 0.0 {
                let _ = g.f_add_(&w.f_mul_scalar(r.weight_decay)?)?;
            }
            match &mask {
                None => {
                    let _ = self.momentum.f_mul_scalar_(r.momentum)?.f_add_(&g)?;
                    let _ = w.f_sub_(&self.momentum.f_mul_scalar(lr)?)?;
                }
                Some(mask) => {
                    let new = self.momentum.f_mul_scalar(r.momentum)?.f_add(&g)?;
                    let delta = new.f_sub(&self.momentum)?.f_mul(mask)?;
                    let _ = self.momentum.f_add_(&delta)?;
                    let _ = w.f_sub_(&self.momentum.f_mul(mask)?.f_mul_scalar(lr)?)?;
                }
            }
            Ok(())
        })
        .context(what)
    }

    /// One weight step on the next training batch.
    pub(crate) fn do_train_step(&mut self, mix: &Matrix) -> PluginResult<BatchStats> {
        let _threads = self.threads();
        let mix = self.mix_tensor(mix, false)?;
        let batch = self.peek_train_batch()?;
        let (loss, correct) = self.batch_loss(&batch, &mix)?;
        let stats = self.stats(&loss, correct, batch.len(), "train_step")?;
        let (g, reached) = self.weight_grad(&loss, "train_step")?;
        self.sgd_step(g, &reached)?;
        self.advance(W)?;
        Ok(stats)
    }

    /// The loss of the next α batch and ∂loss/∂mix.
    pub(crate) fn do_arch_grad(&mut self, mix: &Matrix) -> PluginResult<ArchGrad> {
        let _threads = self.threads();
        let mix = self.mix_tensor(mix, true)?;
        let batch = self.peek_alpha_batch()?;
        let (loss, correct) = self.batch_loss(&batch, &mix)?;
        let stats = self.stats(&loss, correct, batch.len(), "arch_grad")?;
        let g = self.mix_grad(&loss, &mix, "arch_grad")?;
        self.advance(ALPHA)?;
        Ok(ArchGrad {
            stats,
            grad: crate::matrix::to_matrix(&g)?,
        })
    }

    pub(crate) fn set_weights(&mut self, w: &Tensor, what: &str) -> PluginResult<()> {
        tch::no_grad(|| self.store.params.flat.f_copy_(w)).context(what)
    }

    pub(crate) fn copy_into_buffers(&mut self, b: &Tensor, what: &str) -> PluginResult<()> {
        tch::no_grad(|| self.store.buffers.flat.f_copy_(b)).context(what)
    }

    /// Mean loss and accuracy over the current task's whole α split, or an episode's query set
    /// (evaluation mode, no grad).
    pub(crate) fn do_evaluate(&mut self, mix: &Matrix) -> PluginResult<BatchStats> {
        let _threads = self.threads();
        let mix = self.mix_tensor(mix, false)?;
        let part = match &self.episode {
            Some(e) => &e.query,
            None => &self.tasks[self.task].alpha,
        };
        let n = part.len() as i64;
        let step = self.cfg.eval_batch_size as i64;
        let pass = Pass::evaluation();
        let what = "supernet evaluate";
        let (mut loss_sum, mut correct) = (0.0, 0i64);
        tch::no_grad(|| -> PluginResult<()> {
            let mut from = 0;
            while from < n {
                let len = step.min(n - from);
                let batch = Batch {
                    images: part.images.f_narrow(0, from, len).context(what)?,
                    labels: part.labels.f_narrow(0, from, len).context(what)?,
                    seed: 0,
                };
                let (loss, c) = self.loss(&batch, &mix, &pass)?;
                loss_sum += loss.f_double_value(&[]).context(what)? * len as f64;
                correct += c;
                from += len;
            }
            Ok(())
        })?;
        self.stats_of(loss_sum / n as f64, correct, n as usize, what)
    }

    pub(crate) fn do_info(&self) -> SupernetInfo {
        let it = &self.iters[self.task];
        SupernetInfo {
            candidates: self
                .cfg
                .candidates
                .iter()
                .map(|c| c.clone().into())
                .collect(),
            parameters: self.store.params.numel() as u64,
            train_batches: it[W].batches(),
            valid_batches: it[ALPHA].batches(),
            epoch: self.epoch,
            learning_rate: self.learning_rate(),
        }
    }

    pub(crate) fn do_set_skip_dropout(&mut self, p: f64) -> PluginResult<()> {
        if !(p.is_finite() && (0.0..1.0).contains(&p)) {
            return Err(PluginError::invalid_params(format!(
                "skip dropout {p}: expected 0 ≤ p < 1"
            )));
        }
        self.skip_dropout = p;
        Ok(())
    }

    pub(crate) fn do_set_task(&mut self, task: u32) -> PluginResult<()> {
        if task as usize >= self.tasks.len() {
            let names: Vec<&str> = self.tasks.iter().map(|t| t.name.as_str()).collect();
            return Err(PluginError::unknown_task(format!(
                "task index {task}: this supernet was built for {} task(s), indices 0..{} ({})",
                names.len(),
                names.len(),
                names.join(", ")
            )));
        }
        self.task = task as usize;
        self.episode = None;
        Ok(())
    }
}
