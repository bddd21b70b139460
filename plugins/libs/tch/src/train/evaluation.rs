//! From an evaluation request to a trained network's result: what the trainable spaces share
//! around [`super::train`].

use super::{TrainError, TrainOutcome};
use tch::Device;
use xnas_core::abi_stable::std_types::ROption;
use xnas_core::{EvalResult, PluginError, PluginResult};

/// The epochs an evaluation trains: the request's budget read as epochs (rounded), else
/// `default`. A budget below 1 is refused, naming the space.
pub fn epochs_of(space: &str, budget: ROption<f64>, default: usize) -> PluginResult<usize> {
    match budget {
        ROption::RSome(b) if b.is_finite() && b >= 1.0 => Ok(b.round() as usize),
        ROption::RSome(b) => Err(PluginError::evaluation(format!(
            "budget {b}: {space} reads a budget as epochs, at least 1"
        ))),
        ROption::RNone => Ok(default),
    }
}

impl From<TrainError> for PluginError {
    /// A network that cannot be built is a bad architecture; a checkpoint folder that cannot be
    /// used is a bad parameter; a divergence or a libtorch failure fails the trial.
    fn from(e: TrainError) -> Self {
        match e {
            TrainError::Config(m) => PluginError::invalid_architecture(m),
            TrainError::Checkpoint(m) => PluginError::invalid_params(format!("checkpoint {m}")),
            other => PluginError::evaluation(other.to_string()),
        }
    }
}

/// The evaluation's result: the validation accuracy as the metric, the test accuracy, the
/// per-epoch curve, and `parameters`, `flops`, `epochs`, `train_seconds`, `train_loss` and
/// `device` in `extras`.
pub fn eval_result(out: TrainOutcome, epochs: usize, device: Device) -> EvalResult {
    let extras = serde_json::json!({
        "parameters": out.parameters,
        "flops": out.flops,
        "epochs": epochs,
        "train_seconds": out.seconds,
        "train_loss": out.train_loss,
        "device": crate::device::name(device),
    });
    EvalResult {
        metric: out.valid_accuracy,
        test_metric: out.test_accuracy.into(),
        cost_seconds: out.seconds,
        curve: out.curve.into(),
        extras: extras.to_string().into(),
    }
}
