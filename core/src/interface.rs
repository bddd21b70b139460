//! The plugin interface version and the fingerprint of the ABI layout it names.
//!
//! abi_stable checks two things when the host loads a library: the root module's version
//! strings ([`INTERFACE_VERSION`]: another major version, or for 0.x a minor version older than
//! the host's, is refused) and the layout of every type reachable from the root module
//! (`TypeLayout`, which includes the `#[sabi_trait]` objects, their vtables and the data they
//! pass). [`abi_fingerprint`] hashes that layout the way abi_stable compares it, and the test
//! below fails when it no longer matches the fingerprint recorded for [`INTERFACE_VERSION`].

use crate::abi::PluginModRef;
use crate::seed::Fnv1a64;
use abi_stable::std_types::UTypeId;
use abi_stable::type_layout::TypeLayout;
use abi_stable::StableAbi;
use std::collections::HashSet;
use std::fmt::Write as _;

/// Every plugin interface version with the fingerprint of its ABI layout, oldest first.
///
/// When the ABI changes, the test `interface::tests::fingerprint_matches_the_interface_version`
/// fails and prints the new fingerprint: append one line with a new version. Use a new patch
/// version (0.1.0 → 0.1.1) when fields or methods were only appended after a
/// `#[sabi(last_prefix_field)]` (abi_stable's prefix types let plugins and hosts of either side
/// load; the host must not call what an older plugin lacks), a new minor version (0.1 → 0.2)
/// for anything else (a host then refuses plugins of an older minor by their version).
pub const INTERFACES: &[(&str, &str)] = &[
    ("0.1.0", "5510da3732961aa3"),
    // The supernet protocol and one-shot optimizers (minor: a 0.1 plugin has no `create_one_shot`).
    ("0.2.0", "35c5301c39e8fc43"),
    // `neighbours` appended to the search space (patch: a 0.2.0 space answers the default).
    ("0.2.1", "6e5ec7029d4be722"),
    // `TransferPlan` gains `pretrain_epochs`, `pretrain_batch`, `source_replay` (minor: it is no
    // prefix type, so every plugin is rebuilt).
    ("0.3.0", "dc5548e7478e5ead"),
    // `FfiSupernet::set_episode` appended (patch: a 0.3.0 supernet answers `UNSUPPORTED`).
    ("0.3.1", "f6c8d70ede00e617"),
];

/// The plugin interface version of this build: the last of [`INTERFACES`]. It is the root
/// module's version and changes only with the ABI (not with this crate's package version).
pub const INTERFACE_VERSION: &str = INTERFACES[INTERFACES.len() - 1].0;

/// A 64-bit FNV-1a hash, in hex, of the layout of every type reachable from the root module,
/// as abi_stable compares it: names, sizes, alignments, fields, function signatures, prefix
/// fields, tags and each type's package with the part of its version abi_stable checks (the
/// minor for 0.x). Source lines, module paths and type ids are left out, so the value is the same
/// in every build (debug or release, any machine) of the same interface.
pub fn abi_fingerprint() -> String {
    let text = layout_text(<PluginModRef as StableAbi>::LAYOUT);
    let mut h = Fnv1a64::default();
    h.write(text.as_bytes());
    format!("{:016x}", h.finish())
}

/// The canonical text the fingerprint hashes: each reachable layout once, depth first.
pub(crate) fn layout_text(root: &'static TypeLayout) -> String {
    let mut seen = HashSet::new();
    let mut out = String::new();
    visit(root, &mut seen, &mut out);
    out
}

fn visit(layout: &'static TypeLayout, seen: &mut HashSet<UTypeId>, out: &mut String) {
    // A type's identity within this process (never hashed): the same type may have several
    // layout statics, depending on how the build inlined them.
    if !seen.insert(layout.get_utypeid()) {
        return;
    }
    let (package, version) = layout.package_and_version();
    let _ = writeln!(
        out,
        "type {} package {} version {}",
        layout.full_type(),
        package,
        compatible_part(&version.to_string())
    );
    for line in layout.to_string().lines() {
        // Where the type is written down is not part of the ABI.
        if line.starts_with("line:") {
            continue;
        }
        let _ = writeln!(out, "{}", compatible_versions(line.trim_end()));
    }
    for nested in layout.shared_vars().type_layouts() {
        visit(nested(), seen, out);
    }
}

/// `line` with each `version:'x.y.z'` cut to its [`compatible_part`] (the field listings name the
/// package version of every field's type).
fn compatible_versions(line: &str) -> String {
    const KEY: &str = "version:'";
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find(KEY) {
        let start = at + KEY.len();
        let Some(len) = rest[start..].find('\'') else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str(&compatible_part(&rest[start..start + len]));
        rest = &rest[start + len..];
    }
    out.push_str(rest);
    out
}

/// The part of a version abi_stable requires to match: `0.minor` below 1.0, else the major.
fn compatible_part(version: &str) -> String {
    let mut parts = version.split('.');
    match (parts.next(), parts.next()) {
        (Some("0"), Some(minor)) => format!("0.{minor}"),
        (Some(major), _) => major.to_string(),
        _ => version.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_matches_the_interface_version() {
        let (version, recorded) = INTERFACES[INTERFACES.len() - 1];
        let now = abi_fingerprint();
        assert!(
            now == recorded,
            "the plugin ABI layout changed (fingerprint {now}, recorded {recorded} for interface \
             {version}): bump the interface version by appending (\"<new version>\", \"{now}\") to \
             INTERFACES in core/src/interface.rs: a patch version if you only appended after a \
             last_prefix_field (plugins built against {version} still load), a minor version \
             otherwise (they must be rebuilt)"
        );
    }

    #[test]
    fn versions_increase_and_each_fingerprint_is_recorded_once() {
        let parse = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap()).collect() };
        for pair in INTERFACES.windows(2) {
            assert!(parse(pair[0].0) < parse(pair[1].0), "{pair:?}");
        }
        let fingerprints: HashSet<&str> = INTERFACES.iter().map(|(_, f)| *f).collect();
        assert_eq!(fingerprints.len(), INTERFACES.len(), "{INTERFACES:?}");
    }

    #[test]
    fn the_text_names_the_root_module_and_its_objects_but_no_source_position() {
        let text = layout_text(<PluginModRef as StableAbi>::LAYOUT);
        for name in [
            "PluginMod",
            "FfiSearchSpace",
            "FfiOptimizer",
            "FfiSimilarity",
            "HostCtx",
        ] {
            assert!(text.contains(name), "{name} missing from the layout text");
        }
        assert!(!text.contains("line:"), "source lines must not be hashed");
        assert!(
            text.contains("type PluginMod package xnas-core version 0.1\n"),
            "{}",
            &text[..200]
        );
        assert!(
            !text.contains("version:'0.11.3'"),
            "patch versions must not be hashed"
        );
    }

    #[test]
    fn compatible_part_keeps_what_abi_stable_compares() {
        assert_eq!(compatible_part("0.1.7"), "0.1");
        assert_eq!(compatible_part("0.11.3"), "0.11");
        assert_eq!(compatible_part("2.4.1"), "2");
        assert_eq!(
            compatible_versions("package:'a' version:'0.11.3'Tag: version:'1.0.0'"),
            "package:'a' version:'0.11'Tag: version:'1'"
        );
    }
}
