//! A multi-layer perceptron on a tch `VarStore` path: Linear → ReLU → … → Linear.
//!
//! Weights start as PyTorch's `nn.Linear` does, U(−1/√fan_in, 1/√fan_in) for weights and biases,
//! but drawn from `SplitMix64(seed)` in Rust, so they depend on the seed alone. The last layer can
//! start at zero (XferNAS's target residual: `f_target = f_universal` before any target data).

use crate::error::TchContext;
use tch::{nn, Tensor};
use xnas_core::{PluginError, PluginResult, SplitMix64};

/// Shape of an MLP.
#[derive(Clone, Debug, PartialEq)]
pub struct MlpConfig {
    pub in_features: usize,
    /// Hidden widths; empty = a single linear layer.
    pub hidden: Vec<usize>,
    pub out_features: usize,
    /// Start the last layer (weights and bias) at zero, so the MLP outputs 0 until trained.
    pub zero_last_layer: bool,
    /// Dropout probability after each hidden ReLU, active only when `forward` is told `train`.
    pub dropout: f64,
}

/// One `Linear` layer's parameters.
#[derive(Debug)]
struct Layer {
    weight: Tensor,
    bias: Tensor,
}

#[derive(Debug)]
pub struct Mlp {
    layers: Vec<Layer>,
    dropout: f64,
}

impl Mlp {
    /// Creates the layers' variables under `path` (`layer0.weight`, `layer0.bias`, ...).
    pub fn new(path: &nn::Path, config: &MlpConfig, seed: u64) -> PluginResult<Self> {
        crate::device::init();
        if config.in_features == 0 || config.out_features == 0 || config.hidden.contains(&0) {
            return Err(PluginError::invalid_params(format!(
                "mlp: every width must be positive (in {}, hidden {:?}, out {})",
                config.in_features, config.hidden, config.out_features
            )));
        }
        if !(0.0..1.0).contains(&config.dropout) {
            return Err(PluginError::invalid_params(format!(
                "mlp: dropout must be in [0, 1), got {}",
                config.dropout
            )));
        }
        let widths: Vec<usize> = std::iter::once(config.in_features)
            .chain(config.hidden.iter().copied())
            .chain(std::iter::once(config.out_features))
            .collect();
        let mut rng = SplitMix64::new(seed);
        let count = widths.len() - 1;
        let mut layers = Vec::with_capacity(count);
        for (i, pair) in widths.windows(2).enumerate() {
            let (fan_in, fan_out) = (pair[0], pair[1]);
            let zero = config.zero_last_layer && i + 1 == count;
            let bound = if zero {
                0.0
            } else {
                1.0 / (fan_in as f64).sqrt()
            };
            let layer = path.sub(format!("layer{i}"));
            let mut init = |name: &str, dims: &[usize]| -> PluginResult<Tensor> {
                let n: usize = dims.iter().product();
                let values: Vec<f32> = (0..n)
                    .map(|_| ((rng.next_f64() * 2.0 - 1.0) * bound) as f32)
                    .collect();
                let dims: Vec<i64> = dims.iter().map(|&d| d as i64).collect();
                let value = Tensor::f_from_slice(&values)
                    .and_then(|t| t.f_reshape(&dims))
                    .and_then(|t| layer.f_var_copy(name, &t))
                    .context("mlp: creating parameters")?;
                Ok(value)
            };
            let weight = init("weight", &[fan_out, fan_in])?;
            let bias = init("bias", &[fan_out])?;
            layers.push(Layer { weight, bias });
        }
        Ok(Mlp {
            layers,
            dropout: config.dropout,
        })
    }

    /// `xs` is `[batch, in_features]`; returns `[batch, out_features]`.
    pub fn forward(&self, xs: &Tensor, train: bool) -> PluginResult<Tensor> {
        let mut h = xs.shallow_clone();
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            h = h
                .f_linear(&layer.weight, Some(&layer.bias))
                .context("mlp forward")?;
            if i < last {
                h = h.f_relu().context("mlp forward")?;
                if self.dropout > 0.0 && train {
                    h = h.f_dropout(self.dropout, train).context("mlp forward")?;
                }
            }
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn config(hidden: Vec<usize>, zero_last_layer: bool) -> MlpConfig {
        MlpConfig {
            in_features: 3,
            hidden,
            out_features: 2,
            zero_last_layer,
            dropout: 0.0,
        }
    }

    fn values(t: &Tensor) -> Vec<f32> {
        Vec::<f32>::try_from(t.flatten(0, -1)).unwrap()
    }

    #[test]
    fn shapes_names_and_seeded_init() {
        let vs = nn::VarStore::new(Device::Cpu);
        let mlp = Mlp::new(&vs.root().sub("m"), &config(vec![4, 5], false), 1).unwrap();
        let mut names: Vec<_> = vs.variables().into_keys().collect();
        names.sort();
        assert_eq!(
            names,
            [
                "m.layer0.bias",
                "m.layer0.weight",
                "m.layer1.bias",
                "m.layer1.weight",
                "m.layer2.bias",
                "m.layer2.weight"
            ]
        );
        let x = Tensor::ones([7, 3], (Kind::Float, Device::Cpu));
        assert_eq!(mlp.forward(&x, false).unwrap().size(), vec![7, 2]);
        // Same seed, same weights; another seed, other weights; all within the PyTorch bound.
        let w = |seed| {
            let vs = nn::VarStore::new(Device::Cpu);
            Mlp::new(&vs.root(), &config(vec![4], false), seed).unwrap();
            values(&vs.variables()["layer0.weight"])
        };
        assert_eq!(w(9), w(9));
        assert_ne!(w(9), w(10));
        let bound = 1.0 / 3f32.sqrt();
        assert!(w(9).iter().all(|v| v.abs() <= bound));
    }

    #[test]
    fn zero_last_layer_outputs_zero_until_trained() {
        let vs = nn::VarStore::new(Device::Cpu);
        let mlp = Mlp::new(&vs.root(), &config(vec![4], true), 3).unwrap();
        let x = Tensor::randn([5, 3], (Kind::Float, Device::Cpu));
        assert!(values(&mlp.forward(&x, true).unwrap())
            .iter()
            .all(|&v| v == 0.0));
        // Only the last layer is zero.
        assert!(values(&vs.variables()["layer0.weight"])
            .iter()
            .any(|&v| v != 0.0));
    }

    #[test]
    fn bad_widths_are_refused() {
        let vs = nn::VarStore::new(Device::Cpu);
        assert!(Mlp::new(&vs.root(), &config(vec![0], false), 0).is_err());
        let mut c = config(vec![], false);
        c.dropout = 1.0;
        assert!(Mlp::new(&vs.root(), &c, 0).is_err());
    }
}
