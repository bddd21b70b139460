//! The plain head factory of the head protocol without libtorch: task-agnostic heads (a linear
//! layer or a small ReLU MLP) trained with Adam, whose state saves and restores exactly. Any
//! optimizer that takes heads uses it when the host passes none (no transfer plugin):
//!
//! ```
//! use xnas_core::{head_factory_box, HeadFactoryBox, OptimizerInit, PlainHeadConfig, PlainHeadFactory};
//! fn heads(init: &OptimizerInit) -> xnas_core::PluginResult<HeadFactoryBox> {
//!     Ok(match &init.heads {
//!         xnas_core::abi_stable::std_types::ROption::RSome(f) => f.clone(),
//!         _ => head_factory_box(PlainHeadFactory::new(PlainHeadConfig::default())?),
//!     })
//! }
//! ```
//!
//! Meant for the small surrogates and controllers of ask/tell optimizers (tens of inputs, a few
//! hundred rows); the tch library's `PlainHeadFactory` is the same protocol on libtorch. Layers
//! start as PyTorch's `nn.Linear` (U(−1/√fan_in, 1/√fan_in) for weights and biases) drawn from
//! `SplitMix64(spec.seed)`; Adam is `torch.optim.Adam`'s update with L2 weight decay added to the
//! gradient. Arithmetic is f32 with f64 sums, in a fixed order: the same seed and inputs give the
//! same outputs on every machine.

use crate::abi::{HeadBox, HeadSpec, Matrix};
use crate::adapters::head_box;
use crate::error::{PluginError, PluginResult};
use crate::params::{range, CheckParams};
use crate::seed::SplitMix64;
use crate::state;
use crate::traits::{Head, HeadFactory};
use serde::{Deserialize, Serialize};

/// The owner name of a plain head's saved state (see [`crate::state`]).
pub const STATE_OWNER: &str = "xnas-core plain head";
const STATE_VERSION: u32 = 1;

/// Training settings of the plain heads; an optimizer can take it as a `[…params.head]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlainHeadConfig {
    /// Adam learning rate.
    pub lr: f64,
    /// L2 weight decay, added to the gradient as in `torch.optim.Adam`.
    pub weight_decay: f64,
    /// Start the last layer at zero (the head outputs 0 until trained).
    pub zero_last_layer: bool,
}

impl Default for PlainHeadConfig {
    /// NAO's Adam settings (renqianluo/NAO_pytorch NAO_V1/train_search.py): lr 1e-3, decay 1e-4.
    fn default() -> Self {
        PlainHeadConfig {
            lr: 1e-3,
            weight_decay: 1e-4,
            zero_last_layer: false,
        }
    }
}

impl CheckParams for PlainHeadConfig {
    fn check(&self) -> PluginResult<()> {
        range::positive("lr", self.lr).map_err(PluginError::invalid_params)?;
        range::non_negative("weight_decay", self.weight_decay)
            .map_err(PluginError::invalid_params)?;
        Ok(())
    }
}

/// Makes [`PlainHead`]s; they ignore task ids, so the optimizer trains on the target only.
#[derive(Clone, Debug)]
pub struct PlainHeadFactory {
    config: PlainHeadConfig,
}

impl PlainHeadFactory {
    /// Refuses a non-positive learning rate or a negative weight decay (the message names the key).
    pub fn new(config: PlainHeadConfig) -> PluginResult<Self> {
        config.check()?;
        Ok(PlainHeadFactory { config })
    }

    /// The concrete head, for code that does not go through the ABI.
    pub fn make(&self, spec: &HeadSpec) -> PluginResult<PlainHead> {
        PlainHead::new(spec, &self.config)
    }
}

impl HeadFactory for PlainHeadFactory {
    fn describe(&self) -> String {
        "plain".into()
    }
    fn uses_all_tasks(&self) -> bool {
        false
    }
    fn make_head(&self, spec: &HeadSpec) -> PluginResult<HeadBox> {
        self.make(spec).map(head_box)
    }
}

/// One linear layer: `out = in · Wᵀ + b`, `W` row-major `outputs × inputs`, with its Adam moments
/// and accumulated gradients.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Layer {
    inputs: usize,
    outputs: usize,
    weight: Vec<f32>,
    bias: Vec<f32>,
    m_weight: Vec<f32>,
    v_weight: Vec<f32>,
    m_bias: Vec<f32>,
    v_bias: Vec<f32>,
    #[serde(skip)]
    grad_weight: Vec<f32>,
    #[serde(skip)]
    grad_bias: Vec<f32>,
}

impl Layer {
    fn new(inputs: usize, outputs: usize, zero: bool, rng: &mut SplitMix64) -> Self {
        let bound = 1.0 / (inputs as f64).sqrt();
        let mut draw = |n: usize| -> Vec<f32> {
            (0..n)
                .map(|_| {
                    if zero {
                        0.0
                    } else {
                        ((rng.next_f64() * 2.0 - 1.0) * bound) as f32
                    }
                })
                .collect()
        };
        let weight = draw(inputs * outputs);
        let bias = draw(outputs);
        Layer {
            inputs,
            outputs,
            m_weight: vec![0.0; weight.len()],
            v_weight: vec![0.0; weight.len()],
            m_bias: vec![0.0; outputs],
            v_bias: vec![0.0; outputs],
            grad_weight: vec![0.0; weight.len()],
            grad_bias: vec![0.0; outputs],
            weight,
            bias,
        }
    }

    /// `rows × inputs` → `rows × outputs`.
    fn forward(&self, x: &[f32], rows: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(rows * self.outputs);
        for r in 0..rows {
            let row = &x[r * self.inputs..(r + 1) * self.inputs];
            for o in 0..self.outputs {
                let w = &self.weight[o * self.inputs..(o + 1) * self.inputs];
                let dot: f64 = row.iter().zip(w).map(|(&a, &b)| a as f64 * b as f64).sum();
                out.push((dot + self.bias[o] as f64) as f32);
            }
        }
        out
    }

    /// Accumulates the parameters' gradients for `grad` (rows × outputs) at input `x` and
    /// returns the input's gradient (rows × inputs).
    fn backward(&mut self, x: &[f32], grad: &[f32], rows: usize) -> Vec<f32> {
        let mut grad_in = vec![0.0f32; rows * self.inputs];
        for o in 0..self.outputs {
            let mut gb = 0.0f64;
            for r in 0..rows {
                let g = grad[r * self.outputs + o];
                gb += g as f64;
                if g == 0.0 {
                    continue;
                }
                let row = &x[r * self.inputs..(r + 1) * self.inputs];
                let w = &self.weight[o * self.inputs..(o + 1) * self.inputs];
                let gw = &mut self.grad_weight[o * self.inputs..(o + 1) * self.inputs];
                let gi = &mut grad_in[r * self.inputs..(r + 1) * self.inputs];
                for i in 0..self.inputs {
                    gw[i] += g * row[i];
                    gi[i] += g * w[i];
                }
            }
            self.grad_bias[o] += gb as f32;
        }
        grad_in
    }

    fn zero_grad(&mut self) {
        self.grad_weight = vec![0.0; self.weight.len()];
        self.grad_bias = vec![0.0; self.outputs];
    }
}

/// Adam's update of one parameter tensor (`torch.optim.Adam`, L2 decay added to the gradient).
fn adam(
    config: &PlainHeadConfig,
    step: u64,
    param: &mut [f32],
    grad: &[f32],
    m: &mut [f32],
    v: &mut [f32],
) {
    const BETA1: f64 = 0.9;
    const BETA2: f64 = 0.999;
    const EPS: f64 = 1e-8;
    let bias1 = 1.0 - BETA1.powi(step as i32);
    let bias2 = 1.0 - BETA2.powi(step as i32);
    for i in 0..param.len() {
        let g = grad[i] as f64 + config.weight_decay * param[i] as f64;
        let mi = BETA1 * m[i] as f64 + (1.0 - BETA1) * g;
        let vi = BETA2 * v[i] as f64 + (1.0 - BETA2) * g * g;
        m[i] = mi as f32;
        v[i] = vi as f32;
        let update = config.lr * (mi / bias1) / ((vi / bias2).sqrt() + EPS);
        param[i] = (param[i] as f64 - update) as f32;
    }
}

/// What a plain head saves: its shape (checked on load), layers with Adam's moments, and steps.
#[derive(Serialize, Deserialize)]
struct Saved {
    name: String,
    layers: Vec<Layer>,
    steps: u64,
}

/// A task-agnostic head: `in_features → hidden… → out_features`, ReLU between layers.
#[derive(Debug)]
pub struct PlainHead {
    name: String,
    config: PlainHeadConfig,
    layers: Vec<Layer>,
    steps: u64,
    /// The last forward pass: each layer's input (after the previous ReLU) and the row count.
    last: Option<(Vec<Vec<f32>>, usize)>,
}

impl PlainHead {
    pub fn new(spec: &HeadSpec, config: &PlainHeadConfig) -> PluginResult<Self> {
        let name = spec.name.to_string();
        config
            .check()
            .map_err(|e| PluginError::invalid_params(format!("head `{name}`: {}", e.message())))?;
        let widths: Vec<usize> = std::iter::once(spec.in_features)
            .chain(spec.hidden.iter().copied())
            .chain(std::iter::once(spec.out_features))
            .map(|w| w as usize)
            .collect();
        if widths.contains(&0) {
            return Err(PluginError::invalid_params(format!(
                "head `{name}`: every width must be positive (in {}, hidden {:?}, out {})",
                spec.in_features,
                spec.hidden.as_slice(),
                spec.out_features
            )));
        }
        let mut rng = SplitMix64::new(spec.seed);
        let count = widths.len() - 1;
        let layers = widths
            .windows(2)
            .enumerate()
            .map(|(i, w)| {
                Layer::new(
                    w[0],
                    w[1],
                    config.zero_last_layer && i + 1 == count,
                    &mut rng,
                )
            })
            .collect();
        Ok(PlainHead {
            name,
            config: config.clone(),
            layers,
            steps: 0,
            last: None,
        })
    }

    fn what(&self, call: &str) -> String {
        format!("head `{}` {call}", self.name)
    }

    fn shape(&self) -> (usize, usize) {
        (
            self.layers[0].inputs,
            self.layers[self.layers.len() - 1].outputs,
        )
    }
}

impl Head for PlainHead {
    fn forward(&mut self, features: &Matrix, _tasks: &[u32], _train: bool) -> PluginResult<Matrix> {
        let (inputs, outputs) = self.shape();
        if features.cols as usize != inputs
            || features.data.len() != features.rows as usize * inputs
        {
            return Err(PluginError::other(format!(
                "{}: features are {}×{}, the head takes {inputs} columns",
                self.what("forward"),
                features.rows,
                features.cols
            )));
        }
        let rows = features.rows as usize;
        let mut inputs_seen = Vec::with_capacity(self.layers.len());
        let mut x = features.data.to_vec();
        for (i, layer) in self.layers.iter().enumerate() {
            let mut y = layer.forward(&x, rows);
            if i + 1 < self.layers.len() {
                y.iter_mut().for_each(|v| *v = v.max(0.0));
            }
            inputs_seen.push(std::mem::replace(&mut x, y));
        }
        self.last = Some((inputs_seen, rows));
        Ok(Matrix::new(rows, outputs, x))
    }

    fn backward(&mut self, grad_output: &Matrix) -> PluginResult<Matrix> {
        let what = self.what("backward");
        let (inputs_seen, rows) = self.last.take().ok_or_else(|| {
            PluginError::other(format!("{what}: called without a forward pass before it"))
        })?;
        let (inputs, outputs) = self.shape();
        if grad_output.rows as usize != rows || grad_output.cols as usize != outputs {
            return Err(PluginError::other(format!(
                "{what}: the gradient is {}×{}, the last forward gave {rows}×{outputs}",
                grad_output.rows, grad_output.cols
            )));
        }
        let mut grad = grad_output.data.to_vec();
        for i in (0..self.layers.len()).rev() {
            let x = &inputs_seen[i];
            grad = self.layers[i].backward(x, &grad, rows);
            if i > 0 {
                // Through the ReLU that made this layer's input.
                for (g, &v) in grad.iter_mut().zip(x) {
                    if v <= 0.0 {
                        *g = 0.0;
                    }
                }
            }
        }
        Ok(Matrix::new(rows, inputs, grad))
    }

    fn step(&mut self) -> PluginResult<()> {
        self.steps += 1;
        for layer in &mut self.layers {
            let Layer {
                weight,
                bias,
                m_weight,
                v_weight,
                m_bias,
                v_bias,
                grad_weight,
                grad_bias,
                ..
            } = layer;
            adam(
                &self.config,
                self.steps,
                weight,
                grad_weight,
                m_weight,
                v_weight,
            );
            adam(&self.config, self.steps, bias, grad_bias, m_bias, v_bias);
            layer.zero_grad();
        }
        Ok(())
    }

    fn save_state(&self) -> PluginResult<Vec<u8>> {
        let saved = Saved {
            name: self.name.clone(),
            layers: self.layers.clone(),
            steps: self.steps,
        };
        state::encode(STATE_OWNER, STATE_VERSION, &saved)
    }

    fn load_state(&mut self, blob: &[u8]) -> PluginResult<()> {
        let mut saved: Saved = state::decode(STATE_OWNER, STATE_VERSION, blob)
            .map_err(|e| PluginError::data(format!("{}: {}", self.what("load_state"), e)))?;
        let shape = |layers: &[Layer]| -> Vec<(usize, usize)> {
            layers.iter().map(|l| (l.inputs, l.outputs)).collect()
        };
        let consistent = saved.layers.iter().all(|l| {
            let n = l.inputs * l.outputs;
            [l.weight.len(), l.m_weight.len(), l.v_weight.len()] == [n, n, n]
                && [l.bias.len(), l.m_bias.len(), l.v_bias.len()] == [l.outputs; 3]
        });
        if !consistent || shape(&saved.layers) != shape(&self.layers) {
            return Err(PluginError::data(format!(
                "{}: the state is of head `{}` with layers {:?}, this head has layers {:?} \
                 (another head's state?)",
                self.what("load_state"),
                saved.name,
                shape(&saved.layers),
                shape(&self.layers)
            )));
        }
        // A restored head starts a new step: no pending pass, no stale gradients.
        saved.layers.iter_mut().for_each(Layer::zero_grad);
        self.layers = saved.layers;
        self.steps = saved.steps;
        self.last = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
