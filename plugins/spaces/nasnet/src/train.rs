//! Training a genotype's network on an image task (XferNAS's child training, Wistuba 2019, arXiv
//! 1907.08307 §4, with DARTS's recipe, quark0/darts cnn/train.py, where the paper is silent),
//! through the shared loop of [`xnas_tch::train`] (its documentation states the loop):
//!
//! * SGD with momentum (no Nesterov), weight decay on every parameter, cosine learning rate per
//!   step, gradient clipping by global norm, drop-path ramped over the epochs, augmentation;
//! * seeds `nasnet.init` (weights), `nasnet.data` (order and augmentation) and `nasnet.epoch`
//!   (the network's drop-path masks) of the configuration's seed, the last two per epoch, so a
//!   training continued from its checkpoint (`checkpoint_dir`) ends as an uninterrupted one.

use crate::genome::Genotype;
use crate::network::{flops, Network, NetworkConfig};
use xnas_tch::data::TaskData;
use xnas_tch::tch::{Device, Tensor};
use xnas_tch::train::{checkpoint::Checkpoint, Classifier, Recipe};
pub use xnas_tch::train::{cosine_lr, TrainError, TrainOutcome};

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
    /// Cells output every block (DARTS's cell), not only the loose ends.
    pub concat_all: bool,
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
            concat_all: false,
            checkpoint_dir: None,
        }
    }
}

impl TrainConfig {
    pub fn validate(&self) -> Result<(), String> {
        self.recipe().check()
    }

    /// The shared loop's recipe: this configuration without the network's shape.
    pub fn recipe(&self) -> Recipe {
        Recipe {
            epochs: self.epochs,
            batch_size: self.batch_size,
            eval_batch_size: self.eval_batch_size,
            learning_rate: self.learning_rate,
            learning_rate_min: self.learning_rate_min,
            momentum: self.momentum,
            nesterov: false,
            weight_decay: self.weight_decay,
            grad_clip: self.grad_clip,
            drop_path: self.drop_path,
            auxiliary_weight: self.auxiliary_weight,
            cutout: self.cutout,
            flip: self.flip,
            crop_padding: self.crop_padding,
            device: self.device,
            seed: self.seed,
            component: "nasnet",
            checkpoint: None,
        }
    }

    /// The network this recipe trains on a task of `shape = [C, H, W]` and `classes`.
    pub fn network_config(&self, shape: [usize; 3], classes: usize) -> NetworkConfig {
        NetworkConfig {
            auxiliary: self.auxiliary_weight > 0.0,
            concat_all: self.concat_all,
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
    let net_cfg = cfg.network_config(data.shape, data.classes);
    let recipe = Recipe {
        checkpoint: (cfg.checkpoint_dir.as_ref())
            .map(|dir| Checkpoint::of(dir.clone(), genotype, &net_cfg)),
        ..cfg.recipe()
    };
    let mut out = xnas_tch::train::train(
        data,
        &recipe,
        |p| Network::new(genotype, &net_cfg, p),
        progress,
    )?;
    out.flops = flops(genotype, &net_cfg);
    Ok(out)
}

impl Classifier for Network {
    fn forward_t(&self, x: &Tensor, train: bool, drop_path: f64) -> (Tensor, Option<Tensor>) {
        Network::forward_t(self, x, train, drop_path)
    }

    fn begin_epoch(&self, seed: u64) {
        self.set_drop_path_seed(seed);
    }
}

/// Accuracy in [0, 1] of `net` (eval mode, no grad) on `images`/`labels` already on its
/// device, in batches of `batch`.
pub fn evaluate(
    net: &Network,
    images: &Tensor,
    labels: &Tensor,
    batch: usize,
) -> Result<f64, TrainError> {
    xnas_tch::train::evaluate(net, images, labels, batch)
}
