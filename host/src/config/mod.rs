//! Experiment files: the TOML schema (serde, unknown keys rejected) and the checks that need no
//! plugin. Checks that need plugins live in [`validate`].

mod checks;
pub use checks::{too_many_workers, MAX_WORKERS};
mod kinds;
pub mod template;
pub mod validate;

use crate::error::{HostError, HostResult};
use crate::plugins::Source;
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
    pub optimizer: Option<OptimizerSection>,
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
    /// The absolute folder relative paths in this file resolve against, plugin parameters
    /// included; default: the file's own folder. `xnas compare` writes it into the runs' files, which live
    /// in the comparison's output, so that paths keep meaning what the comparison file meant.
    pub base_dir: Option<Spanned<String>>,
}

fn default_batch_size() -> Spanned<u32> {
    Spanned::new(0..0, 8)
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Target-task evaluations (failed ones count).
    pub evaluations: Option<u64>,
    /// Wall-clock seconds of search (checked between batches; between steps of a one-shot search).
    pub seconds: Option<f64>,
    /// Epochs of a one-shot search, all stages counted.
    pub epochs: Option<u64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PluginsSection {
    /// Directories searched for plugin libraries (`libxnas_*.so`), relative to the base folder.
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

/// `[optimizer]`: a plugin section that may also say how many architectures a one-shot
/// optimizer derives.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerSection {
    pub plugin: Spanned<String>,
    /// One-shot optimizers: the architectures derived at the end and evaluated as trials
    /// (default 1).
    pub derive: Option<Spanned<u32>>,
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
    /// Earlier run directories (relative to the base folder) whose successful trials on the source
    /// tasks become source knowledge.
    #[serde(default)]
    pub source_runs: Vec<Spanned<String>>,
    /// A meta-dataset CSV (relative to the base folder) of observations on the source tasks.
    pub source_file: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ExecutorKind {
    #[default]
    Local,
    /// Job arrays on a Slurm cluster (docs/cluster.md).
    Slurm,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ExecutorSection {
    #[serde(default)]
    pub kind: ExecutorKind,
    #[serde(default = "default_workers")]
    pub workers: Spanned<u32>,
    // `kind = "slurm"` only (docs/cluster.md).
    pub partition: Option<String>,
    /// `sbatch --time` of one array task, e.g. "00:30:00".
    pub time_limit: Option<String>,
    pub cpus_per_trial: Option<u32>,
    pub gpus_per_trial: Option<u32>,
    /// `sbatch --mem`, e.g. "4G".
    pub mem_per_trial: Option<String>,
    /// Most tasks in one job array (the cluster's MaxArraySize is the ceiling).
    pub array_limit: Option<u32>,
    /// Most of this run's array tasks queued or running at once.
    pub max_concurrent_jobs: Option<u32>,
    /// Trials one array task evaluates, one after another (default 1).
    pub trials_per_task: Option<u32>,
    /// More `sbatch` arguments, each one word (e.g. ["--account=lab", "--qos=short"]).
    #[serde(default)]
    pub sbatch_args: Vec<String>,
    /// Shell lines each job runs before the worker (module loads, environment).
    pub setup: Option<String>,
    /// Times a trial whose job ended TIMEOUT, PREEMPTED, NODE_FAIL or CANCELLED is resubmitted.
    pub resubmits: Option<u32>,
    /// Seconds between two state queries (one `squeue` for the whole run).
    pub poll_seconds: Option<f64>,
}

fn default_workers() -> Spanned<u32> {
    Spanned::new(0..0, 1)
}

impl Default for ExecutorSection {
    fn default() -> Self {
        ExecutorSection {
            kind: ExecutorKind::Local,
            workers: default_workers(),
            partition: None,
            time_limit: None,
            cpus_per_trial: None,
            gpus_per_trial: None,
            mem_per_trial: None,
            array_limit: None,
            max_concurrent_jobs: None,
            trials_per_task: None,
            sbatch_args: Vec::new(),
            setup: None,
            resubmits: None,
            poll_seconds: None,
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

/// A TOML parse or schema error of `text` (read from `path`), with its line and column.
pub fn toml_error(text: &str, path: &Path, e: &toml::de::Error) -> HostError {
    let (line, column) = line_col(text, e.span().unwrap_or(0..0).start);
    HostError::Config {
        file: path.display().to_string(),
        line,
        column,
        message: e.message().trim().to_string(),
    }
}

/// Whether `text` parses as TOML with a top-level table `name` (`[compare]`, `[ablation]`).
pub fn has_section(text: &str, name: &str) -> bool {
    toml::from_str::<toml::Table>(text).is_ok_and(|t| t.contains_key(name))
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, column)
}

/// The text of an experiment, comparison or ablation file (`kind`), for messages.
pub fn read_file(path: &Path, kind: &str) -> HostResult<String> {
    std::fs::read_to_string(path).map_err(|e| HostError::ConfigFile {
        file: path.display().to_string(),
        message: format!("cannot read the {kind} file: {e}"),
    })
}

/// The plugin sources an experiment names (`[plugins] files`, then `dirs`), resolved.
pub fn plugin_sources(exp: &Experiment) -> Vec<Source> {
    let p = &exp.file.plugins;
    let files = p
        .files
        .iter()
        .map(|f| Source::File(exp.resolve_path(f.get_ref())));
    let dirs = p
        .dirs
        .iter()
        .map(|d| Source::Dir(exp.resolve_path(d.get_ref())));
    files.chain(dirs).collect()
}

/// The folder of a file, canonical where it can be: relative paths in an experiment, comparison,
/// ablation or architecture file are resolved against it.
pub fn folder_of(file: &Path) -> PathBuf {
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::canonicalize(dir).unwrap_or(dir.to_path_buf())
}

impl Experiment {
    /// Reads and parses `path`; syntax errors, unknown keys and wrong types come back with their position.
    pub fn load(path: &Path) -> HostResult<Experiment> {
        let text = read_file(path, "experiment")?;
        Self::parse(text, path.to_path_buf(), folder_of(path))
    }

    pub fn parse(text: String, path: PathBuf, base_dir: PathBuf) -> HostResult<Experiment> {
        let file: ExperimentFile =
            toml::from_str(&text).map_err(|e| toml_error(&text, &path, &e))?;
        let mut exp = Experiment {
            file,
            text,
            path,
            base_dir,
        };
        // Absolute only: a stored run re-parses its file against the folder it resolved to.
        if let Some(dir) = &exp.file.experiment.base_dir {
            let p = Path::new(dir.get_ref());
            let problem = if !p.is_absolute() {
                Some("is not an absolute path")
            } else if !p.is_dir() {
                Some("is not a folder")
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(exp.error_at(
                    dir.span(),
                    format!(
                        "base_dir `{}` {problem}: give the absolute folder this file's relative \
                         paths are meant from, or leave base_dir out to use the file's own folder",
                        dir.get_ref()
                    ),
                ));
            }
            exp.base_dir = p.to_path_buf();
        }
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
        let mut tasks = vec![self.file.tasks.target.get_ref().clone()];
        tasks.extend(self.sources());
        tasks
    }

    /// The source tasks as listed.
    pub fn sources(&self) -> Vec<String> {
        let sources = &self.file.tasks.sources;
        sources.iter().map(|s| s.get_ref().clone()).collect()
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
    fn a_plugins_message_points_at_the_key_it_names() {
        let e = parse(&OK.replace(
            "plugin = \"s\"",
            "plugin = \"s\"\nparams = { cells = 2, blocks = 11 }",
        ))
        .unwrap();
        let table = e.file.search_space.params.as_ref().unwrap().span();
        let key = |m: &str| line_col(&e.text, e.key_span(table.clone(), m).start);
        assert_eq!(key("`blocks = 11`: expected 1 ..= 10"), (7, 23));
        assert_eq!(key("unknown field `blocks`"), (7, 23));
        assert_eq!(
            key("`epochs = 0`: not written here"),
            line_col(&e.text, table.start)
        );
    }

    #[test]
    fn base_dir_must_be_an_absolute_folder() {
        let with = |d: &str| OK.replace("name = \"t\"", &format!("name = \"t\"\nbase_dir = {d:?}"));
        let tmp = std::env::temp_dir();
        let e = parse(&with(tmp.to_str().unwrap())).unwrap();
        assert_eq!(e.base_dir, tmp);
        assert_eq!(e.resolve_path("x.csv"), tmp.join("x.csv"));
        for (d, why) in [
            ("data", "is not an absolute path"),
            ("/no/such/folder", "is not a folder"),
        ] {
            let err = parse(&with(d)).unwrap_err().to_string();
            assert!(err.starts_with("exp.toml:4:12:"), "{err}");
            assert!(err.contains(&format!("base_dir `{d}` {why}")), "{err}");
        }
    }

    /// A nested parameter table whose parent has no header of its own (`[optimizer.params.head]`
    /// alone, or dotted keys) is read, and an error in it points into the file (toml 0.8's
    /// spans refused such implicit tables: toml-rs/toml#798).
    #[test]
    fn nested_parameter_tables_need_no_parent_header() {
        for nested in [
            "[optimizer.params.head]\nlr = 0.1\n",
            "params.head.lr = 0.1\n",
            "params = { head = { lr = 0.1 } }\n",
        ] {
            let text = OK.replace(
                "[optimizer]\nplugin = \"random\"\n",
                &format!("[optimizer]\nplugin = \"random\"\n{nested}"),
            );
            let e = parse(&text).unwrap_or_else(|e| panic!("{nested}: {e}"));
            let params = e.optimizer_params().unwrap();
            assert_eq!(
                params.get_ref()["head"]["lr"].as_float(),
                Some(0.1),
                "{nested}"
            );
            // The line that writes the nested table.
            assert_eq!(line_col(&text, params.span().start).0, 9, "{nested}");
            assert_eq!(
                params_text(Some(params)).trim(),
                "[head]\nlr = 0.1",
                "{nested}"
            );
        }
    }

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
    fn imported_source_knowledge_needs_sources() {
        let base = OK.replace("sources = [\"b\"]\n", "");
        let err = parse(&format!("{base}source_file = \"m.csv\"\n"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("exp.toml:11:15:"), "{err}");
        assert!(
            err.contains("tasks.source_file is set but tasks.sources is empty"),
            "{err}"
        );
        let err = parse(&format!("{base}source_runs = [\"runs/x\"]\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("tasks.source_runs is set but tasks.sources is empty"),
            "{err}"
        );
        let e = parse(&format!(
            "{OK}source_runs = [\"runs/x\"]\nsource_file = \"m.csv\"\n"
        ))
        .unwrap();
        assert_eq!(e.file.tasks.source_runs[0].get_ref(), "runs/x");
        assert_eq!(
            e.file.tasks.source_file.as_ref().unwrap().get_ref(),
            "m.csv"
        );
    }

    #[test]
    fn source_paths_must_exist_and_runs_be_listed_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("runs/x")).unwrap();
        std::fs::write(dir.path().join("runs/x/store.sqlite"), "").unwrap();
        std::fs::create_dir_all(dir.path().join("runs/empty")).unwrap();
        std::fs::write(dir.path().join("m.csv"), "task,arch,metric\n").unwrap();
        let at = |extra: &str| {
            Experiment::parse(
                format!("{OK}{extra}"),
                PathBuf::from("exp.toml"),
                dir.path().to_path_buf(),
            )
            .unwrap()
            .check_source_paths()
        };
        at("source_runs = [\"runs/x\"]\nsource_file = \"m.csv\"\n").unwrap();
        let err = at("source_file = \"n.csv\"\n").unwrap_err().to_string();
        assert!(
            err.starts_with("exp.toml:12:15: tasks.source_file: "),
            "{err}"
        );
        assert!(err.contains("n.csv is not a file"), "{err}");
        let err = at("source_runs = [\"runs/x\", \"runs/y\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("exp.toml:12:26: tasks.source_runs: run directory "),
            "{err}"
        );
        let err = at("source_runs = [\"runs/empty\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("is not a run directory (it has no store.sqlite)"),
            "{err}"
        );
        let err = at("source_runs = [\"runs/x\", \"runs/../runs/x\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("is the same run directory as `runs/x`"),
            "{err}"
        );
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
