//! Training an image classifier from scratch on a task: the child training of the trainable
//! spaces (`nasnet`, `nb201`). The space builds its network; this module trains and measures it.
//!
//! * SGD with momentum (Nesterov or not), weight decay on every parameter (as PyTorch's `SGD`;
//!   [`checkpoint::Sgd`], whose buffers a checkpoint keeps).
//! * Cosine learning rate **per step**, from `learning_rate` at the first step to
//!   `learning_rate_min` after the last: `lr_t = min + (max−min)·(1+cos(π·t/T))/2`, `T` = all steps.
//! * Gradient clipping by the global L2 norm (`grad_clip`; 0 = off), before the optimizer step,
//!   so weight decay is not clipped (as `clip_grad_norm_` + `SGD` in DARTS).
//! * Drop-path probability `drop_path · e / epochs` in epoch `e` (0-based; DARTS's ramp), handed
//!   to the network, which applies it (or has nothing to drop).
//! * Augmentation ([`augment`]), batched on the device: random crop after zero padding, random
//!   horizontal flip, cutout. All drawn from a generator seeded from `seed` and the epoch, as is
//!   the shuffle order, and the network's own draws (drop-path masks) are re-seeded each epoch
//!   ([`Classifier::begin_epoch`]); parameters are initialised from torch's generator seeded from
//!   `seed` (under [`crate::seed::with_torch_seed`]'s lock). So the same seed gives the same
//!   result on the CPU with the same number of threads, and a training continued from a checkpoint
//!   ([`checkpoint`], [`Recipe::checkpoint`]) the result of an uninterrupted one. The seeds are the
//!   components `<component>.init`, `<component>.data` and `<component>.epoch` of `seed`
//!   ([`Recipe::component`], e.g. `"nasnet"`).
//! * Each epoch visits the training set once in a new order, in batches of `batch_size` (a last
//!   batch of a single image is skipped: batch norm cannot train on it); then the validation split
//!   is evaluated (eval mode, no grad). The test split, where present, once at the end.
//! * The loss is checked after every step: NaN or ±∞ stops training with [`TrainError::Diverged`].

mod augment;
pub mod checkpoint;
mod evaluation;

use crate::data::{ImageSet, TaskData};
use crate::seed::{component_seed, with_torch_seed};
use augment::Augment;
use checkpoint::{Checkpoint, Sgd};
pub use evaluation::{epochs_of, eval_result};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;
use tch::{nn, Device, Kind, Tensor};
use xnas_core::{derive_seed, SplitMix64};

/// A network [`train`] can train: logits of a batch.
pub trait Classifier {
    /// Logits `[B, classes]` of `x` (`[B, C, H, W]`), and an auxiliary head's logits when the
    /// network has one and `train` is true. `drop_path` is the drop-path probability of this
    /// epoch (0 at evaluation); a network without drop-path ignores it.
    fn forward_t(&self, x: &Tensor, train: bool, drop_path: f64) -> (Tensor, Option<Tensor>);

    /// Called before each training epoch with a seed of that epoch, for a network that draws
    /// random numbers of its own (drop-path masks): re-seeding per epoch lets a training continued
    /// from a checkpoint draw what an uninterrupted one would.
    fn begin_epoch(&self, _seed: u64) {}
}

/// How to train one network.
#[derive(Clone, Debug, PartialEq)]
pub struct Recipe {
    pub epochs: usize,
    pub batch_size: usize,
    pub eval_batch_size: usize,
    /// Peak learning rate (first step).
    pub learning_rate: f64,
    /// Learning rate after the last step.
    pub learning_rate_min: f64,
    pub momentum: f64,
    /// Nesterov momentum (needs `momentum > 0`).
    pub nesterov: bool,
    pub weight_decay: f64,
    /// Largest global gradient norm; 0 = no clipping.
    pub grad_clip: f64,
    /// The largest drop-path probability (ramps linearly from 0 over the epochs).
    pub drop_path: f64,
    /// Weight of the auxiliary head's loss (networks that have one).
    pub auxiliary_weight: f64,
    /// Side of the cutout square in pixels; 0 = off.
    pub cutout: usize,
    /// Random horizontal flips.
    pub flip: bool,
    /// Random crop after zero padding by this many pixels; 0 = off.
    pub crop_padding: usize,
    pub device: Device,
    pub seed: u64,
    /// The name the seeds of initialisation and data order are derived under.
    pub component: &'static str,
    /// Keep a checkpoint after every epoch and continue from it (`xnas train`); None: none.
    pub checkpoint: Option<Checkpoint>,
}

impl Recipe {
    /// The first problem, in the words of a space's parameters: the key, its value and what it
    /// must be (`` `batch_size = 1`: expected at least 2 (batch norm) ``). The spaces check their
    /// parameters with it, and [`train`] refuses what it refuses.
    pub fn check(&self) -> Result<(), String> {
        for (name, v, least) in [
            ("epochs", self.epochs, 1),
            ("batch_size", self.batch_size, 1),
            ("eval_batch_size", self.eval_batch_size, 1),
        ] {
            if v < least {
                return Err(format!("`{name} = {v}`: expected at least {least}"));
            }
        }
        if self.batch_size < 2 {
            return Err("`batch_size = 1`: expected at least 2 (batch norm)".into());
        }
        for (name, v) in [
            ("learning_rate", self.learning_rate),
            ("momentum", self.momentum),
            ("weight_decay", self.weight_decay),
            ("grad_clip", self.grad_clip),
            ("auxiliary_weight", self.auxiliary_weight),
            ("learning_rate_min", self.learning_rate_min),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(format!("`{name} = {v}`: expected a finite number ≥ 0"));
            }
        }
        if self.learning_rate == 0.0 {
            return Err("`learning_rate = 0`: expected a positive number".into());
        }
        if self.momentum >= 1.0 {
            return Err(format!(
                "`momentum = {}`: expected 0 ≤ m < 1",
                self.momentum
            ));
        }
        if self.nesterov && self.momentum == 0.0 {
            return Err(
                "`nesterov = true` with `momentum = 0`: Nesterov needs momentum > 0".into(),
            );
        }
        if !(0.0..1.0).contains(&self.drop_path) {
            return Err(format!(
                "`drop_path = {}`: expected 0 ≤ p < 1",
                self.drop_path
            ));
        }
        Ok(())
    }
}

/// What training gave.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainOutcome {
    /// Validation accuracy after the last epoch, in [0, 1].
    pub valid_accuracy: f64,
    /// Test accuracy of the final network, where the task has a test split.
    pub test_accuracy: Option<f64>,
    /// Wall-clock seconds of the whole call (building, training, evaluation).
    pub seconds: f64,
    /// Trainable parameters ([`parameter_count`]).
    pub parameters: u64,
    /// Multiply-adds of one image's forward pass, as the caller counts them from its
    /// architecture ([`train`] does not know it and leaves 0).
    pub flops: u64,
    /// Validation accuracy after each epoch.
    pub curve: Vec<f64>,
    /// Mean training loss (classifier, plus the weighted auxiliary loss) of each epoch.
    pub train_loss: Vec<f64>,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum TrainError {
    /// The loss became NaN or infinite (`epoch` and `step` count from 0; `step` within the epoch).
    #[error(
        "training diverged: the loss became NaN or infinite at step {step} of epoch {epoch} \
         (both counted from 0); try a lower learning rate"
    )]
    Diverged { epoch: usize, step: usize },
    #[error("libtorch error: {0}")]
    Torch(String),
    #[error("cannot train: {0}")]
    Config(String),
    /// A checkpoint that cannot be written, read or continued ([`Recipe::checkpoint`]).
    #[error("checkpoint {0}")]
    Checkpoint(String),
}

impl From<tch::TchError> for TrainError {
    fn from(e: tch::TchError) -> Self {
        TrainError::Torch(e.to_string())
    }
}

/// Builds a network with `build` (on a fresh var store, torch's generator seeded) and trains it on
/// `data.train`, evaluating on `data.valid` after every epoch (`progress(epoch, valid_accuracy)`,
/// epoch counted from 0) and on `data.test` at the end.
///
/// Never panics on a bad recipe, data or network: those are [`TrainError::Config`] (`build`'s
/// error included); a libtorch failure (a panic of tch, e.g. out of memory) is caught and
/// returned as [`TrainError::Torch`].
pub fn train<M: Classifier>(
    data: &TaskData,
    recipe: &Recipe,
    build: impl FnOnce(&nn::Path) -> Result<M, String>,
    progress: &mut dyn FnMut(usize, f64),
) -> Result<TrainOutcome, TrainError> {
    recipe.check().map_err(TrainError::Config)?;
    check_data(data)?;
    crate::device::init();
    match catch_unwind(AssertUnwindSafe(|| {
        train_unchecked(data, recipe, build, progress)
    })) {
        Ok(r) => r,
        Err(payload) => Err(TrainError::Torch(panic_message(payload.as_ref()))),
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else {
        "a panic without a message".into()
    }
}

/// Checks shapes, label ranges and sizes of every split against the task's description.
pub fn check_data(data: &TaskData) -> Result<(), TrainError> {
    let bad = |m: String| Err(TrainError::Config(format!("task `{}`: {m}", data.name)));
    if data.shape.contains(&0) {
        return bad(format!("image shape {:?} has a zero side", data.shape));
    }
    if data.classes == 0 {
        return bad("no classes".into());
    }
    let mut sets = vec![("train", &data.train), ("valid", &data.valid)];
    if let Some(t) = &data.test {
        sets.push(("test", t));
    }
    for (name, set) in sets {
        let size = set.images.size();
        let want: Vec<i64> = data.shape.iter().map(|&s| s as i64).collect();
        if size.len() != 4 || size[1..] != want[..] {
            return bad(format!(
                "the {name} images have shape {size:?}, expected [N, {}, {}, {}]",
                want[0], want[1], want[2]
            ));
        }
        if set.labels.size() != [size[0]] {
            return bad(format!(
                "the {name} split has {} images but labels of shape {:?}",
                size[0],
                set.labels.size()
            ));
        }
        if set.is_empty() {
            if name == "test" {
                continue;
            }
            return bad(format!("the {name} split is empty"));
        }
        let lo = set.labels.f_min()?.f_int64_value(&[])?;
        let hi = set.labels.f_max()?.f_int64_value(&[])?;
        if lo < 0 || hi >= data.classes as i64 {
            return bad(format!(
                "the {name} labels span {lo}..={hi}, outside 0..{}",
                data.classes
            ));
        }
    }
    if data.train.len() < 2 {
        return bad("training needs at least 2 training images".into());
    }
    Ok(())
}

/// A split on the training device, images float32 and labels int64.
struct DeviceSet {
    images: Tensor,
    labels: Tensor,
}

impl DeviceSet {
    fn new(set: &ImageSet, device: Device) -> Result<Self, TrainError> {
        Ok(DeviceSet {
            images: set.images.f_to_kind(Kind::Float)?.f_to_device(device)?,
            labels: set.labels.f_to_kind(Kind::Int64)?.f_to_device(device)?,
        })
    }

    fn len(&self) -> usize {
        self.labels.size()[0] as usize
    }
}

/// The learning rate of step `t` of `total` (cosine, no restarts).
pub fn cosine_lr(max: f64, min: f64, t: usize, total: usize) -> f64 {
    let frac = if total == 0 {
        0.0
    } else {
        t as f64 / total as f64
    };
    min + (max - min) * 0.5 * (1.0 + (std::f64::consts::PI * frac).cos())
}

fn train_unchecked<M: Classifier>(
    data: &TaskData,
    cfg: &Recipe,
    build: impl FnOnce(&nn::Path) -> Result<M, String>,
    progress: &mut dyn FnMut(usize, f64),
) -> Result<TrainOutcome, TrainError> {
    let start = Instant::now();
    let device = cfg.device;
    if device.is_cuda() {
        // Fixed shapes: let cuDNN pick the fastest algorithms (as DARTS does).
        tch::Cuda::cudnn_set_benchmark(true);
    }
    let mut vs = nn::VarStore::new(device);
    let seed = |what: &str| component_seed(cfg.seed, &format!("{}.{what}", cfg.component));
    let net = with_torch_seed(seed("init"), || build(&vs.root())).map_err(TrainError::Config)?;
    let params = vs.trainable_variables();
    let mut opt = Sgd::new(cfg.momentum, cfg.weight_decay, cfg.nesterov, params.len());

    let train_set = DeviceSet::new(&data.train, device)?;
    let valid_set = DeviceSet::new(&data.valid, device)?;
    let n = train_set.len();
    let bs = cfg.batch_size.min(n);
    // Batches per epoch: a trailing batch of one image is skipped.
    let steps = if n % bs == 1 { n / bs } else { n.div_ceil(bs) };
    let total_steps = steps * cfg.epochs;
    let augment = Augment::new(cfg, data.shape);

    let mut curve = Vec::with_capacity(cfg.epochs);
    let mut train_loss = Vec::with_capacity(cfg.epochs);
    let ckpt = cfg
        .checkpoint
        .as_ref()
        .map(|c| (&c.dir, checkpoint::key(&c.network, data, cfg)));
    let mut first = 0;
    if let Some((dir, key)) = &ckpt {
        if let Some(r) = checkpoint::restore(dir, key, &mut vs, &mut opt, device)? {
            (first, curve, train_loss) = (r.epochs, r.curve, r.train_loss);
        }
    }
    for epoch in first..cfg.epochs {
        let drop_prob = cfg.drop_path * epoch as f64 / cfg.epochs as f64;
        let mut rng = SplitMix64::new(derive_seed(seed("data"), epoch as u64));
        net.begin_epoch(derive_seed(seed("epoch"), epoch as u64));
        let order = Tensor::from_slice(&shuffled(n, &mut rng)).f_to_device(device)?;
        let mut loss_sum = 0.0;
        let mut seen = 0usize;
        for step in 0..steps {
            let lr = cosine_lr(
                cfg.learning_rate,
                cfg.learning_rate_min,
                epoch * steps + step,
                total_steps,
            );
            let from = step * bs;
            let len = bs.min(n - from);
            let idx = order.narrow(0, from as i64, len as i64);
            let x = train_set.images.index_select(0, &idx);
            let y = train_set.labels.index_select(0, &idx);
            let x = augment.apply(x, &mut rng);
            let (logits, aux) = net.forward_t(&x, true, drop_prob);
            let main_loss = logits.cross_entropy_for_logits(&y);
            let loss = match aux {
                Some(aux) => main_loss + aux.cross_entropy_for_logits(&y) * cfg.auxiliary_weight,
                None => main_loss,
            };
            Sgd::zero_grad(&params);
            loss.backward();
            let value = loss.f_double_value(&[])?;
            if !value.is_finite() {
                return Err(TrainError::Diverged { epoch, step });
            }
            if cfg.grad_clip > 0.0 {
                clip_grad_norm(&params, cfg.grad_clip)?;
            }
            opt.step(&params, lr)?;
            loss_sum += value * len as f64;
            seen += len;
        }
        train_loss.push(loss_sum / seen.max(1) as f64);
        let acc = evaluate(
            &net,
            &valid_set.images,
            &valid_set.labels,
            cfg.eval_batch_size,
        )?;
        curve.push(acc);
        if let Some((dir, key)) = &ckpt {
            checkpoint::save(dir, key, &vs, &opt, epoch + 1, &curve, &train_loss)?;
        }
        progress(epoch, acc);
    }
    let test_accuracy = match &data.test {
        Some(t) if !t.is_empty() => {
            let t = DeviceSet::new(t, device)?;
            Some(evaluate(&net, &t.images, &t.labels, cfg.eval_batch_size)?)
        }
        _ => None,
    };
    Ok(TrainOutcome {
        valid_accuracy: *curve.last().unwrap_or(&0.0),
        test_accuracy,
        seconds: start.elapsed().as_secs_f64(),
        parameters: parameter_count(&vs),
        flops: 0,
        curve,
        train_loss,
    })
}

/// A uniformly random permutation of `0..n` (Fisher–Yates).
fn shuffled(n: usize, rng: &mut SplitMix64) -> Vec<i64> {
    let mut v: Vec<i64> = (0..n as i64).collect();
    for i in (1..n).rev() {
        let j = rng.below(i as u32 + 1) as usize;
        v.swap(i, j);
    }
    v
}

/// Scales all gradients so their global L2 norm is at most `max` (PyTorch's
/// `clip_grad_norm_`, without a host sync: the scale stays a tensor).
pub fn clip_grad_norm(params: &[Tensor], max: f64) -> Result<(), TrainError> {
    tch::no_grad(|| {
        let grads: Vec<Tensor> = params
            .iter()
            .map(Tensor::grad)
            .filter(Tensor::defined)
            .collect();
        if grads.is_empty() {
            return Ok(());
        }
        let norms = grads
            .iter()
            .map(|g| g.f_norm())
            .collect::<Result<Vec<_>, _>>()?;
        let total = Tensor::f_stack(&norms, 0)?.f_norm()?;
        let coef = (total + 1e-6)
            .f_reciprocal()?
            .f_mul_scalar(max)?
            .f_clamp_max(1.0)?;
        for mut g in grads {
            let _ = g.f_mul_(&coef)?;
        }
        Ok(())
    })
}

/// Accuracy in [0, 1] of `net` (eval mode, no grad) on `images`/`labels` already on its
/// device, in batches of `batch`.
pub fn evaluate<M: Classifier + ?Sized>(
    net: &M,
    images: &Tensor,
    labels: &Tensor,
    batch: usize,
) -> Result<f64, TrainError> {
    let n = labels.size()[0];
    if n == 0 {
        return Ok(0.0);
    }
    let batch = batch.max(1) as i64;
    tch::no_grad(|| {
        let mut correct = Tensor::zeros([], (Kind::Int64, labels.device()));
        let mut from = 0;
        while from < n {
            let len = batch.min(n - from);
            let x = images.f_narrow(0, from, len)?;
            let (logits, _) = net.forward_t(&x, false, 0.0);
            let hits = logits
                .f_argmax(-1, false)?
                .f_eq_tensor(&labels.f_narrow(0, from, len)?)?
                .f_sum(Kind::Int64)?;
            correct = correct.f_add(&hits)?;
            from += len;
        }
        Ok(correct.f_int64_value(&[])? as f64 / n as f64)
    })
}

/// Trainable parameters in a var store, **excluding** any under an `auxiliary` path component
/// (an auxiliary head only helps training; DARTS and NASNet report sizes without it). Batch
/// norms' running statistics are not parameters.
pub fn parameter_count(vs: &nn::VarStore) -> u64 {
    vs.variables()
        .iter()
        .filter(|(name, t)| t.requires_grad() && !name.split('.').any(|c| c == "auxiliary"))
        .map(|(_, t)| t.numel() as u64)
        .sum()
}
