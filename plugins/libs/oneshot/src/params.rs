//! Range checks the one-shot optimizers' parameters share. Each returns a message that starts
//! with the key in backticks (the host reports it at that key's line).

use xnas_core::range::{non_negative, positive};
use xnas_core::PluginError;

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
