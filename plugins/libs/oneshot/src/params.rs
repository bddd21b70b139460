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

/// Declares the parameter struct of an optimizer of the P-DARTS family (`pdarts`, `ws-darts`):
/// the fields given, each with its default, plus the keys every P-DARTS stage and warm-started
/// DARTS search share, with P-DARTS's defaults (chenxin061/pdarts `train_search.py`; Grobelnik &
/// Vanschoren use the same recipe for TAS and the warm-started search). Unknown keys are refused.
/// It also implements [`shared_keys!`] and:
/// * `check_search_keys()`: the shared keys' checks (call it after the struct's own);
/// * `arch()`: first-order, softmax α (P-DARTS has no second order);
/// * `plan(p0)`: the stage plan with P-DARTS's skip-dropout schedule from the initial rate `p0`;
/// * `rule()`: P-DARTS's derivation, at most `max_skips` skip connections.
#[macro_export]
macro_rules! pdarts_family_params {
    (
        $(#[$outer:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty = $default:expr, )*
        }
    ) => {
        $(#[$outer])*
        #[derive(Clone, Debug, PartialEq, serde::Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
            pub dropout_schedule: $crate::DropoutSchedule,
            /// The rate of the skip dropout's exponential decay after the weights-only epochs.
            pub dropout_decay: f64,
            /// Epochs of the search (of each stage).
            pub epochs: u32,
            /// Epochs at the start (of each stage) that train w only.
            pub epochs_weights_only: u32,
            /// Epochs at the end (of each stage) whose α split is evaluated.
            pub evaluate_last: u32,
            pub batch_size: u32,
            pub learning_rate: f64,
            pub learning_rate_min: f64,
            pub momentum: f64,
            pub weight_decay: f64,
            pub grad_clip: f64,
            pub train_portion: f64,
            pub arch_learning_rate: f64,
            pub arch_betas: [f64; 2],
            pub arch_weight_decay: f64,
            pub arch_grad_clip: f64,
            pub init_scale: f64,
            /// M: skip connections allowed in the derived cell's skip cell (the normal cell).
            pub max_skips: u32,
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    $( $field: $default, )*
                    dropout_schedule: $crate::DropoutSchedule::Reference,
                    dropout_decay: 0.2,
                    epochs: 25,
                    epochs_weights_only: 10,
                    evaluate_last: 5,
                    batch_size: 96,
                    learning_rate: 0.025,
                    learning_rate_min: 0.0,
                    momentum: 0.9,
                    weight_decay: 3e-4,
                    grad_clip: 5.0,
                    train_portion: 0.5,
                    arch_learning_rate: 6e-4,
                    arch_betas: [0.5, 0.999],
                    arch_weight_decay: 1e-3,
                    arch_grad_clip: 5.0,
                    init_scale: 1e-3,
                    max_skips: 2,
                }
            }
        }

        $crate::shared_keys!($name);

        impl $name {
            /// The shared keys' checks.
            fn check_search_keys(&self) -> Result<(), String> {
                ::xnas_core::range::non_negative("dropout_decay", self.dropout_decay)?;
                $crate::params::check_recipe(&self.recipe())?;
                if self.epochs_weights_only >= self.epochs {
                    return Err(format!(
                        "`epochs_weights_only` is {}: it must be below `epochs` ({}), or α never trains",
                        self.epochs_weights_only, self.epochs
                    ));
                }
                self.arch_keys().check()
            }

            /// First order, softmax: P-DARTS has no second order.
            pub fn arch(&self) -> $crate::ArchConfig {
                self.arch_keys()
                    .config($crate::Order::First, $crate::Sampling::Softmax)
            }

            /// A stage's plan, its skip dropout P-DARTS's schedule from the initial rate `p0`
            /// (`xnas_oneshot::skip_dropout`).
            pub fn plan(&self, p0: f64) -> $crate::StagePlan {
                $crate::StagePlan {
                    epochs: self.epochs,
                    weights_only: self.epochs_weights_only,
                    evaluate_last: self.evaluate_last,
                    skip_dropout: $crate::skip_dropout(
                        p0,
                        self.epochs,
                        self.epochs_weights_only,
                        self.dropout_decay,
                        self.dropout_schedule,
                    ),
                }
            }

            /// P-DARTS's derivation: at most `max_skips` skip connections.
            pub fn rule(&self) -> $crate::Rule {
                $crate::Rule {
                    max_skips: Some(self.max_skips),
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
