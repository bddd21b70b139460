//! A model's tensors (parameters, Adam's moments) saved as named tensors and restored, for the
//! optimizers' and heads' `save_state` / `load_state`, so a run resumes where it stopped.
//!
//! Saved from the CPU, so a state moves between devices. Restoring is two steps: [`match_saved`]
//! checks every tensor first, [`restore`] then copies, so a bad state leaves the model as it was.

use crate::error::TchContext;
use std::io::Cursor;
use tch::{nn, Device, Tensor};
use xnas_core::{PluginError, PluginResult};

/// The variables of `vs` named `{prefix}{variable}`, in name order.
pub fn named_variables(vs: &nn::VarStore, prefix: &str) -> Vec<(String, Tensor)> {
    let mut named: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .map(|(n, t)| (format!("{prefix}{n}"), t))
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named
}

/// Writes named tensors, copied to the CPU first. `what` names the caller in errors.
pub fn to_bytes(named: &[(String, Tensor)], what: &str) -> PluginResult<Vec<u8>> {
    let cpu = named
        .iter()
        .map(|(n, t)| t.f_to_device(Device::Cpu).map(|t| (n.clone(), t)))
        .collect::<Result<Vec<_>, _>>()
        .context(what)?;
    let mut bytes = Vec::new();
    Tensor::save_multi_to_stream(&cpu, &mut bytes).context(what)?;
    Ok(bytes)
}

/// Reads what [`to_bytes`] wrote, onto `device`. Other bytes are a data error: "`what`: not a
/// saved `kind` (…)".
pub fn from_bytes(
    bytes: &[u8],
    device: Device,
    what: &str,
    kind: &str,
) -> PluginResult<Vec<(String, Tensor)>> {
    Tensor::load_multi_from_stream_with_device(Cursor::new(bytes), device)
        .map_err(|e| PluginError::data(format!("{what}: not a saved {kind} ({e})")))
}

/// Pairs each of `variables` with the saved tensor of the same name, checking all of them before
/// anything is changed. A missing name or another shape is a data error; `whose` names the
/// receiver in it ("this head"), `hint` ends it with the likely cause (" (another head's
/// state?)", or "").
pub fn match_saved(
    variables: Vec<(String, Tensor)>,
    saved: &[(String, Tensor)],
    what: &str,
    whose: &str,
    hint: &str,
) -> PluginResult<Vec<(Tensor, Tensor)>> {
    variables
        .into_iter()
        .map(|(key, var)| {
            let src = saved
                .iter()
                .find(|(n, _)| *n == key)
                .map(|(_, t)| t.shallow_clone())
                .ok_or_else(|| PluginError::data(format!("{what}: `{key}` is missing")))?;
            if src.size() != var.size() {
                return Err(PluginError::data(format!(
                    "{what}: `{key}` has shape {:?}, {whose} has {:?}{hint}",
                    src.size(),
                    var.size()
                )));
            }
            Ok((var, src))
        })
        .collect()
}

/// Copies what [`match_saved`] paired into the variables (outside autograd).
pub fn restore(copies: Vec<(Tensor, Tensor)>, what: &str) -> PluginResult<()> {
    for (mut var, src) in copies {
        tch::no_grad(|| var.f_copy_(&src)).context(what)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    fn store(width: i64) -> nn::VarStore {
        let vs = nn::VarStore::new(Device::Cpu);
        let root = vs.root();
        let _ = root.var("b", &[width], nn::Init::Const(1.0));
        let _ = root.var("a", &[2, width], nn::Init::Const(2.0));
        vs
    }

    #[test]
    fn a_saved_store_restores_into_another() {
        let from = store(3);
        let bytes = to_bytes(&named_variables(&from, "param."), "t").unwrap();
        let into = store(3);
        tch::no_grad(|| {
            let _ = into.variables()["a"].shallow_clone().fill_(0.0);
        });
        assert_eq!(
            into.variables()["a"].sum(Kind::Float).double_value(&[]),
            0.0
        );
        let saved = from_bytes(&bytes, Device::Cpu, "t", "thing").unwrap();
        assert_eq!(
            saved.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            ["param.a", "param.b"],
            "in name order"
        );
        let copies = match_saved(named_variables(&into, "param."), &saved, "t", "it", "").unwrap();
        restore(copies, "t").unwrap();
        let a = into.variables()["a"].sum(Kind::Float).double_value(&[]);
        assert_eq!(a, 12.0);
    }

    #[test]
    fn missing_or_misshapen_tensors_are_named_and_change_nothing() {
        let saved = named_variables(&store(3), "param.");
        let e = match_saved(
            named_variables(&store(4), "param."),
            &saved,
            "t",
            "it",
            " (x?)",
        )
        .unwrap_err();
        assert_eq!(
            e.message(),
            "t: `param.a` has shape [2, 3], it has [2, 4] (x?)"
        );
        let e =
            match_saved(named_variables(&store(3), "other."), &saved, "t", "it", "").unwrap_err();
        assert_eq!(e.message(), "t: `other.a` is missing");
        let e = from_bytes(b"junk", Device::Cpu, "t", "thing").unwrap_err();
        assert!(e.message().starts_with("t: not a saved thing ("), "{e}");
    }
}
