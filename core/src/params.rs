use crate::PluginError;
use serde::de::DeserializeOwned;

/// Parses a plugin's parameters from the TOML text the host passes across the ABI.
///
/// Declare the parameter struct with `#[serde(deny_unknown_fields)]` and defaults; the error
/// message then names the offending key (`unknown field `popsize`, expected one of ...`).
pub fn parse_params<T: DeserializeOwned>(text: &str) -> Result<T, PluginError> {
    toml::from_str(text).map_err(|e| {
        // toml's message embeds a source snippet of the re-serialised table, which means nothing
        // to the user (the host reports the position in their file); keep the plain message.
        PluginError::invalid_params(e.message().to_string())
    })
}
