//! The probe network of the similarity plugins `task2vec` and `landmark-net`: four 3×3
//! conv–BN–ReLU layers (32, 64 stride 2, 64, 128 stride 2 filters), global average pooling and a
//! linear classifier. Every task's images are brought to the probe's input (`channels` × `size` ×
//! `size`) first, so one probe embeds tasks of any shape. Also the parameter checks and set-up
//! the two plugins share.

use crate::data::ImageSet;
use crate::seed::with_torch_seed;
use std::path::Path;
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};
use xnas_core::{derive_seed, PluginError, PluginResult, SplitMix64};

/// (out channels, stride) of the four conv layers.
pub const LAYERS: [(i64, i64); 4] = [(32, 1), (64, 2), (64, 1), (128, 2)];
/// Width of the pooled features.
pub const FEATURES: i64 = 128;

/// The probe's body (conv–BN–ReLU × 4, pooled) with its own classifier.
pub struct Probe {
    pub vs: nn::VarStore,
    pub convs: Vec<nn::Conv2D>,
    pub bns: Vec<nn::BatchNorm>,
    pub fc: nn::Linear,
}

impl Probe {
    /// A freshly initialised probe; its weights depend on `seed` alone.
    pub fn new(channels: i64, classes: i64, seed: u64, device: Device) -> Probe {
        with_torch_seed(seed, || {
            let vs = nn::VarStore::new(device);
            let root = vs.root();
            let mut convs = Vec::new();
            let mut bns = Vec::new();
            let mut c_in = channels;
            for (i, &(c_out, stride)) in LAYERS.iter().enumerate() {
                let cfg = nn::ConvConfig {
                    stride,
                    padding: 1,
                    bias: false,
                    ..Default::default()
                };
                convs.push(nn::conv2d(&root / format!("conv{i}"), c_in, c_out, 3, cfg));
                bns.push(nn::batch_norm2d(
                    &root / format!("bn{i}"),
                    c_out,
                    Default::default(),
                ));
                c_in = c_out;
            }
            let fc = nn::linear(&root / "fc", FEATURES, classes, Default::default());
            Probe { vs, convs, bns, fc }
        })
    }

    /// Pooled features `[N, FEATURES]`; `train` selects batch statistics in BN.
    pub fn features(&self, x: &Tensor, train: bool) -> Tensor {
        let mut h = x.shallow_clone();
        for (c, b) in self.convs.iter().zip(&self.bns) {
            h = h.apply(c).apply_t(b, train).relu();
        }
        h.adaptive_avg_pool2d([1, 1]).flatten(1, -1)
    }

    pub fn logits(&self, x: &Tensor, train: bool) -> Tensor {
        self.features(x, train).apply(&self.fc)
    }

    /// The weights whose Fisher makes the embedding, in module order: each conv's weight, then
    /// its BN's scale (the classifier is excluded: its size depends on the task).
    pub fn embedded_weights(&self) -> Vec<Tensor> {
        self.convs
            .iter()
            .zip(&self.bns)
            .flat_map(|(c, b)| {
                let mut v = vec![c.ws.shallow_clone()];
                if let Some(w) = &b.ws {
                    v.push(w.shallow_clone());
                }
                v
            })
            .collect()
    }

    pub fn save(&self, path: &Path) -> PluginResult<()> {
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        self.vs
            .save(&tmp)
            .and_then(|()| std::fs::rename(&tmp, path).map_err(Into::into))
            .map_err(|e| {
                PluginError::io(format!("cannot save the probe to {}: {e}", path.display()))
            })
    }

    pub fn load(&mut self, path: &Path) -> PluginResult<()> {
        self.vs.load(path).map_err(|e| {
            PluginError::io(format!(
                "cannot read the probe {}: {e} (delete it to train it again)",
                path.display()
            ))
        })
    }
}

/// Sets libtorch's intra-op threads (process-wide; 0 leaves libtorch's default) and parses the
/// `device` parameter.
pub fn setup(threads: usize, device: &str) -> PluginResult<Device> {
    if threads > 0 {
        tch::set_num_threads(threads as i32);
    }
    crate::device::parse("device", device)
}

/// Checks the probe's input parameters: `channels` 1 or 3, `size` 8 to 256, `batch` ≥ 1.
pub fn check_input(channels: i64, size: i64, batch: usize) -> PluginResult<()> {
    if channels != 1 && channels != 3 {
        return Err(PluginError::invalid_params(format!(
            "`channels = {channels}`: the probe takes 1 (grey) or 3 (colour) channels"
        )));
    }
    if !(8..=256).contains(&size) {
        return Err(PluginError::invalid_params(format!(
            "`size = {size}`: the probe's input side must be between 8 and 256 pixels"
        )));
    }
    if batch == 0 {
        return Err(PluginError::invalid_params(
            "`batch = 0`: expected at least 1",
        ));
    }
    Ok(())
}

/// The first of `fields` that is 0, as the error naming it.
pub fn at_least_one(fields: &[(&str, usize)]) -> PluginResult<()> {
    match fields.iter().find(|(_, v)| *v == 0) {
        Some((k, _)) => Err(PluginError::invalid_params(format!(
            "`{k} = 0`: expected at least 1"
        ))),
        None => Ok(()),
    }
}

/// Images `[N, C, H, W]` brought to `channels` × `size` × `size`: grey images are repeated over
/// three channels, colour images averaged to grey, then bilinearly resized.
pub fn prepare(images: &Tensor, channels: i64, size: i64, device: Device) -> PluginResult<Tensor> {
    let c = images.size()[1];
    let x = match (c, channels) {
        (a, b) if a == b => images.shallow_clone(),
        (1, n) => images.expand([-1, n, -1, -1], false).contiguous(),
        (_, 1) => images.mean_dim(Some([1i64].as_slice()), true, Kind::Float),
        (a, b) => {
            return Err(PluginError::invalid_params(format!(
            "cannot bring {a}-channel images to the probe's {b} channels (use channels = 1 or 3)"
        )))
        }
    };
    let (h, w) = (x.size()[2], x.size()[3]);
    let x = if h == size && w == size {
        x
    } else {
        x.upsample_bilinear2d([size, size], false, None, None)
    };
    Ok(x.to_device(device))
}

/// The first `n` images of `set` as probe input on `device` ([`prepare`]), with their labels.
pub fn first(
    set: &ImageSet,
    n: i64,
    channels: i64,
    size: i64,
    device: Device,
) -> PluginResult<(Tensor, Tensor)> {
    let x = prepare(&set.images.narrow(0, 0, n), channels, size, device)?;
    Ok((x, set.labels.narrow(0, 0, n).to_device(device)))
}

/// Row indices `0..n` in an order drawn from `seed`.
pub fn permutation(n: usize, seed: u64) -> Vec<i64> {
    let mut rng = SplitMix64::new(seed);
    let mut p: Vec<i64> = (0..n as i64).collect();
    for i in (1..n).rev() {
        let j = rng.below(i as u32 + 1) as usize;
        p.swap(i, j);
    }
    p
}

/// Trains `logits_of` (a network over the parameters of `vs`) with Adam and cross-entropy on
/// `(x, y)` for `epochs` epochs of shuffled mini-batches; returns the last epoch's mean loss.
#[allow(clippy::too_many_arguments)]
pub fn train(
    vs: &nn::VarStore,
    logits_of: impl Fn(&Tensor) -> Tensor,
    x: &Tensor,
    y: &Tensor,
    epochs: usize,
    batch: usize,
    lr: f64,
    weight_decay: f64,
    seed: u64,
) -> PluginResult<f64> {
    let mut opt = nn::Adam {
        wd: weight_decay,
        ..Default::default()
    }
    .build(vs, lr)
    .map_err(|e| PluginError::other(format!("cannot build the optimiser: {e}")))?;
    let n = x.size()[0] as usize;
    let mut last = f64::NAN;
    for epoch in 0..epochs {
        let order = permutation(n, derive_seed(seed, epoch as u64));
        let (mut sum, mut count) = (0.0, 0usize);
        for chunk in order.chunks(batch.max(1)) {
            let idx = Tensor::from_slice(chunk).to_device(x.device());
            let loss = logits_of(&x.index_select(0, &idx))
                .cross_entropy_for_logits(&y.index_select(0, &idx));
            opt.backward_step(&loss);
            let l = loss.double_value(&[]);
            if !l.is_finite() {
                return Err(PluginError::evaluation(format!(
                    "training diverged at epoch {epoch} (loss {l})"
                )));
            }
            sum += l;
            count += 1;
        }
        last = sum / count.max(1) as f64;
    }
    Ok(last)
}

/// Fraction of `(x, y)` that `logits_of` classifies correctly (no gradients, in batches).
pub fn accuracy(
    logits_of: impl Fn(&Tensor) -> Tensor,
    x: &Tensor,
    y: &Tensor,
    batch: usize,
) -> f64 {
    let _guard = tch::no_grad_guard();
    let n = x.size()[0];
    let mut correct = 0i64;
    let mut start = 0;
    while start < n {
        let len = (batch as i64).min(n - start);
        let pred = logits_of(&x.narrow(0, start, len)).argmax(1, false);
        correct += pred
            .eq_tensor(&y.narrow(0, start, len))
            .sum(Kind::Int64)
            .int64_value(&[]);
        start += len;
    }
    correct as f64 / n.max(1) as f64
}
