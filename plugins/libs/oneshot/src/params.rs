//! Range checks the one-shot optimizers' parameters share. Each returns a message that starts
//! with the key in backticks (the host reports it at that key's line).

use crate::adam::AdamConfig;
use crate::stage::{ArchConfig, Order, Sampling};
use xnas_core::range::{at_least_one, non_negative, positive};
use xnas_core::PluginError;
pub use xnas_core::WeightRecipe;

/// The weight recipe's keys (`epochs`, `batch_size`, `learning_rate`, `learning_rate_min`,
/// `momentum`, `weight_decay`, `grad_clip`, `train_portion`), checked alike in every optimizer.
pub fn check_recipe(r: &WeightRecipe) -> Result<(), String> {
    at_least_one("epochs", r.epochs as usize)?;
    at_least_one("batch_size", r.batch_size as usize)?;
    lr_range(
        "learning_rate",
        r.learning_rate,
        "learning_rate_min",
        r.learning_rate_min,
    )?;
    fraction("momentum", r.momentum)?;
    non_negative("weight_decay", r.weight_decay)?;
    non_negative("grad_clip", r.grad_clip)?;
    open_unit("train_portion", r.train_portion)?;
    Ok(())
}

/// Implements `recipe(&self) -> WeightRecipe` and `arch_keys(&self) -> ArchKeys` for a parameter
/// struct whose fields are the shared keys by their names (`batch_size`, `learning_rate`,
/// `learning_rate_min`, `momentum`, `weight_decay`, `grad_clip`, `epochs`, `train_portion`;
/// `arch_learning_rate`, `arch_betas`, `arch_weight_decay`, `arch_grad_clip`, `init_scale`), so
/// that every one-shot optimizer maps them alike.
#[macro_export]
macro_rules! shared_keys {
    ($params:ty) => {
        impl $params {
            /// The weight recipe the supernet applies.
            pub fn recipe(&self) -> $crate::params::WeightRecipe {
                $crate::params::WeightRecipe {
                    batch_size: self.batch_size,
                    learning_rate: self.learning_rate,
                    learning_rate_min: self.learning_rate_min,
                    momentum: self.momentum,
                    weight_decay: self.weight_decay,
                    grad_clip: self.grad_clip,
                    epochs: self.epochs,
                    train_portion: self.train_portion,
                }
            }

            /// α's keys.
            pub fn arch_keys(&self) -> $crate::params::ArchKeys {
                $crate::params::ArchKeys {
                    learning_rate: self.arch_learning_rate,
                    betas: self.arch_betas,
                    weight_decay: self.arch_weight_decay,
                    grad_clip: self.arch_grad_clip,
                    init_scale: self.init_scale,
                }
            }
        }
    };
}

/// α's keys: `arch_learning_rate`, `arch_betas`, `arch_weight_decay`, `arch_grad_clip`,
/// `init_scale`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ArchKeys {
    pub learning_rate: f64,
    pub betas: [f64; 2],
    pub weight_decay: f64,
    pub grad_clip: f64,
    pub init_scale: f64,
}

impl ArchKeys {
    pub fn check(&self) -> Result<(), String> {
        positive("arch_learning_rate", self.learning_rate)?;
        betas("arch_betas", self.betas)?;
        non_negative("arch_weight_decay", self.weight_decay)?;
        non_negative("arch_grad_clip", self.grad_clip)?;
        non_negative("init_scale", self.init_scale)?;
        Ok(())
    }

    /// α's Adam (ε is PyTorch's 1e-8) with this gradient order and sampling.
    pub fn config(&self, order: Order, sampling: Sampling) -> ArchConfig {
        ArchConfig {
            adam: AdamConfig {
                lr: self.learning_rate,
                beta1: self.betas[0],
                beta2: self.betas[1],
                eps: 1e-8,
                weight_decay: self.weight_decay,
            },
            grad_clip: self.grad_clip,
            init_scale: self.init_scale,
            order,
            sampling,
        }
    }
}

/// A check's message as an `INVALID_PARAMS` error.
pub fn invalid(message: String) -> PluginError {
    PluginError::invalid_params(message)
}

/// A number in `[0, 1)`.
pub fn fraction(key: &str, v: f64) -> Result<f64, String> {
    if (0.0..1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("`{key}` is {v}: it must be at least 0 and below 1"))
    }
}

/// A number strictly between 0 and 1.
pub fn open_unit(key: &str, v: f64) -> Result<f64, String> {
    if v > 0.0 && v < 1.0 {
        Ok(v)
    } else {
        Err(format!(
            "`{key}` is {v}: it must be between 0 and 1 (both excluded)"
        ))
    }
}

/// Adam's `(β1, β2)`, each in `[0, 1)`.
pub fn betas(key: &str, v: [f64; 2]) -> Result<[f64; 2], String> {
    if v.iter().all(|b| (0.0..1.0).contains(b)) {
        Ok(v)
    } else {
        Err(format!(
            "`{key}` is {v:?}: each beta must be at least 0 and below 1"
        ))
    }
}

/// A learning-rate pair: `lr` positive, `min` in `[0, lr]`.
pub fn lr_range(lr_key: &str, lr: f64, min_key: &str, min: f64) -> Result<(), String> {
    positive(lr_key, lr)?;
    non_negative(min_key, min)?;
    if min > lr {
        return Err(format!(
            "`{min_key}` is {min}: it must not exceed `{lr_key}` ({lr})"
        ));
    }
    Ok(())
}

/// A Gumbel temperature range: both positive, `min ≤ max`.
pub fn temperatures(max: f64, min: f64) -> Result<(), String> {
    positive("tau_max", max)?;
    positive("tau_min", min)?;
    if min > max {
        return Err(format!(
            "`tau_min` is {min}: it must not exceed `tau_max` ({max})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_key() {
        assert_eq!(fraction("momentum", 0.9), Ok(0.9));
        assert_eq!(
            fraction("momentum", 1.0).unwrap_err(),
            "`momentum` is 1: it must be at least 0 and below 1"
        );
        assert!(open_unit("train_portion", 0.0).is_err());
        assert!(open_unit("train_portion", f64::NAN).is_err());
        assert_eq!(open_unit("train_portion", 0.5), Ok(0.5));
        assert_eq!(
            betas("arch_betas", [0.5, 1.0]).unwrap_err(),
            "`arch_betas` is [0.5, 1.0]: each beta must be at least 0 and below 1"
        );
        assert_eq!(
            lr_range("learning_rate", 0.01, "learning_rate_min", 0.1).unwrap_err(),
            "`learning_rate_min` is 0.1: it must not exceed `learning_rate` (0.01)"
        );
        assert!(lr_range("learning_rate", 0.0, "learning_rate_min", 0.0).is_err());
        assert!(lr_range("learning_rate", 0.025, "learning_rate_min", 0.0).is_ok());
        assert!(temperatures(1.0, 2.0)
            .unwrap_err()
            .starts_with("`tau_min` is 2"));
        assert!(temperatures(1.0, 0.0).is_err());
    }
}
