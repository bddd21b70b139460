//! One format for every plugin's saved state (optimizers, heads, supernets, one-shot searches):
//! an envelope that names the owner and its format version around a serde value in a compact
//! codec (postcard). A blob of another owner, a newer format or a damaged one is refused with a
//! message that says which.
//!
//! ```text
//! b"XNASSTAT" | owner (postcard str) | format version (postcard u32) | value (postcard)
//! ```

use crate::error::{PluginError, PluginResult};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

const MAGIC: &[u8; 8] = b"XNASSTAT";

#[derive(Serialize, Deserialize)]
struct Header<'a> {
    owner: &'a str,
    version: u32,
}

/// Encodes `value` as `owner`'s state in format `version`.
pub fn encode<T: Serialize>(owner: &str, version: u32, value: &T) -> PluginResult<Vec<u8>> {
    let mut out = MAGIC.to_vec();
    let header = Header { owner, version };
    out = postcard::to_extend(&header, out)
        .map_err(|e| PluginError::data(format!("{owner} state: cannot encode: {e}")))?;
    postcard::to_extend(value, out)
        .map_err(|e| PluginError::data(format!("{owner} state: cannot encode: {e}")))
}

/// The format version of an `owner` state blob and its value's bytes, for owners that read
/// several versions.
pub fn open<'a>(owner: &str, blob: &'a [u8]) -> PluginResult<(u32, &'a [u8])> {
    let rest = blob.strip_prefix(MAGIC.as_slice()).ok_or_else(|| {
        PluginError::data(format!(
            "{owner} state: not a saved xnas state (no marker); it was written by another \
             program or an older xnas"
        ))
    })?;
    let (header, value): (Header<'_>, &[u8]) = postcard::take_from_bytes(rest)
        .map_err(|e| PluginError::data(format!("{owner} state: damaged header: {e}")))?;
    if header.owner != owner {
        return Err(PluginError::data(format!(
            "{owner} state: this is the state of `{}`, not of `{owner}`",
            header.owner
        )));
    }
    Ok((header.version, value))
}

/// Decodes an `owner` state written in format `version` exactly.
pub fn decode<T: DeserializeOwned>(owner: &str, version: u32, blob: &[u8]) -> PluginResult<T> {
    let (found, value) = open(owner, blob)?;
    if found != version {
        return Err(unread_format(owner, found, &[version]));
    }
    decode_value(owner, value)
}

/// The refusal of an `owner` state in format `found` by a plugin that reads the formats `reads`
/// (ascending; [`decode`] passes its one, an owner that reads several after [`open`] all).
pub fn unread_format(owner: &str, found: u32, reads: &[u32]) -> PluginError {
    let which = if reads.last().is_some_and(|&newest| found > newest) {
        "a newer"
    } else {
        "an older"
    };
    let reads = match reads {
        [one] => format!("format {one}"),
        [rest @ .., last] => {
            let rest: Vec<String> = rest.iter().map(u32::to_string).collect();
            format!("formats {} and {last}", rest.join(", "))
        }
        [] => "no format".into(),
    };
    PluginError::data(format!(
        "{owner} state: written in format {found} by {which} version of the plugin; this one \
         reads {reads}. Resume with the version that wrote it, or start a new run"
    ))
}

/// Decodes a value's bytes (from [`open`]).
pub fn decode_value<T: DeserializeOwned>(owner: &str, bytes: &[u8]) -> PluginResult<T> {
    let (value, rest): (T, &[u8]) = postcard::take_from_bytes(bytes)
        .map_err(|e| PluginError::data(format!("{owner} state: damaged: {e}")))?;
    if !rest.is_empty() {
        return Err(PluginError::data(format!(
            "{owner} state: damaged: {} bytes after the value",
            rest.len()
        )));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct S {
        a: u64,
        v: Vec<f32>,
        name: String,
    }

    fn s() -> S {
        S {
            a: 7,
            v: vec![1.5, -2.0],
            name: "x".into(),
        }
    }

    #[test]
    fn round_trip() {
        let blob = encode("darts", 1, &s()).unwrap();
        assert_eq!(decode::<S>("darts", 1, &blob).unwrap(), s());
        assert_eq!(open("darts", &blob).unwrap().0, 1);
    }

    #[test]
    fn refuses_other_owner_version_and_damage() {
        let blob = encode("darts", 2, &s()).unwrap();
        let e = decode::<S>("pdarts", 2, &blob).unwrap_err();
        assert!(e.message().contains("state of `darts`"), "{e}");
        let e = decode::<S>("darts", 1, &blob).unwrap_err();
        assert!(e.message().contains("format 2 by a newer"), "{e}");
        assert!(e.message().contains("reads format 1."), "{e}");
        let e = unread_format("darts", 1, &[2, 3, 4]);
        assert!(
            e.message().contains(
                "format 1 by an older version of the plugin; this one reads formats 2, 3 and 4."
            ),
            "{e}"
        );
        let e = decode::<S>("darts", 2, &blob[..blob.len() - 3]).unwrap_err();
        assert!(e.message().contains("damaged"), "{e}");
        let e = decode::<S>("darts", 2, b"garbage").unwrap_err();
        assert!(e.message().contains("no marker"), "{e}");
        let mut long = blob.clone();
        long.push(0);
        let e = decode::<S>("darts", 2, &long).unwrap_err();
        assert!(e.message().contains("after the value"), "{e}");
    }
}
