//! Training a genotype's network on an image task (XferNAS's child training, Wistuba 2019, arXiv
//! 1907.08307 §4, with DARTS's recipe, quark0/darts cnn/train.py, where the paper is silent).
//!
//! * SGD with momentum (no Nesterov), weight decay on every parameter (as PyTorch's `SGD`;
//!   [`crate::checkpoint::Sgd`], whose buffers a checkpoint keeps).
//! * Cosine learning rate **per step**, from `learning_rate` at the first step to
//!   `learning_rate_min` after the last: `lr_t = min + (max−min)·(1+cos(π·t/T))/2`, `T` = all steps.
//! * Gradient clipping by the global L2 norm (`grad_clip`; 0 = off), before the optimizer step,
//!   so weight decay is not clipped (as `clip_grad_norm_` + `SGD` in DARTS).
//! * Drop-path probability `drop_path · e / epochs` in epoch `e` (0-based; DARTS's ramp).
//! * Augmentation, batched on the device: random crop after zero padding by `crop_padding`, random
//!   horizontal flip, cutout (a `cutout × cutout` square of zeros at a uniform centre, clipped at
//!   the border, on the normalised image; DARTS's `Cutout`). All drawn from a generator seeded from
//!   `seed` and the epoch, as is the shuffle order; parameters are initialised from torch's
//!   generator seeded from `seed` (under `xnas_tch::seed::with_torch_seed`'s lock); drop-path masks
//!   from the network's own generator, re-seeded from `seed` and the epoch. So the same seed gives
//!   the same result on the CPU with the same number of threads, and a training continued from a
//!   checkpoint ([`crate::checkpoint`], `checkpoint_dir`) the result of an uninterrupted one.
//! * Each epoch visits the training set once in a new order, in batches of `batch_size` (a last
//!   batch of a single image is skipped: batch norm cannot train on it); then the validation split
//!   is evaluated (eval mode, no grad). The test split, where present, once at the end.
//! * The loss is checked after every step: NaN or ±∞ stops training with [`TrainError::Diverged`].

use crate::checkpoint::{self, Sgd};
use crate::genome::Genotype;
use crate::network::{flops, parameter_count, Network, NetworkConfig};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;
use xnas_core::derive_seed;
use xnas_core::SplitMix64;
use xnas_tch::data::{ImageSet, TaskData};
use xnas_tch::seed::{component_seed, with_torch_seed};
use xnas_tch::tch::{self, nn, Device, Kind, Tensor};

/// How to train one network.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// `N`, normal cells per stage.
    pub cells: usize,
    /// `F`, initial channels.
    pub filters: usize,
    pub epochs: usize,
    pub batch_size: usize,
    /// Peak learning rate `l_max` (first step).
    pub learning_rate: f64,
    /// Learning rate after the last step.
    pub learning_rate_min: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    /// The largest drop-path probability (ramps linearly from 0 over the epochs).
    pub drop_path: f64,
    /// Side of the cutout square in pixels; 0 = off.
    pub cutout: usize,
    /// Random horizontal flips.
    pub flip: bool,
    /// Random crop after zero padding by this many pixels; 0 = off.
    pub crop_padding: usize,
    /// Weight of the auxiliary head's loss; 0 = no auxiliary head.
    pub auxiliary_weight: f64,
    /// Largest global gradient norm; 0 = no clipping.
    pub grad_clip: f64,
    pub device: Device,
    pub seed: u64,
    pub eval_batch_size: usize,
    /// Where to keep a checkpoint after every epoch and continue from (`xnas train`); None: none.
    pub checkpoint_dir: Option<std::path::PathBuf>,
}

impl Default for TrainConfig {
    /// DARTS's evaluation recipe at XferNAS's search size (N = 3, F = 32), CPU, few epochs.
    fn default() -> Self {
        TrainConfig {
            cells: 3,
            filters: 32,
            epochs: 10,
            batch_size: 96,
            learning_rate: 0.025,
            learning_rate_min: 0.0,
            momentum: 0.9,
            weight_decay: 3e-4,
            drop_path: 0.2,
            cutout: 0,
            flip: false,
            crop_padding: 0,
            auxiliary_weight: 0.0,
            grad_clip: 5.0,
            device: Device::Cpu,
            seed: 0,
            eval_batch_size: 256,
            checkpoint_dir: None,
        }
    }
}

impl TrainConfig {
    pub fn validate(&self) -> Result<(), String> {
        let mut bad = Vec::new();
        if self.epochs == 0 {
            bad.push("epochs must be at least 1".to_string());
        }
        if self.batch_size < 2 {
            bad.push(format!(
                "batch_size must be at least 2 (batch norm), not {}",
                self.batch_size
            ));
        }
        if self.eval_batch_size == 0 {
            bad.push("eval_batch_size must be at least 1".into());
        }
        let finite_nonneg = [
            ("learning_rate", self.learning_rate),
            ("learning_rate_min", self.learning_rate_min),
            ("momentum", self.momentum),
            ("weight_decay", self.weight_decay),
            ("auxiliary_weight", self.auxiliary_weight),
            ("grad_clip", self.grad_clip),
            ("drop_path", self.drop_path),
        ];
        for (name, v) in finite_nonneg {
            if !(v.is_finite() && v >= 0.0) {
                bad.push(format!("{name} must be finite and ≥ 0, not {v}"));
            }
        }
        if self.drop_path >= 1.0 {
            bad.push(format!("drop_path must be < 1, not {}", self.drop_path));
        }
        if self.momentum >= 1.0 {
            bad.push(format!("momentum must be < 1, not {}", self.momentum));
        }
        if bad.is_empty() {
            Ok(())
        } else {
            Err(bad.join("; "))
        }
    }

    /// The network this recipe trains on a task of `shape = [C, H, W]` and `classes`.
    pub fn network_config(&self, shape: [usize; 3], classes: usize) -> NetworkConfig {
        NetworkConfig {
            auxiliary: self.auxiliary_weight > 0.0,
            ..NetworkConfig::new(
                self.cells,
                self.filters,
                shape[0],
                classes,
                [shape[1], shape[2]],
            )
        }
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
    /// Trainable parameters, without the auxiliary head.
    pub parameters: u64,
    /// Multiply-adds of one image's forward pass ([`crate::network::flops`]).
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
    /// A checkpoint that cannot be written, read or continued (`checkpoint_dir`).
    #[error("checkpoint {0}")]
    Checkpoint(String),
}

impl From<tch::TchError> for TrainError {
    fn from(e: tch::TchError) -> Self {
        TrainError::Torch(e.to_string())
    }
}

/// Trains `genotype`'s network on `data.train`, evaluating on `data.valid` after every epoch
/// (`progress(epoch, valid_accuracy)`, epoch counted from 0) and on `data.test` at the end.
///
/// Never panics on a bad genotype, configuration or data: those are [`TrainError::Config`];
/// a libtorch failure (a panic of tch, e.g. out of memory) is caught and returned as
/// [`TrainError::Torch`].
pub fn train(
    genotype: &Genotype,
    data: &TaskData,
    cfg: &TrainConfig,
    progress: &mut dyn FnMut(usize, f64),
) -> Result<TrainOutcome, TrainError> {
    cfg.validate().map_err(TrainError::Config)?;
    check_data(data)?;
    let net_cfg = cfg.network_config(data.shape, data.classes);
    net_cfg.validate().map_err(TrainError::Config)?;
    crate::network::validate_genotype(genotype).map_err(TrainError::Config)?;
    xnas_tch::device::init();
    match catch_unwind(AssertUnwindSafe(|| {
        train_unchecked(genotype, data, cfg, &net_cfg, progress)
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

fn check_data(data: &TaskData) -> Result<(), TrainError> {
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

fn train_unchecked(
    genotype: &Genotype,
    data: &TaskData,
    cfg: &TrainConfig,
    net_cfg: &NetworkConfig,
    progress: &mut dyn FnMut(usize, f64),
) -> Result<TrainOutcome, TrainError> {
    let start = Instant::now();
    let device = cfg.device;
    if device.is_cuda() {
        // Fixed shapes: let cuDNN pick the fastest algorithms (as DARTS does).
        tch::Cuda::cudnn_set_benchmark(true);
    }
    let mut vs = nn::VarStore::new(device);
    let net = with_torch_seed(component_seed(cfg.seed, "nasnet.init"), || {
        Network::new(genotype, net_cfg, &vs.root())
    })
    .map_err(TrainError::Config)?;
    let params = vs.trainable_variables();
    let mut opt = Sgd::new(cfg.momentum, cfg.weight_decay, params.len());

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
    let key = checkpoint::key(genotype, data, cfg);
    let mut first = 0;
    if let Some(dir) = &cfg.checkpoint_dir {
        if let Some(r) = checkpoint::restore(dir, &key, &mut vs, &mut opt, device)? {
            (first, curve, train_loss) = (r.epochs, r.curve, r.train_loss);
        }
    }
    for epoch in first..cfg.epochs {
        let drop_prob = cfg.drop_path * epoch as f64 / cfg.epochs as f64;
        let mut rng = SplitMix64::new(derive_seed(
            component_seed(cfg.seed, "nasnet.data"),
            epoch as u64,
        ));
        net.set_drop_path_seed(derive_seed(
            component_seed(cfg.seed, "nasnet.drop_path"),
            epoch as u64,
        ));
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
        if let Some(dir) = &cfg.checkpoint_dir {
            checkpoint::save(dir, &key, &vs, &opt, epoch + 1, &curve, &train_loss)?;
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
        flops: flops(genotype, net_cfg),
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
fn clip_grad_norm(params: &[Tensor], max: f64) -> Result<(), TrainError> {
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
pub fn evaluate(
    net: &Network,
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

/// Batched random crop (after zero padding), horizontal flip and cutout.
struct Augment {
    pad: usize,
    flip: bool,
    cutout: usize,
    /// `[C, H, W]`.
    shape: [usize; 3],
}

impl Augment {
    fn new(cfg: &TrainConfig, shape: [usize; 3]) -> Self {
        Augment {
            pad: cfg.crop_padding,
            flip: cfg.flip,
            cutout: cfg.cutout,
            shape,
        }
    }

    /// `x`: `[B, C, H, W]`. One gather for crop+flip (indices into the padded image, computed
    /// here from per-image offsets), one multiply for cutout.
    fn apply(&self, x: Tensor, rng: &mut SplitMix64) -> Tensor {
        let b = x.size()[0] as usize;
        let [c, h, w] = self.shape;
        let device = x.device();
        let mut x = x;
        if self.pad > 0 || self.flip {
            let p = self.pad;
            let (hp, wp) = (h + 2 * p, w + 2 * p);
            let padded = if p > 0 {
                let p = p as i64;
                x.constant_pad_nd([p, p, p, p])
            } else {
                x
            };
            let mut idx = Vec::with_capacity(b * h * w);
            for _ in 0..b {
                let oy = rng.below(2 * p as u32 + 1) as usize;
                let ox = rng.below(2 * p as u32 + 1) as usize;
                let flip = self.flip && rng.next_u64() & 1 == 1;
                for i in 0..h {
                    let row = (oy + i) * wp + ox;
                    if flip {
                        idx.extend((0..w).rev().map(|j| (row + j) as i64));
                    } else {
                        idx.extend((0..w).map(|j| (row + j) as i64));
                    }
                }
            }
            let (bi, ci, hw) = (b as i64, c as i64, (h * w) as i64);
            let idx = Tensor::from_slice(&idx)
                .to_device(device)
                .view([bi, 1, hw])
                .expand([bi, ci, hw], false);
            x = padded
                .view([bi, ci, (hp * wp) as i64])
                .gather(2, &idx, false)
                .view([bi, ci, h as i64, w as i64]);
        }
        if self.cutout > 0 {
            let half = self.cutout / 2;
            let mut mask = vec![1f32; b * h * w];
            for img in mask.chunks_mut(h * w) {
                let cy = rng.below(h as u32) as usize;
                let cx = rng.below(w as u32) as usize;
                let (y1, y2) = (cy.saturating_sub(half), (cy + half).min(h));
                let (x1, x2) = (cx.saturating_sub(half), (cx + half).min(w));
                for y in y1..y2 {
                    img[y * w + x1..y * w + x2].fill(0.0);
                }
            }
            let mask = Tensor::from_slice(&mask)
                .to_device(device)
                .view([b as i64, 1, h as i64, w as i64]);
            // In place: `x` is this batch's own copy (index_select or gather made it).
            x *= mask;
        }
        x
    }
}
