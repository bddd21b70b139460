use crate::PluginError;
use serde::de::DeserializeOwned;

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
        match key {
            Some(k) if !k.is_empty() && !message.contains(&format!("`{k}`")) => {
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
}
