//! Per-epoch checkpoints of one training ([`Recipe::checkpoint`], set by `xnas train`): after
//! every epoch the weights (batch-norm statistics included), the SGD momentum buffers, the curve so
//! far and a key naming the training go into the folder, so a killed training continues from its
//! last finished epoch with the same final result (each epoch's shuffle, augmentation and
//! drop-path draws are seeded from the seed and the epoch, not carried over from the epochs before).
//!
//! Layout: `epoch-<k>/{weights.ot,momentum.ot}` for the last finished epoch `k` and `state.json`
//! naming it, written last (renamed into place), so a kill at any moment leaves the previous
//! checkpoint intact.

use super::{Recipe, TrainError};
use crate::data::TaskData;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tch::{nn, Device, Kind, Tensor};
use xnas_core::Fnv1a64;

/// Where to keep a training's checkpoints, and what names the network trained (the
/// architecture and its shape, as the space writes them), so a checkpoint of another network
/// is refused rather than continued.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub dir: PathBuf,
    pub network: String,
}

impl Checkpoint {
    /// Checkpoints in `dir` of the network a space builds for `arch` with `config`, both named by
    /// their `Debug` form (which every space's genome and network configuration derive).
    pub fn of(dir: PathBuf, arch: &impl std::fmt::Debug, config: &impl std::fmt::Debug) -> Self {
        Checkpoint {
            dir,
            network: format!("{arch:?}|{config:?}"),
        }
    }
}

/// Momentum SGD as PyTorch's `torch.optim.SGD` (no dampening): `d = g + wd·w`, `b = d` at the
/// first step then `b = μ·b + d`, `d = g + μ·b` with Nesterov else `d = b`, `w -= lr·d`. Its
/// buffers are plain tensors so a checkpoint can keep them (tch's optimizer does not expose them).
pub struct Sgd {
    momentum: f64,
    weight_decay: f64,
    nesterov: bool,
    buffers: Vec<Option<Tensor>>,
}

impl Sgd {
    pub fn new(momentum: f64, weight_decay: f64, nesterov: bool, params: usize) -> Sgd {
        Sgd {
            momentum,
            weight_decay,
            nesterov,
            buffers: (0..params).map(|_| None).collect(),
        }
    }

    pub fn zero_grad(params: &[Tensor]) {
        for p in params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.f_zero_();
            }
        }
    }

    pub fn step(&mut self, params: &[Tensor], lr: f64) -> Result<(), TrainError> {
        tch::no_grad(|| {
            for (p, buf) in params.iter().zip(self.buffers.iter_mut()) {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                let d = if self.weight_decay != 0.0 {
                    g.f_add(&p.f_mul_scalar(self.weight_decay)?)?
                } else {
                    g
                };
                let update = if self.momentum == 0.0 {
                    d
                } else {
                    let b = match buf {
                        Some(b) => {
                            let _ = b.f_mul_scalar_(self.momentum)?;
                            let _ = b.f_add_(&d)?;
                            b.shallow_clone()
                        }
                        None => {
                            // A copy: `d` may be the gradient itself, which the next step zeroes.
                            let mut b = d.f_zeros_like()?;
                            b.f_copy_(&d)?;
                            *buf = Some(b.shallow_clone());
                            b
                        }
                    };
                    if self.nesterov {
                        d.f_add(&b.f_mul_scalar(self.momentum)?)?
                    } else {
                        b
                    }
                };
                let mut w = p.shallow_clone();
                let _ = w.f_sub_(&update.f_mul_scalar(lr)?)?;
            }
            Ok(())
        })
    }
}

/// Names one training for its checkpoints: the network, the recipe (but where checkpoints go)
/// and the task's data (name, shape, sizes and a sample of the training images).
pub fn key(network: &str, data: &TaskData, recipe: &Recipe) -> String {
    let recipe = Recipe {
        checkpoint: None,
        ..recipe.clone()
    };
    let mut h = Fnv1a64::default();
    h.write(
        format!(
            "{network}|{recipe:?}|{}|{:?}|{}|{}|{}",
            data.name,
            data.shape,
            data.classes,
            data.train.len(),
            data.valid.len()
        )
        .as_bytes(),
    );
    let sample = data
        .train
        .images
        .f_flatten(0, -1)
        .and_then(|t| t.f_narrow(0, 0, t.size()[0].min(4096)))
        .and_then(|t| t.f_sum(Kind::Double))
        .and_then(|t| t.f_double_value(&[]))
        .unwrap_or(f64::NAN);
    h.write(&sample.to_bits().to_le_bytes());
    format!("{:016x}", h.finish())
}

#[derive(Serialize, Deserialize)]
struct State {
    /// Names the training: a checkpoint of another one is refused, not continued.
    key: String,
    /// Finished epochs.
    epochs: usize,
    curve: Vec<f64>,
    train_loss: Vec<f64>,
}

/// Where a training was, as read from a checkpoint.
pub struct Resumed {
    pub epochs: usize,
    pub curve: Vec<f64>,
    pub train_loss: Vec<f64>,
}

fn ckpt_err(dir: &Path, what: impl std::fmt::Display) -> TrainError {
    TrainError::Checkpoint(format!("{}: {what}", dir.display()))
}

fn epoch_dir(dir: &Path, k: usize) -> PathBuf {
    dir.join(format!("epoch-{k}"))
}

/// Restores the last checkpoint in `dir` into `vs` and `sgd`, if there is one. A checkpoint of
/// another training (other network, task, data or recipe) is an error naming the folder.
pub fn restore(
    dir: &Path,
    key: &str,
    vs: &mut nn::VarStore,
    sgd: &mut Sgd,
    device: Device,
) -> Result<Option<Resumed>, TrainError> {
    let Ok(text) = std::fs::read_to_string(dir.join("state.json")) else {
        return Ok(None);
    };
    let state: State = serde_json::from_str(&text).map_err(|e| {
        ckpt_err(
            dir,
            format!("state.json cannot be read ({e}); delete the folder to start over"),
        )
    })?;
    if state.key != key {
        return Err(ckpt_err(
            dir,
            "it belongs to another training (another architecture, task, data or recipe): \
             choose another output folder, or delete this one to start over",
        ));
    }
    let at = epoch_dir(dir, state.epochs);
    vs.load(at.join("weights.ot"))
        .map_err(|e| ckpt_err(dir, format!("weights: {e}")))?;
    let named = Tensor::load_multi_with_device(at.join("momentum.ot"), device)
        .map_err(|e| ckpt_err(dir, format!("momentum: {e}")))?;
    for (name, t) in named {
        let i: usize = name
            .trim_start_matches('m')
            .parse()
            .map_err(|_| ckpt_err(dir, format!("momentum: unexpected entry `{name}`")))?;
        let slot = sgd
            .buffers
            .get_mut(i)
            .ok_or_else(|| ckpt_err(dir, format!("momentum: entry `{name}` out of range")))?;
        *slot = Some(t);
    }
    Ok(Some(Resumed {
        epochs: state.epochs,
        curve: state.curve,
        train_loss: state.train_loss,
    }))
}

/// Saves the state after `epochs` finished epochs and removes the previous checkpoint.
pub fn save(
    dir: &Path,
    key: &str,
    vs: &nn::VarStore,
    sgd: &Sgd,
    epochs: usize,
    curve: &[f64],
    train_loss: &[f64],
) -> Result<(), TrainError> {
    let io = |e: std::io::Error| ckpt_err(dir, e);
    let at = epoch_dir(dir, epochs);
    std::fs::create_dir_all(&at).map_err(io)?;
    vs.save(at.join("weights.ot"))
        .map_err(|e| ckpt_err(dir, format!("weights: {e}")))?;
    let named: Vec<(String, &Tensor)> = sgd
        .buffers
        .iter()
        .enumerate()
        .filter_map(|(i, b)| b.as_ref().map(|b| (format!("m{i}"), b)))
        .collect();
    Tensor::save_multi(&named, at.join("momentum.ot"))
        .map_err(|e| ckpt_err(dir, format!("momentum: {e}")))?;
    let state = State {
        key: key.to_string(),
        epochs,
        curve: curve.to_vec(),
        train_loss: train_loss.to_vec(),
    };
    let tmp = dir.join("state.json.tmp");
    std::fs::write(&tmp, serde_json::to_string(&state).unwrap_or_default()).map_err(io)?;
    std::fs::rename(&tmp, dir.join("state.json")).map_err(io)?;
    if epochs > 0 {
        let _ = std::fs::remove_dir_all(epoch_dir(dir, epochs - 1));
    }
    Ok(())
}
