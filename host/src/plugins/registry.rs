//! The registry: every plugin found (built-ins and libraries), by kind and name, and the calls
//! that instantiate them (made by [`super::assemble`] only).

use super::loader::{is_plugin_file_name, load_library, LoadedLibrary};
use crate::error::HostError;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use xnas_core::abi_stable::std_types::{RResult, RStr};
use xnas_core::*;

/// Where a plugin comes from.
#[derive(Clone)]
pub enum Origin {
    Library {
        path: PathBuf,
        lib: LoadedLibrary,
    },
    Builtin {
        krate: &'static str,
        set: &'static PluginSet,
    },
}

impl Origin {
    /// For listings: the library file, or `built-in (<crate>)`.
    pub fn describe(&self) -> String {
        match self {
            Origin::Library { path, .. } => path.display().to_string(),
            Origin::Builtin { krate, .. } => format!("built-in ({krate})"),
        }
    }
}

#[derive(Clone)]
pub struct PluginEntry {
    pub info: PluginInfo,
    pub origin: Origin,
}

impl PluginEntry {
    pub fn name(&self) -> &str {
        self.info.name.as_str()
    }

    fn wrap_err(&self, r: RResult<(), PluginError>) -> Result<(), PluginError> {
        r.into_result()
    }

    /// A failed call of this plugin as the host's error, naming the plugin, its kind and origin.
    pub fn error(&self, error: PluginError) -> HostError {
        HostError::Plugin {
            name: self.name().to_string(),
            kind: match self.info.kind {
                PluginKind::SEARCH_SPACE => "search space",
                other => other.name(),
            },
            origin: self.origin.describe(),
            error,
        }
    }

    pub fn check_params(&self, params: &str) -> Result<(), PluginError> {
        let (kind, name) = (self.info.kind, self.name());
        self.wrap_err(match &self.origin {
            Origin::Library { lib, .. } => {
                (lib.module.check_params())(kind, RStr::from(name), RStr::from(params))
            }
            Origin::Builtin { set, .. } => set.check_params(kind, name, params),
        })
    }

    pub fn create_space(&self, params: &str, init: &SpaceInit) -> Result<SpaceBox, PluginError> {
        match &self.origin {
            Origin::Library { lib, .. } => {
                (lib.module.create_space())(self.name().into(), params.into(), init)
            }
            Origin::Builtin { set, .. } => set.create_space(self.name(), params, init),
        }
        .into_result()
    }

    pub fn create_optimizer(
        &self,
        params: &str,
        init: &OptimizerInit,
    ) -> Result<OptimizerBox, PluginError> {
        match &self.origin {
            Origin::Library { lib, .. } => {
                (lib.module.create_optimizer())(self.name().into(), params.into(), init)
            }
            Origin::Builtin { set, .. } => set.create_optimizer(self.name(), params, init),
        }
        .into_result()
    }

    pub fn create_transfer(
        &self,
        params: &str,
        init: &TransferInit,
    ) -> Result<TransferBox, PluginError> {
        match &self.origin {
            Origin::Library { lib, .. } => {
                (lib.module.create_transfer())(self.name().into(), params.into(), init)
            }
            Origin::Builtin { set, .. } => set.create_transfer(self.name(), params, init),
        }
        .into_result()
    }

    pub fn create_similarity(
        &self,
        params: &str,
        init: &SimilarityInit,
    ) -> Result<SimilarityBox, PluginError> {
        match &self.origin {
            Origin::Library { lib, .. } => {
                (lib.module.create_similarity())(self.name().into(), params.into(), init)
            }
            Origin::Builtin { set, .. } => set.create_similarity(self.name(), params, init),
        }
        .into_result()
    }

    pub fn create_one_shot(
        &self,
        params: &str,
        init: &OneShotInit,
    ) -> Result<OneShotBox, PluginError> {
        match &self.origin {
            Origin::Library { lib, .. } => {
                (lib.module.create_one_shot())(self.name().into(), params.into(), init)
            }
            Origin::Builtin { set, .. } => set.create_one_shot(self.name(), params, init),
        }
        .into_result()
    }
}

/// Where to look for plugin libraries.
#[derive(Debug, Clone)]
pub enum Source {
    /// A directory, scanned for `libxnas_*` libraries.
    Dir(PathBuf),
    /// One library file, loaded whatever its name.
    File(PathBuf),
}

/// All plugins found, plus every library that failed to load (reported, never fatal by itself).
#[derive(Default)]
pub struct Registry {
    pub entries: Vec<PluginEntry>,
    pub failures: Vec<HostError>,
    /// Names provided more than once; the first found wins.
    pub shadowed: Vec<(String, String)>,
}

impl Registry {
    /// Searches `sources` in order (the first plugin of a kind and name wins; later ones are
    /// noted as shadowed), then the built-ins, so anything the user points at explicitly beats
    /// what is compiled in.
    pub fn discover(sources: &[Source]) -> Registry {
        let mut reg = Registry::default();
        let mut seen_files = BTreeSet::new();
        for source in sources {
            match source {
                Source::File(f) => reg.add_file(f, &mut seen_files),
                Source::Dir(dir) => {
                    let Ok(read) = std::fs::read_dir(dir) else {
                        tracing::debug!("plugin directory {} does not exist", dir.display());
                        continue;
                    };
                    let mut paths: Vec<PathBuf> = read
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| {
                            p.file_name()
                                .and_then(|n| n.to_str())
                                .is_some_and(is_plugin_file_name)
                        })
                        .collect();
                    paths.sort();
                    for p in paths {
                        reg.add_file(&p, &mut seen_files);
                    }
                }
            }
        }
        reg.add_builtins();
        reg
    }

    fn add_builtins(&mut self) {
        for b in inventory::iter::<BuiltinPlugins> {
            match PluginSet::guarded_infos(b.register).into_result() {
                Ok(infos) => {
                    let set: &'static PluginSet =
                        Box::leak(Box::new(PluginSet::from_register(b.register)));
                    for info in infos {
                        self.push(PluginEntry {
                            info,
                            origin: Origin::Builtin {
                                krate: b.origin,
                                set,
                            },
                        });
                    }
                }
                Err(e) => self.failures.push(HostError::Run(format!(
                    "built-in plugins of {}: {e}",
                    b.origin
                ))),
            }
        }
    }

    fn add_file(&mut self, path: &Path, seen: &mut BTreeSet<PathBuf>) {
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if !seen.insert(key) {
            return;
        }
        if !path.exists() {
            self.failures.push(HostError::Load {
                path: path.to_path_buf(),
                message: "no such file; check the path in [plugins] files".into(),
            });
            return;
        }
        match load_library(path) {
            Ok(lib) => {
                let infos = (lib.module.plugins())();
                if infos.is_empty() {
                    self.failures.push(HostError::Load {
                        path: path.to_path_buf(),
                        message: "the library lists no plugins (its register function failed or is empty)".into(),
                    });
                }
                for info in infos {
                    self.push(PluginEntry {
                        info,
                        origin: Origin::Library {
                            path: path.to_path_buf(),
                            lib,
                        },
                    });
                }
            }
            Err(e) => self.failures.push(e),
        }
    }

    fn push(&mut self, entry: PluginEntry) {
        if let Some(first) = self
            .entries
            .iter()
            .find(|e| e.info.kind == entry.info.kind && e.name() == entry.name())
        {
            self.shadowed.push((
                entry.name().to_string(),
                format!(
                    "{} (shadowed by {})",
                    entry.origin.describe(),
                    first.origin.describe()
                ),
            ));
            return;
        }
        self.entries.push(entry);
    }

    pub fn find(&self, kind: PluginKind, name: &str) -> Option<&PluginEntry> {
        self.entries
            .iter()
            .find(|e| e.info.kind == kind && e.name() == name)
    }

    /// Names of the plugins of one kind, for "did you mean" messages.
    pub fn names(&self, kind: PluginKind) -> Vec<String> {
        self.entries
            .iter()
            .filter(|e| e.info.kind == kind)
            .map(|e| e.name().to_string())
            .collect()
    }

    /// A sentence explaining why `name` was not found.
    pub fn not_found_message(&self, kind: PluginKind, name: &str) -> String {
        let known = self.names(kind);
        let mut msg = format!("no {} plugin named `{name}`", kind.name());
        if let Some(other) = self.entries.iter().find(|e| e.name() == name) {
            msg.push_str(&format!(
                " (`{name}` is a {} plugin)",
                other.info.kind.name()
            ));
        }
        if known.is_empty() {
            msg.push_str(&format!("; no {} plugins were found", kind.name()));
        } else {
            msg.push_str(&format!("; available: {}", known.join(", ")));
        }
        msg.push_str(". Plugins are searched in --plugin-dir, [plugins] dirs and files, XNAS_PLUGIN_PATH, and next to the xnas binary and in its plugins/ folder");
        if !self.failures.is_empty() {
            msg.push_str(&format!(
                " ({} plugin librar{} failed to load: run `xnas plugins`)",
                self.failures.len(),
                if self.failures.len() == 1 { "y" } else { "ies" }
            ));
        }
        msg
    }
}
