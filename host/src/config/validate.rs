//! Checks that need the plugins: every plugin name resolves to a plugin of the right kind, every
//! plugin accepts its parameters, the optimizer fits the run loop and the transfer plugin, and the
//! search space accepts the tasks. All before anything runs.

use super::{params_text, Experiment};
use crate::error::HostResult;
use crate::plugins::{PluginEntry, Registry};
use toml::Spanned;
use xnas_core::{capability, PluginKind};

/// The plugins an experiment uses, resolved and checked.
pub struct Resolved {
    pub space: PluginEntry,
    pub optimizer: PluginEntry,
    pub transfer: Option<PluginEntry>,
    pub similarity: Option<PluginEntry>,
}

impl Experiment {
    /// Narrows a parameter table's span to the key a plugin's message names in backticks
    /// (`unknown field `popsize``, `` `blocks = 11`: … ``), when that key is written in the table.
    pub(crate) fn key_span(
        &self,
        table: std::ops::Range<usize>,
        message: &str,
    ) -> std::ops::Range<usize> {
        let Some(key) = message
            .split('`')
            .nth(1)
            .and_then(|k| k.split('=').next())
            .map(str::trim)
            .filter(|k| !k.is_empty())
        else {
            return table;
        };
        let mut offset = table.start;
        for (i, line) in self.text[table.start.min(self.text.len())..]
            .split_inclusive('\n')
            .enumerate()
        {
            let t = line.trim_start();
            if i > 0 && t.starts_with('[') {
                break; // the next table
            }
            let rest = t.strip_prefix(key).map(str::trim_start);
            if rest.is_some_and(|r| r.starts_with('=')) {
                let at = offset + (line.len() - t.len());
                return at..at + key.len();
            }
            // Inline tables (`params = { popsize = 3 }`): look inside the line.
            if let Some(pos) = line
                .find(&format!("{key} ="))
                .or_else(|| line.find(&format!("{key}=")))
            {
                if i == 0 {
                    return offset + pos..offset + pos + key.len();
                }
            }
            offset += line.len();
        }
        table
    }

    fn resolve_plugin(
        &self,
        registry: &Registry,
        kind: PluginKind,
        name: &Spanned<String>,
    ) -> HostResult<PluginEntry> {
        registry.find(kind, name.get_ref()).cloned().ok_or_else(|| {
            self.error_at(
                name.span(),
                registry.not_found_message(kind, name.get_ref()),
            )
        })
    }

    fn check_params(
        &self,
        entry: &PluginEntry,
        name: &Spanned<String>,
        params: Option<&Spanned<toml::Table>>,
    ) -> HostResult<()> {
        entry
            .check_params(&params_text(params))
            .map_err(|e| self.params_error(entry, name, params, &e))
    }

    /// A plugin's refusal of its parameters, at the key its message names (or its section).
    pub(crate) fn params_error(
        &self,
        entry: &PluginEntry,
        name: &Spanned<String>,
        params: Option<&Spanned<toml::Table>>,
        e: &xnas_core::PluginError,
    ) -> crate::HostError {
        let span = params.map_or(name.span(), |p| self.key_span(p.span(), e.message()));
        self.error_at(
            span,
            format!(
                "{} `{}` parameters: {}",
                entry.info.kind.name(),
                entry.name(),
                e.message()
            ),
        )
    }

    /// Resolves and checks every plugin of the experiment.
    pub fn resolve_plugins(&self, registry: &Registry) -> HostResult<Resolved> {
        self.check_plugin_paths()?;
        let f = &self.file;
        let space =
            self.resolve_plugin(registry, PluginKind::SEARCH_SPACE, &f.search_space.plugin)?;
        self.check_params(
            &space,
            &f.search_space.plugin,
            f.search_space.params.as_ref(),
        )?;

        let opt_name = self.optimizer_name();
        let optimizer = self.resolve_plugin(registry, PluginKind::OPTIMIZER, opt_name)?;
        self.check_params(&optimizer, opt_name, self.optimizer_params())?;
        self.check_optimizer_kind(&space, &optimizer)?;

        let transfer = match &f.transfer {
            None => None,
            Some(t) => {
                let entry = self.resolve_plugin(registry, PluginKind::TRANSFER, &t.plugin)?;
                self.check_params(&entry, &t.plugin, t.params.as_ref())?;
                if !optimizer.info.has(capability::HEADS) {
                    let span = t.wraps.as_ref().map_or(t.plugin.span(), |w| w.span());
                    return Err(self.error_at(
                        span,
                        format!(
                            "transfer `{}` decorates optimizers that take heads, and `{}` does not (it lacks the \
                             `heads` capability); wrap an optimizer that lists `heads` in `xnas plugins`",
                            entry.name(),
                            optimizer.name()
                        ),
                    ));
                }
                Some(entry)
            }
        };

        let similarity = match &f.similarity {
            None => None,
            Some(s) => {
                let entry = self.resolve_plugin(registry, PluginKind::SIMILARITY, &s.plugin)?;
                self.check_params(&entry, &s.plugin, s.params.as_ref())?;
                Some(entry)
            }
        };
        Ok(Resolved {
            space,
            optimizer,
            transfer,
            similarity,
        })
    }
}
