use crate::{PluginError, PluginResult};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};

/// Range checks of a parameter type that serde's attributes cannot express.
pub trait CheckParams {
    /// An `INVALID_PARAMS` error whose message starts with the key in backticks
    /// (`` `k = 2`: at least 3 ``), so that the host reports it at that key's line.
    fn check(&self) -> PluginResult<()>;
}

/// Parameters that are checked as they are parsed. Register a plugin with `Checked<P>` as its
/// parameter type and the host's parameter check (`xnas validate`, before any run) refuses what
/// [`CheckParams::check`] refuses, not only the constructor at `xnas run`.
#[derive(Debug, Clone)]
pub struct Checked<P>(pub P);

impl<'de, P: Deserialize<'de> + CheckParams> Deserialize<'de> for Checked<P> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let p = P::deserialize(d)?;
        p.check().map_err(|e| D::Error::custom(e.message()))?;
        Ok(Checked(p))
    }
}

/// Range checks for parameter conversions (`TryFrom<Raw> for Params`): each returns the value or
/// a message that starts with the key in backticks, so the host reports it at that key's line.
pub mod range {
    /// A finite number > 0.
    pub fn positive(key: &str, v: f64) -> Result<f64, String> {
        if v > 0.0 && v.is_finite() {
            Ok(v)
        } else {
            Err(format!("`{key}` is {v}: it must be a positive number"))
        }
    }

    /// A finite number ≥ 0.
    pub fn non_negative(key: &str, v: f64) -> Result<f64, String> {
        if v >= 0.0 && v.is_finite() {
            Ok(v)
        } else {
            Err(format!("`{key}` is {v}: it must be 0 or more"))
        }
    }

    /// A count ≥ 1.
    pub fn at_least_one(key: &str, v: usize) -> Result<usize, String> {
        if v >= 1 {
            Ok(v)
        } else {
            Err(format!("`{key}` is 0: it must be at least 1"))
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn values_in_range_pass_and_others_name_the_key() {
            assert_eq!(positive("lr", 0.5), Ok(0.5));
            for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
                let e = positive("lr", bad).unwrap_err();
                assert!(e.starts_with("`lr` is "), "{e}");
            }
            assert_eq!(non_negative("decay", 0.0), Ok(0.0));
            assert_eq!(
                non_negative("decay", -0.1).unwrap_err(),
                "`decay` is -0.1: it must be 0 or more"
            );
            assert!(non_negative("decay", f64::NAN).is_err());
            assert_eq!(at_least_one("epochs", 1), Ok(1));
            assert_eq!(
                at_least_one("epochs", 0).unwrap_err(),
                "`epochs` is 0: it must be at least 1"
            );
        }
    }
}

/// Parses a plugin's parameters from the TOML text the host passes across the ABI.
///
/// Declare the parameter struct with `#[serde(deny_unknown_fields)]` and defaults; the error
/// message then names the offending key (`unknown field `popsize`, expected one of ...`).
pub fn parse_params<T: DeserializeOwned>(text: &str) -> Result<T, PluginError> {
    toml::from_str(text).map_err(|e| {
        // toml's full message embeds a snippet of the re-serialised table, which means nothing to
        // the user (the host reports the position in their file): keep the plain message, and
        // name the key when the message does not (type errors point at the value only).
        let message = e.message().trim().to_string();
        let key = e.span().and_then(|span| {
            let start = text[..span.start.min(text.len())]
                .rfind('\n')
                .map_or(0, |i| i + 1);
            let line = &text[start..];
            line.split_once('=')
                .map(|(k, _)| k.trim().trim_matches('"').to_string())
        });
        // A message that starts with a key in backticks names its own.
        match key {
            Some(k)
                if !k.is_empty()
                    && !message.starts_with('`')
                    && !message.contains(&format!("`{k}`")) =>
            {
                PluginError::invalid_params(format!("`{k}`: {message}"))
            }
            _ => PluginError::invalid_params(message),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct P {
        #[serde(default)]
        population: u32,
        #[serde(default)]
        name: String,
    }

    #[test]
    fn errors_name_the_key() {
        let e = parse_params::<P>("popsize = 3\n").unwrap_err();
        assert!(e.message().starts_with("unknown field `popsize`"), "{e}");
        let e = parse_params::<P>("name = \"a\"\npopulation = \"big\"\n").unwrap_err();
        assert!(
            e.message()
                .starts_with("`population`: invalid type: string \"big\""),
            "{e}"
        );
        assert!(parse_params::<P>("population = 4\n").is_ok());
    }

    impl CheckParams for P {
        fn check(&self) -> PluginResult<()> {
            if self.population == 1 {
                return Err(PluginError::invalid_params(
                    "`population = 1`: expected 0 or at least 2",
                ));
            }
            Ok(())
        }
    }

    #[test]
    fn checked_parameters_are_refused_as_they_parse() {
        let e = parse_params::<Checked<P>>("name = \"a\"\npopulation = 1\n").unwrap_err();
        assert_eq!(e.message(), "`population = 1`: expected 0 or at least 2");
        let e = parse_params::<Checked<P>>("popsize = 3\n").unwrap_err();
        assert!(e.message().starts_with("unknown field `popsize`"), "{e}");
        assert_eq!(
            parse_params::<Checked<P>>("population = 2\n")
                .unwrap()
                .0
                .population,
            2
        );
    }
}
