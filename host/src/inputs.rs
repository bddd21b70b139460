//! Fingerprints of what a run reads: every data file and table, and the plugin libraries (name,
//! version, file). `xnas run` records them in the store (`meta`
//! key `inputs`) and in `inputs.json`; `xnas resume` gathers them again and refuses to go on
//! when one changed, unless told to accept the change (recorded under `accepted_input_changes`).
//!
//! Which files: the host does not ask plugins what they read (the plugin interface has no such
//! call), it follows the rule docs/design.md states: every path a plugin section's parameters
//! name (any string value, at any depth, that resolves to an existing file or folder against the
//! base folder), the data folder's entries named after a plugin (`<data_dir>/<plugin>/`, where
//! set-up puts converted benchmark tables) and the image sets named after a task or a `preset`
//! value (`<data_dir>/images/<name>/`). A folder counts as every file in it. Source knowledge
//! (`source_runs`, `source_file`) is checked by its own step, which compares the observations it
//! gives and says how they changed (a store's bytes also change when SQLite checkpoints it).

use crate::config::validate::Resolved;
use crate::config::Experiment;
use crate::error::{HostError, HostResult};
use crate::plugins::{Origin, PluginEntry};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

/// One input and its fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// What it is, as a message names it: "data file" or "plugin `evolution` 0.1.0".
    pub what: String,
    /// The file (absolute where it could be made so), or `built-in (crate)` for a built-in plugin.
    pub path: String,
    pub bytes: u64,
    /// SHA-256 of the file's contents, in hex.
    pub sha256: String,
}

/// A change accepted on resume, as recorded in the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Accepted {
    /// Seconds since the Unix epoch.
    pub at: u64,
    pub changes: Vec<String>,
}

/// The inputs of a run, sorted by path.
pub fn gather(exp: &Experiment, resolved: &Resolved, data_dir: &Path) -> HostResult<Vec<Input>> {
    let mut data: BTreeSet<PathBuf> = BTreeSet::new();
    let f = &exp.file;
    let sections = [
        f.search_space.params.as_ref(),
        f.optimizer.as_ref().and_then(|o| o.params.as_ref()),
        f.transfer.as_ref().and_then(|t| t.params.as_ref()),
        f.similarity.as_ref().and_then(|s| s.params.as_ref()),
    ];
    let mut names: BTreeSet<String> = exp.tasks().into_iter().collect();
    for params in sections.into_iter().flatten() {
        for_each_string(
            &toml::Value::Table(params.get_ref().clone()),
            &mut |key, s| {
                if key == "preset" {
                    names.insert(s.to_string());
                }
                let p = exp.base_dir.join(s);
                if !s.is_empty() && p.exists() {
                    data.insert(p);
                }
            },
        );
    }
    let plugins = resolved_entries(resolved);
    for e in &plugins {
        data.insert(data_dir.join(e.name()));
    }
    for n in &names {
        data.insert(data_dir.join("images").join(n));
    }
    let mut inputs = Vec::new();
    for root in data.iter().filter(|p| p.exists()) {
        for file in files_under(root)? {
            inputs.push(fingerprint("data file", &file)?);
        }
    }
    for e in plugins {
        let what = format!("plugin `{}` {}", e.name(), e.info.version.as_str());
        inputs.push(match &e.origin {
            Origin::Library { path, .. } => fingerprint(&what, path)?,
            Origin::Builtin { krate, .. } => Input {
                what,
                path: format!("built-in ({krate}) of xnas {}", env!("CARGO_PKG_VERSION")),
                bytes: 0,
                sha256: String::new(),
            },
        });
    }
    inputs.sort_by(|a, b| a.path.cmp(&b.path));
    inputs.dedup_by(|a, b| a.path == b.path);
    Ok(inputs)
}

fn resolved_entries(r: &Resolved) -> Vec<&PluginEntry> {
    [
        Some(&r.space),
        Some(&r.optimizer),
        r.transfer.as_ref(),
        r.similarity.as_ref(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Calls `f(key, value)` for every string in `v` (array items get their array's key).
fn for_each_string(v: &toml::Value, f: &mut impl FnMut(&str, &str)) {
    fn walk(key: &str, v: &toml::Value, f: &mut impl FnMut(&str, &str)) {
        match v {
            toml::Value::String(s) => f(key, s),
            toml::Value::Array(a) => a.iter().for_each(|x| walk(key, x, f)),
            toml::Value::Table(t) => t.iter().for_each(|(k, x)| walk(k, x, f)),
            _ => {}
        }
    }
    walk("", v, f)
}

/// `root` itself when it is a file, else every file below it (hidden ones and partial downloads
/// left out), sorted.
fn files_under(root: &Path) -> HostResult<Vec<PathBuf>> {
    if !root.is_dir() {
        return Ok(vec![root.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| HostError::io(&dir, e))? {
            let path = entry.map_err(|e| HostError::io(&dir, e))?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            if name.is_some_and(|n| n.starts_with('.') || n.ends_with(".tmp")) {
                continue;
            }
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn fingerprint(what: &str, path: &Path) -> HostResult<Input> {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut file = std::fs::File::open(&path).map_err(|e| HostError::io(&path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(|e| HostError::io(&path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok(Input {
        what: what.to_string(),
        path: path.display().to_string(),
        bytes,
        sha256: hex(&hasher.finalize()),
    })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Each difference between the recorded inputs and the present ones, as a phrase naming the
/// file and what changed; empty when nothing did.
pub fn changes(recorded: &[Input], now: &[Input]) -> Vec<String> {
    let by_path = |v: &[Input]| -> BTreeMap<String, Input> {
        v.iter().map(|i| (i.path.clone(), i.clone())).collect()
    };
    let (old, new) = (by_path(recorded), by_path(now));
    let mut out = Vec::new();
    for (path, o) in &old {
        match new.get(path) {
            None => out.push(format!("{} {path} is gone", o.what)),
            Some(n) if n.what != o.what => {
                out.push(format!("{path} was {} and is now {}", o.what, n.what))
            }
            Some(n) if n.sha256 != o.sha256 => out.push(format!(
                "{} {path} has other contents ({} bytes, SHA-256 {}… then; {} bytes, {}… now)",
                o.what,
                o.bytes,
                short(&o.sha256),
                n.bytes,
                short(&n.sha256)
            )),
            _ => {}
        }
    }
    for (path, n) in &new {
        if !old.contains_key(path) {
            out.push(format!("{} {path} is new", n.what));
        }
    }
    out
}

fn short(h: &str) -> &str {
    &h[..h.len().min(12)]
}

/// The refusal of a resume whose inputs changed: one sentence naming the first change.
pub fn refusal(run_dir: &Path, changes: &[String]) -> HostError {
    let more = match changes.len() {
        1 => String::new(),
        n => format!(
            " (and {} more change{})",
            n - 1,
            if n == 2 { "" } else { "s" }
        ),
    };
    HostError::Usage(format!(
        "{}: an input changed since the run started: {}{more}; results before and after the \
         change would be mixed, so restore it, or continue with the new inputs by `xnas resume {} \
         --accept-changed-inputs` (recorded in the run)",
        run_dir.display(),
        changes[0],
        run_dir.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(what: &str, path: &str, sha: &str) -> Input {
        Input {
            what: what.into(),
            path: path.into(),
            bytes: 10,
            sha256: sha.into(),
        }
    }

    #[test]
    fn changes_name_the_file_and_what_changed() {
        let a = vec![
            input("data file", "/d/a.csv", "aaaa"),
            input("data file", "/d/b", "bbbb"),
        ];
        assert!(changes(&a, &a).is_empty());
        let b = vec![
            input("data file", "/d/a.csv", "cccc"),
            input("data file", "/d/c", "dddd"),
        ];
        let c = changes(&a, &b);
        assert_eq!(c.len(), 3, "{c:?}");
        assert!(
            c[0].starts_with("data file /d/a.csv has other contents"),
            "{c:?}"
        );
        assert!(
            c[0].contains("aaaa… then") && c[0].contains("cccc… now"),
            "{c:?}"
        );
        assert_eq!(c[1], "data file /d/b is gone");
        assert_eq!(c[2], "data file /d/c is new");
        let e = refusal(Path::new("runs/x"), &c).to_string();
        assert!(e.contains("/d/a.csv has other contents"), "{e}");
        assert!(e.contains("(and 2 more changes)"), "{e}");
        assert!(e.contains("--accept-changed-inputs"), "{e}");
    }

    #[test]
    fn strings_are_found_at_any_depth_with_their_key() {
        let v: toml::Value = toml::from_str(
            "table = \"t.csv\"\n[datasets.a]\npreset = \"mnist\"\ntrain = [\"x\", \"y\"]",
        )
        .unwrap();
        let mut seen = Vec::new();
        for_each_string(&v, &mut |k, s| seen.push(format!("{k}={s}")));
        seen.sort();
        assert_eq!(seen, ["preset=mnist", "table=t.csv", "train=x", "train=y"]);
    }
}
