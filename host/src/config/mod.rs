//! Experiment files: the TOML schema (serde, unknown keys rejected) and the checks that need no
//! plugin. Checks that need plugins live in [`validate`].

pub mod validate;

use crate::error::{HostError, HostResult};
use serde::Deserialize;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// A whole experiment file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentFile {
    pub experiment: ExperimentSection,
    #[serde(default)]
    pub plugins: PluginsSection,
    pub search_space: PluginSection,
    /// Optional when `[transfer] wraps` names the optimizer.
    pub optimizer: Option<PluginSection>,
    pub transfer: Option<TransferSection>,
    pub similarity: Option<SimilaritySection>,
    pub tasks: TasksSection,
    #[serde(default)]
    pub executor: ExecutorSection,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSection {
    pub name: Spanned<String>,
    #[serde(default)]
    pub seed: u64,
    pub budget: Spanned<Budget>,
    /// Trials asked from the optimizer at a time. Fixed by the experiment, never by the number
    /// of workers, so results do not depend on parallelism.
    #[serde(default = "default_batch_size")]
    pub batch_size: Spanned<u32>,
}

fn default_batch_size() -> Spanned<u32> {
    Spanned::new(0..0, 8)
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Target-task evaluations (failed ones count).
    pub evaluations: Option<u64>,
    /// Wall-clock seconds of search (checked between batches).
    pub seconds: Option<f64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PluginsSection {
    /// Directories searched for plugin libraries (`libxnas_*.so`), relative to the file.
    #[serde(default)]
    pub dirs: Vec<Spanned<String>>,
    /// Plugin library files loaded whatever their name.
    #[serde(default)]
    pub files: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginSection {
    pub plugin: Spanned<String>,
    pub params: Option<Spanned<toml::Table>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferSection {
    pub plugin: Spanned<String>,
    /// The optimizer to decorate; defaults to `[optimizer] plugin` and must match it if both are given.
    pub wraps: Option<Spanned<String>>,
    pub params: Option<Spanned<toml::Table>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimilaritySection {
    pub plugin: Spanned<String>,
    /// Keep only the `top_k` most similar sources (default: keep all, ranked).
    pub top_k: Option<Spanned<usize>>,
    pub params: Option<Spanned<toml::Table>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TasksSection {
    pub target: Spanned<String>,
    #[serde(default)]
    pub sources: Vec<Spanned<String>>,
    /// Architectures per source task sampled from the space and evaluated as source knowledge.
    #[serde(default)]
    pub source_samples: u32,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ExecutorKind {
    #[default]
    Local,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutorSection {
    #[serde(default)]
    pub kind: ExecutorKind,
    #[serde(default = "default_workers")]
    pub workers: Spanned<u32>,
}

fn default_workers() -> Spanned<u32> {
    Spanned::new(0..0, 1)
}

impl Default for ExecutorSection {
    fn default() -> Self {
        ExecutorSection {
            kind: ExecutorKind::Local,
            workers: default_workers(),
        }
    }
}

/// A parsed experiment file with its text (for positions) and location.
#[derive(Debug)]
pub struct Experiment {
    pub file: ExperimentFile,
    pub text: String,
    /// The path as the user gave it (for messages).
    pub path: PathBuf,
    /// Directory relative paths are resolved against.
    pub base_dir: PathBuf,
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, column)
}

impl Experiment {
    /// Reads and parses `path`; syntax errors, unknown keys and wrong types come back with their position.
    pub fn load(path: &Path) -> HostResult<Experiment> {
        let text = std::fs::read_to_string(path).map_err(|e| HostError::ConfigFile {
            file: path.display().to_string(),
            message: format!("cannot read the experiment file: {e}"),
        })?;
        let base_dir = path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let base_dir = std::fs::canonicalize(&base_dir).unwrap_or(base_dir);
        Self::parse(text, path.to_path_buf(), base_dir)
    }

    pub fn parse(text: String, path: PathBuf, base_dir: PathBuf) -> HostResult<Experiment> {
        let file: ExperimentFile = toml::from_str(&text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let (line, column) = line_col(&text, span.start);
            HostError::Config {
                file: path.display().to_string(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        let exp = Experiment {
            file,
            text,
            path,
            base_dir,
        };
        exp.check_structure()?;
        Ok(exp)
    }

    /// An error at a span of this file.
    pub fn error_at(&self, span: Range<usize>, message: impl Into<String>) -> HostError {
        let (line, column) = line_col(&self.text, span.start);
        HostError::Config {
            file: self.path.display().to_string(),
            line,
            column,
            message: message.into(),
        }
    }

    /// Checks that need no plugin: budget, batch, workers, tasks, transfer/optimizer pairing.
    fn check_structure(&self) -> HostResult<()> {
        let f = &self.file;
        let budget = &f.experiment.budget;
        match (budget.get_ref().evaluations, budget.get_ref().seconds) {
            (None, None) => {
                return Err(self.error_at(
                    budget.span(),
                    "budget needs `evaluations`, `seconds` or both, e.g. budget = { evaluations = 100 }",
                ))
            }
            (Some(0), _) => return Err(self.error_at(budget.span(), "budget.evaluations must be at least 1")),
            (_, Some(s)) if s.is_nan() || s <= 0.0 => return Err(self.error_at(budget.span(), "budget.seconds must be positive")),
            _ => {}
        }
        if *f.experiment.batch_size.get_ref() == 0 {
            return Err(self.error_at(
                f.experiment.batch_size.span(),
                "batch_size must be at least 1",
            ));
        }
        if *f.executor.workers.get_ref() == 0 {
            return Err(self.error_at(f.executor.workers.span(), "workers must be at least 1"));
        }
        if f.experiment.name.get_ref().trim().is_empty() {
            return Err(self.error_at(
                f.experiment.name.span(),
                "experiment name must not be empty",
            ));
        }
        let target = f.tasks.target.get_ref();
        let mut seen = std::collections::HashSet::new();
        for s in &f.tasks.sources {
            if s.get_ref() == target {
                return Err(self.error_at(
                    s.span(),
                    format!("source task `{target}` is the target task: the target never counts as source knowledge"),
                ));
            }
            if !seen.insert(s.get_ref()) {
                return Err(self.error_at(
                    s.span(),
                    format!("source task `{}` is listed twice", s.get_ref()),
                ));
            }
        }
        if f.tasks.source_samples > 0 && f.tasks.sources.is_empty() {
            return Err(self.error_at(
                f.tasks.target.span(),
                "tasks.source_samples is set but tasks.sources is empty: name the source tasks",
            ));
        }
        match (&f.optimizer, &f.transfer) {
            (None, None) => {
                return Err(HostError::ConfigFile {
                    file: self.path.display().to_string(),
                    message: "missing [optimizer] section (e.g. [optimizer] plugin = \"random\")"
                        .into(),
                })
            }
            (None, Some(t)) if t.wraps.is_none() => return Err(self.error_at(
                t.plugin.span(),
                "[transfer] needs `wraps = \"<optimizer>\"` when there is no [optimizer] section",
            )),
            (Some(o), Some(t)) => {
                if let Some(w) = &t.wraps {
                    if w.get_ref() != o.plugin.get_ref() {
                        return Err(self.error_at(
                            w.span(),
                            format!(
                                "[transfer] wraps `{}` but [optimizer] plugin is `{}`: make them the same or drop `wraps`",
                                w.get_ref(),
                                o.plugin.get_ref()
                            ),
                        ));
                    }
                }
            }
            _ => {}
        }
        if let Some(sim) = &f.similarity {
            if f.tasks.sources.is_empty() {
                return Err(self.error_at(
                    sim.plugin.span(),
                    "[similarity] ranks source tasks, but tasks.sources is empty",
                ));
            }
            if let Some(k) = &sim.top_k {
                if *k.get_ref() == 0 {
                    return Err(self.error_at(k.span(), "similarity.top_k must be at least 1"));
                }
            }
        }
        Ok(())
    }

    /// The optimizer's plugin name (from `[optimizer]` or `[transfer] wraps`).
    pub fn optimizer_name(&self) -> &Spanned<String> {
        match (&self.file.optimizer, &self.file.transfer) {
            (Some(o), _) => &o.plugin,
            (None, Some(t)) => t.wraps.as_ref().expect("checked in check_structure"),
            (None, None) => unreachable!("checked in check_structure"),
        }
    }

    pub fn optimizer_params(&self) -> Option<&Spanned<toml::Table>> {
        self.file.optimizer.as_ref().and_then(|o| o.params.as_ref())
    }

    /// Every task id of the experiment: target first, then sources.
    pub fn tasks(&self) -> Vec<String> {
        let t = &self.file.tasks;
        std::iter::once(t.target.get_ref().clone())
            .chain(t.sources.iter().map(|s| s.get_ref().clone()))
            .collect()
    }

    /// Resolves a path from the file against its directory.
    pub fn resolve_path(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }
}

/// Plugin parameters as the TOML text that crosses the ABI.
pub fn params_text(params: Option<&Spanned<toml::Table>>) -> String {
    params
        .map(|p| toml::to_string(p.get_ref()).unwrap_or_default())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> HostResult<Experiment> {
        Experiment::parse(
            text.to_string(),
            PathBuf::from("exp.toml"),
            PathBuf::from("."),
        )
    }

    const OK: &str = r#"
[experiment]
name = "t"
budget = { evaluations = 10 }
[search_space]
plugin = "s"
[optimizer]
plugin = "random"
[tasks]
target = "a"
sources = ["b"]
"#;

    #[test]
    fn accepts_a_minimal_file() {
        let e = parse(OK).unwrap();
        assert_eq!(*e.file.experiment.batch_size.get_ref(), 8);
        assert_eq!(e.tasks(), vec!["a", "b"]);
    }

    #[test]
    fn unknown_key_is_reported_with_its_line() {
        let err = parse(&OK.replace("name = \"t\"", "name = \"t\"\nbudgte = 3"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("exp.toml:4:1:"), "{err}");
        assert!(err.contains("unknown field `budgte`"), "{err}");
    }

    #[test]
    fn target_among_sources_is_refused() {
        let err = parse(&OK.replace("sources = [\"b\"]", "sources = [\"b\", \"a\"]"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("source task `a` is the target task"), "{err}");
        assert!(err.starts_with("exp.toml:11:17:"), "{err}");
    }

    #[test]
    fn budget_needs_a_limit() {
        let err = parse(&OK.replace("{ evaluations = 10 }", "{}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("budget needs"), "{err}");
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }
}
