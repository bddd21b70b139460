//! The state blob: a small envelope around three parts, so each stays in the format its owner
//! reads (JSON for the optimizer's bookkeeping, libtorch's stream for tensors, the head's own
//! bytes for the head, which may live in another plugin library).
//!
//! ```text
//! b"XNASNAO1" | u64 LE length | JSON | u64 LE length | tensors | u64 LE length | head state
//! ```

use xnas_core::{PluginError, PluginResult};

const MAGIC: &[u8; 8] = b"XNASNAO1";

/// The three parts of a state blob.
pub struct Parts<'a> {
    pub meta: &'a [u8],
    pub tensors: &'a [u8],
    pub head: &'a [u8],
}

pub fn pack(parts: &Parts<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        MAGIC.len() + 24 + parts.meta.len() + parts.tensors.len() + parts.head.len(),
    );
    out.extend_from_slice(MAGIC);
    for part in [parts.meta, parts.tensors, parts.head] {
        out.extend_from_slice(&(part.len() as u64).to_le_bytes());
        out.extend_from_slice(part);
    }
    out
}

pub fn unpack(blob: &[u8]) -> PluginResult<Parts<'_>> {
    let bad = |why: &str| {
        PluginError::data(format!(
            "nao state: {why}; it was not written by this optimizer (or is truncated)"
        ))
    };
    let rest = blob
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| bad("the blob does not start with the nao state marker"))?;
    let mut rest = rest;
    let mut take = || -> PluginResult<&[u8]> {
        if rest.len() < 8 {
            return Err(bad("a part's length is missing"));
        }
        let (len, tail) = rest.split_at(8);
        let len = u64::from_le_bytes(len.try_into().expect("8 bytes")) as usize;
        if tail.len() < len {
            return Err(bad("a part is shorter than its length says"));
        }
        let (part, tail) = tail.split_at(len);
        rest = tail;
        Ok(part)
    };
    let meta = take()?;
    let tensors = take()?;
    let head = take()?;
    if !rest.is_empty() {
        return Err(bad("there are bytes after the last part"));
    }
    Ok(Parts {
        meta,
        tensors,
        head,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let blob = pack(&Parts {
            meta: b"{}",
            tensors: b"abc",
            head: b"",
        });
        let p = unpack(&blob).unwrap();
        assert_eq!(
            (p.meta, p.tensors, p.head),
            (&b"{}"[..], &b"abc"[..], &b""[..])
        );
        assert!(unpack(&blob[..blob.len() - 1]).is_err());
        assert!(unpack(b"something else").is_err());
        let mut longer = blob.clone();
        longer.push(0);
        let e = unpack(&longer).err().unwrap();
        assert!(e.message().contains("bytes after the last part"), "{e}");
    }
}
