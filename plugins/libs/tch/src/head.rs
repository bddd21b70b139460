//! The plain head factory: task-agnostic MLP heads, trained on the target's observations only.
//! (The transfer plugin's factory gives universal + residual heads instead; same protocol.)
//!
//! A head keeps the autograd graph of its last `forward`, from a leaf copy of the features to the
//! outputs, so `backward` can return the gradient w.r.t. the features while accumulating the
//! gradients of its own parameters; `step` applies those with Adam. The graph is kept whatever
//! `train` says: NAO's gradient ascent (NAO_pytorch NAO_V1/encoder.py
//! `infer`) asks for feature gradients in eval mode.

use crate::adam::{Adam, AdamConfig};
use crate::error::TchContext;
use crate::matrix::{check_shape, to_matrix, to_tensor};
use crate::mlp::{Mlp, MlpConfig};
use crate::snapshot;
use serde::Deserialize;
use tch::{nn, Device, Kind, Tensor};
use xnas_core::{
    head_box, Head, HeadBox, HeadFactory, HeadSpec, Matrix, PluginError, PluginResult,
};

/// Training settings of the plain heads; an optimizer can take it as a `[…params.head]` table.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HeadConfig {
    /// Adam learning rate.
    pub lr: f64,
    /// L2 weight decay, added to the gradient as in `torch.optim.Adam`.
    pub weight_decay: f64,
    /// Dropout after each hidden layer while training (0 = none).
    pub dropout: f64,
    /// Start the last layer at zero (the head outputs 0 until trained).
    pub zero_last_layer: bool,
}

impl Default for HeadConfig {
    fn default() -> Self {
        let adam = AdamConfig::default();
        HeadConfig {
            lr: adam.lr,
            weight_decay: adam.weight_decay,
            dropout: 0.0,
            zero_last_layer: false,
        }
    }
}

/// Makes [`PlainHead`]s; they ignore task ids, so the optimizer trains on the target only.
#[derive(Clone, Debug)]
pub struct PlainHeadFactory {
    config: HeadConfig,
    device: Device,
}

impl PlainHeadFactory {
    /// `device` comes from [`crate::device::parse`].
    pub fn new(config: HeadConfig, device: Device) -> Self {
        crate::device::init();
        PlainHeadFactory { config, device }
    }

    /// The concrete head, for code that does not go through the ABI.
    pub fn make(&self, spec: &HeadSpec) -> PluginResult<PlainHead> {
        PlainHead::new(spec, &self.config, self.device)
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

/// The last forward pass, kept for `backward`.
struct Pass {
    input: Tensor,
    output: Tensor,
}

/// An MLP head (`HeadSpec`: in_features → hidden → out_features, seeded by `spec.seed`).
pub struct PlainHead {
    name: String,
    in_features: usize,
    device: Device,
    vs: nn::VarStore,
    mlp: Mlp,
    adam: Adam,
    last: Option<Pass>,
}

impl PlainHead {
    pub fn new(spec: &HeadSpec, config: &HeadConfig, device: Device) -> PluginResult<Self> {
        let name = spec.name.to_string();
        let bad = |what: &str| PluginError::invalid_params(format!("head `{name}`: {what}"));
        if !(config.lr > 0.0 && config.lr.is_finite()) {
            return Err(bad(&format!("lr must be positive, got {}", config.lr)));
        }
        if !(config.weight_decay >= 0.0 && config.weight_decay.is_finite()) {
            return Err(bad(&format!(
                "weight_decay must be ≥ 0, got {}",
                config.weight_decay
            )));
        }
        let mlp_config = MlpConfig {
            in_features: spec.in_features as usize,
            hidden: spec.hidden.iter().map(|&h| h as usize).collect(),
            out_features: spec.out_features as usize,
            zero_last_layer: config.zero_last_layer,
            dropout: config.dropout,
        };
        let vs = nn::VarStore::new(device);
        let mlp = Mlp::new(&vs.root(), &mlp_config, spec.seed).map_err(|e| bad(e.message()))?;
        let adam = Adam::new(
            &vs,
            AdamConfig {
                lr: config.lr,
                weight_decay: config.weight_decay,
                ..AdamConfig::default()
            },
        )?;
        Ok(PlainHead {
            name,
            in_features: mlp_config.in_features,
            device,
            vs,
            mlp,
            adam,
            last: None,
        })
    }

    fn what(&self, call: &str) -> String {
        format!("head `{}` {call}", self.name)
    }

    /// Parameters and Adam state, by name.
    fn named_state(&self) -> PluginResult<Vec<(String, Tensor)>> {
        let mut named = snapshot::named_variables(&self.vs, "param.");
        named.extend(self.adam.state()?);
        Ok(named)
    }
}

/// A leaf copy of a head's input features on `device`: its `.grad` after [`backpropagate`] is
/// the feature gradient `Head::backward` returns.
pub fn leaf_input(features: &Matrix, device: Device, what: &str) -> PluginResult<Tensor> {
    to_tensor(features, device)?
        .f_set_requires_grad(true)
        .context(what)
}

/// `Head::backward` of a forward pass from the leaf `input` to `output`: accumulates the
/// parameters' gradients for `grad_output` (rows × outputs) and returns the features' gradient.
pub fn backpropagate(
    input: &Tensor,
    output: &Tensor,
    grad_output: &Matrix,
    device: Device,
    what: &str,
) -> PluginResult<Matrix> {
    let (rows, outputs) = (output.size()[0], output.size()[1]);
    check_shape(
        grad_output,
        Some(rows as usize),
        Some(outputs as usize),
        what,
    )?;
    let grad = to_tensor(grad_output, device)?;
    // Σ output ⊙ grad_output has gradient grad_output w.r.t. the outputs, so its backward is the
    // vector-Jacobian product: into the parameters' .grad (accumulating) and the input's.
    output
        .f_mul(&grad)
        .and_then(|t| t.f_sum(Kind::Float))
        .and_then(|t| t.f_backward())
        .context(what)?;
    let feature_grad = input.grad();
    if !feature_grad.defined() {
        return Ok(Matrix::zeros(rows as usize, input.size()[1] as usize));
    }
    to_matrix(&feature_grad)
}

impl Head for PlainHead {
    fn forward(&mut self, features: &Matrix, _tasks: &[u32], train: bool) -> PluginResult<Matrix> {
        let what = self.what("forward");
        check_shape(features, None, Some(self.in_features), &what)?;
        let input = leaf_input(features, self.device, &what)?;
        let output = self.mlp.forward(&input, train)?;
        let result = to_matrix(&output)?;
        self.last = Some(Pass { input, output });
        Ok(result)
    }

    fn backward(&mut self, grad_output: &Matrix) -> PluginResult<Matrix> {
        let what = self.what("backward");
        let pass = self.last.take().ok_or_else(|| {
            PluginError::other(format!("{what}: called without a forward pass before it"))
        })?;
        backpropagate(&pass.input, &pass.output, grad_output, self.device, &what)
    }

    fn step(&mut self) -> PluginResult<()> {
        self.adam.step()
    }

    fn save_state(&self) -> PluginResult<Vec<u8>> {
        snapshot::to_bytes(&self.named_state()?, &self.what("save_state"))
    }

    fn load_state(&mut self, state: &[u8]) -> PluginResult<()> {
        let what = self.what("load_state");
        let saved = snapshot::from_bytes(state, self.device, &what, "head state")?;
        // Check every parameter, then Adam's state, before changing anything.
        let copies = snapshot::match_saved(
            snapshot::named_variables(&self.vs, "param."),
            &saved,
            &what,
            "this head",
            " (another head's state?)",
        )?;
        self.adam
            .load_state(&saved)
            .map_err(|e| PluginError::data(format!("{what}: {}", e.message())))?;
        snapshot::restore(copies, &what)?;
        // A restored head starts a new step: no pending pass, no stale gradients.
        self.last = None;
        self.adam.zero_grad()
    }
}
