//! Loading one plugin library: `dlopen` through abi_stable's library header (never
//! `RootModule::load_from_file`, which caches one module per type and would hand back the first
//! plugin for every file), version and layout checks turned into one sentence, and the host's
//! logging callback installed in the plugin.

use crate::error::HostError;
use abi_stable::library::{lib_header_from_path, LibraryError};
use abi_stable::std_types::RStr;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use xnas_core::{HostCtx, PluginModRef, INTERFACE_VERSION};

/// A loaded plugin library.
#[derive(Clone, Copy)]
pub struct LoadedLibrary {
    pub module: PluginModRef,
}

/// Directory scans consider only files named like plugin libraries, so a build folder full of
/// other shared objects is not mistaken for plugins. Explicit `files` load whatever their name.
pub fn is_plugin_file_name(name: &str) -> bool {
    (name.starts_with("libxnas_") && (name.ends_with(".so") || name.ends_with(".dylib")))
        || (name.starts_with("xnas_") && name.ends_with(".dll"))
}

/// Plugin directories from `XNAS_PLUGIN_PATH` and next to the running binary.
pub fn default_search_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(paths) = std::env::var_os("XNAS_PLUGIN_PATH") {
        dirs.extend(std::env::split_paths(&paths).filter(|p| !p.as_os_str().is_empty()));
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            dirs.push(dir.to_path_buf());
            dirs.push(dir.join("plugins"));
        }
    }
    dirs
}

/// Warnings a plugin has logged in this process, by (target, message).
static WARNED: std::sync::Mutex<BTreeSet<(String, String)>> =
    std::sync::Mutex::new(BTreeSet::new());

/// Whether a warning says nothing new: the same text from the same plugin was logged
/// before in this process. An ablation or comparison creates the same plugin many times with the
/// same settings, and one warning per creation would bury everything else.
fn repeated(target: &str, message: &str) -> bool {
    let mut seen = WARNED.lock().unwrap_or_else(|e| e.into_inner());
    !seen.insert((target.to_string(), message.to_string()))
}

/// Set while plugins are created only to be checked ([`quietly`]): their log lines then go to
/// trace level, so the run's own creation is the one the user reads.
static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Runs `f` with the log lines of dynamic plugins demoted to trace level.
pub fn quietly<T>(f: impl FnOnce() -> T) -> T {
    use std::sync::atomic::Ordering;
    QUIET.store(true, Ordering::SeqCst);
    let r = f();
    QUIET.store(false, Ordering::SeqCst);
    r
}

extern "C" fn host_log(level: u8, target: RStr<'_>, message: RStr<'_>) {
    let (target, message) = (target.as_str(), message.as_str());
    if QUIET.load(std::sync::atomic::Ordering::SeqCst) {
        tracing::trace!(target: "xnas::plugin", plugin = target, "(checking) {message}");
        return;
    }
    if level == 2 && repeated(target, message) {
        tracing::debug!(target: "xnas::plugin", plugin = target, "(again) {message}");
        return;
    }
    match level {
        1 => tracing::error!(target: "xnas::plugin", plugin = target, "{message}"),
        2 => tracing::warn!(target: "xnas::plugin", plugin = target, "{message}"),
        3 => tracing::info!(target: "xnas::plugin", plugin = target, "{message}"),
        4 => tracing::debug!(target: "xnas::plugin", plugin = target, "{message}"),
        _ => tracing::trace!(target: "xnas::plugin", plugin = target, "{message}"),
    }
}

fn max_level() -> u8 {
    use tracing::level_filters::LevelFilter;
    match LevelFilter::current() {
        LevelFilter::OFF => 0,
        LevelFilter::ERROR => 1,
        LevelFilter::WARN => 2,
        LevelFilter::INFO => 3,
        LevelFilter::DEBUG => 4,
        _ => 5,
    }
}

/// First line of a (possibly huge) message, shortened.
fn first_line(s: &str) -> String {
    let line = s
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.chars().count() > 160 {
        format!("{}...", line.chars().take(160).collect::<String>())
    } else {
        line.to_string()
    }
}

fn load_error(path: &Path, e: LibraryError) -> HostError {
    let rebuild = format!(
        "rebuild it against the xnas-core of this xnas (plugin interface {INTERFACE_VERSION}), or remove it from the plugin path"
    );
    let message = match e {
        LibraryError::OpenError { err, .. } => format!(
            "not a loadable shared library ({}); remove it from the plugin path",
            first_line(&err.to_string())
        ),
        LibraryError::GetSymbolError { .. } => {
            "a shared library, but not an xnas plugin (it exports no xnas root module); remove it from the plugin path"
                .to_string()
        }
        LibraryError::IncompatibleVersionNumber { expected_version, actual_version, .. } => format!(
            "built against plugin interface {actual_version}, but this xnas speaks {expected_version}; {rebuild}"
        ),
        LibraryError::AbiInstability(_) => format!(
            "its plugin interface layout does not match this xnas (interface {INTERFACE_VERSION}): it was built \
             against a different xnas-core; {rebuild}"
        ),
        LibraryError::InvalidAbiHeader(_) | LibraryError::InvalidCAbi { .. } => {
            format!("it was built with an incompatible abi_stable; {rebuild}")
        }
        other => format!("{}; {rebuild}", first_line(&other.to_string())),
    };
    HostError::Load {
        path: path.to_path_buf(),
        message,
    }
}

/// Loads one plugin library and initialises it with the host's callbacks.
pub fn load_library(path: &Path) -> Result<LoadedLibrary, HostError> {
    let header = lib_header_from_path(path).map_err(|e| load_error(path, e))?;
    let module = header
        .init_root_module::<PluginModRef>()
        .map_err(|e| load_error(path, e))?;
    (module.init())(HostCtx {
        log: host_log,
        max_level: max_level(),
    });
    Ok(LoadedLibrary { module })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warning_is_repeated_only_with_new_text() {
        assert!(!repeated("test-plugin", "careful"));
        assert!(repeated("test-plugin", "careful"));
        assert!(!repeated("test-plugin", "careful: other"));
        assert!(!repeated("other-plugin", "careful"));
    }

    #[test]
    fn plugin_file_names() {
        assert!(is_plugin_file_name("libxnas_random.so"));
        assert!(!is_plugin_file_name("libtorch_cpu.so"));
        assert!(!is_plugin_file_name("libxnas_random.rlib"));
        assert!(is_plugin_file_name("xnas_random.dll"));
    }

    #[test]
    fn a_text_file_is_not_a_library() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("libxnas_junk.so");
        std::fs::write(&p, "not an ELF file").unwrap();
        let msg = load_library(&p).err().expect("must fail").to_string();
        assert!(msg.contains("libxnas_junk.so"), "{msg}");
        assert!(msg.contains("not a loadable shared library"), "{msg}");
        assert!(msg.lines().count() == 1 && msg.len() < 400, "{msg}");
    }
}
