//! Creating plugins: the one place the host instantiates a search space, an optimizer (decorated
//! by its transfer plugin), or a similarity measure from an experiment and its resolved entries.
//! A failing plugin comes back as [`HostError::Plugin`] naming it, its kind and its library
//! ([`PluginEntry::error`]); a search space that refuses the experiment's settings is bad input,
//! reported at its place in the file.

use super::PluginEntry;
use crate::config::validate::Resolved;
use crate::config::{params_text, Experiment};
use crate::error::HostResult;
use std::path::{Path, PathBuf};
use xnas_core::abi_stable::std_types::{RNone, ROption};
use xnas_core::*;

/// The host's data directory: `XNAS_DATA_DIR`, else `~/.cache/xnas/data`.
pub fn data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XNAS_DATA_DIR") {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("xnas").join("data")
}

/// A search space from its parameters (TOML text) for `tasks`, relative paths against `base_dir`.
pub fn space_with(
    entry: &PluginEntry,
    params: &str,
    tasks: &[String],
    base_dir: &Path,
) -> Result<SpaceBox, PluginError> {
    let init = SpaceInit {
        tasks: tasks.iter().map(|t| t.as_str().into()).collect(),
        base_dir: base_dir.display().to_string().into(),
        data_dir: data_dir().display().to_string().into(),
    };
    entry.create_space(params, &init)
}

/// The experiment's search space; a task it does not know is reported at `[tasks]`, any other
/// refusal at the space's section.
pub fn space(exp: &Experiment, entry: &PluginEntry) -> HostResult<SpaceBox> {
    let f = &exp.file;
    space_with(
        entry,
        &params_text(f.search_space.params.as_ref()),
        &exp.tasks(),
        &exp.base_dir,
    )
    .map_err(|e| {
        if e.kind == ErrorKind::UNKNOWN_TASK {
            return exp.error_at(
                f.tasks.target.span(),
                format!("search space `{}`: {}", entry.name(), e.message()),
            );
        }
        // Any failure to set the space up is bad input (parameters, data files): report it at
        // the space's section so the user knows where to look.
        let span = f
            .search_space
            .params
            .as_ref()
            .map_or(f.search_space.plugin.span(), |p| {
                exp.key_span(p.span(), e.message())
            });
        let what = if e.kind == ErrorKind::INVALID_PARAMS {
            " parameters"
        } else {
            ""
        };
        exp.error_at(
            span,
            format!("search space `{}`{what}: {}", entry.name(), e.message()),
        )
    })
}

/// The optimizer of an experiment, decorated by its transfer plugin when it has one: the transfer
/// is created first, its head factory goes into the inner optimizer's init, and what `wrap`
/// returns is the optimizer. `seed` is the optimizer's; the transfer's is derived from it.
pub fn optimizer(
    exp: &Experiment,
    resolved: &Resolved,
    space: &SpaceBox,
    target: &str,
    sources: &[String],
    history: Vec<Observation>,
    seed: u64,
) -> HostResult<OptimizerBox> {
    let mut init = OptimizerInit {
        space: space.clone(),
        target: target.into(),
        sources: sources.iter().map(|s| s.as_str().into()).collect(),
        history: history.into(),
        seed,
        heads: RNone,
        base_dir: exp.base_dir.display().to_string().into(),
    };
    let inner = &resolved.optimizer;
    let params = params_text(exp.optimizer_params());
    let Some(t_entry) = &resolved.transfer else {
        return inner
            .create_optimizer(&params, &init)
            .map_err(|e| inner.error(e));
    };
    let t_params = params_text(exp.file.transfer.as_ref().and_then(|t| t.params.as_ref()));
    let t_init = TransferInit {
        inner: inner.info.clone(),
        target: init.target.clone(),
        sources: init.sources.clone(),
        seed: derive_seed(seed, 1),
    };
    let mut transfer = t_entry
        .create_transfer(&t_params, &t_init)
        .map_err(|e| t_entry.error(e))?;
    let heads = transfer.head_factory().map_err(|e| t_entry.error(e))?;
    tracing::info!(
        "transfer `{}` decorates `{}` with heads: {}",
        t_entry.name(),
        inner.name(),
        heads.describe()
    );
    init.heads = ROption::RSome(heads);
    let optimizer = inner
        .create_optimizer(&params, &init)
        .map_err(|e| inner.error(e))?;
    transfer
        .wrap(optimizer, &init)
        .map_err(|e| t_entry.error(e))
}

/// Creates the experiment's optimizer (and its transfer plugin's heads) once against the actual
/// space and throws it away: a setting only the optimizer can judge against the space (nao's
/// `fold`, a `device` the machine lacks) or a panic in its `create` is found before a run
/// directory exists. Without source knowledge yet, the transfer plugin is not asked to wrap.
/// The plugins' log lines are kept out of sight (trace level): the run's creation logs them.
pub fn preflight(exp: &Experiment, resolved: &Resolved, space: &SpaceBox) -> HostResult<()> {
    super::quietly(|| create_to_check(exp, resolved, space))
}

fn create_to_check(exp: &Experiment, resolved: &Resolved, space: &SpaceBox) -> HostResult<()> {
    let f = &exp.file;
    let sources: Vec<String> = f
        .tasks
        .sources
        .iter()
        .map(|s| s.get_ref().clone())
        .collect();
    let seed = derive_seed(f.experiment.seed, u64::MAX);
    let mut init = OptimizerInit {
        space: space.clone(),
        target: f.tasks.target.get_ref().as_str().into(),
        sources: sources.iter().map(|s| s.as_str().into()).collect(),
        history: Vec::new().into(),
        seed,
        heads: RNone,
        base_dir: exp.base_dir.display().to_string().into(),
    };
    if let Some(t_entry) = &resolved.transfer {
        let t_params = params_text(f.transfer.as_ref().and_then(|t| t.params.as_ref()));
        let t_init = TransferInit {
            inner: resolved.optimizer.info.clone(),
            target: init.target.clone(),
            sources: init.sources.clone(),
            seed: derive_seed(seed, 1),
        };
        let transfer = t_entry
            .create_transfer(&t_params, &t_init)
            .map_err(|e| in_file(exp, t_entry, e))?;
        let heads = transfer
            .head_factory()
            .map_err(|e| in_file(exp, t_entry, e))?;
        init.heads = ROption::RSome(heads);
    }
    let inner = &resolved.optimizer;
    inner
        .create_optimizer(&params_text(exp.optimizer_params()), &init)
        .map(drop)
        .map_err(|e| in_file(exp, inner, e))
}

/// A plugin's refusal of the experiment's settings, placed in the file when it is about
/// parameters (a key the message names); other failures as the plugin's own error.
fn in_file(exp: &Experiment, entry: &PluginEntry, e: PluginError) -> crate::HostError {
    if e.kind != ErrorKind::INVALID_PARAMS {
        return entry.error(e);
    }
    let (name, params) = match entry.info.kind {
        PluginKind::TRANSFER => {
            let t = exp
                .file
                .transfer
                .as_ref()
                .expect("a transfer entry has its section");
            (&t.plugin, t.params.as_ref())
        }
        _ => (exp.optimizer_name(), exp.optimizer_params()),
    };
    exp.params_error(entry, name, params, &e)
}

/// The similarity section's parameters, with `tasks` defaulting to the search space's `tasks`
/// table (the datasets a trainable space reads), so the user names each dataset once.
fn similarity_params(exp: &Experiment) -> String {
    let f = &exp.file;
    let Some(section) = &f.similarity else {
        return String::new();
    };
    let mut table = section
        .params
        .as_ref()
        .map(|p| p.get_ref().clone())
        .unwrap_or_default();
    if !table.contains_key("tasks") {
        if let Some(tasks) = f
            .search_space
            .params
            .as_ref()
            .and_then(|p| p.get_ref().get("tasks"))
        {
            table.insert("tasks".into(), tasks.clone());
        }
    }
    toml::to_string(&table).unwrap_or_else(|_| params_text(section.params.as_ref()))
}

/// The experiment's similarity measure.
pub fn similarity(
    exp: &Experiment,
    entry: &PluginEntry,
    space: &SpaceBox,
    seed: u64,
) -> HostResult<SimilarityBox> {
    let init = SimilarityInit {
        space: space.clone(),
        tasks: exp.tasks().into_iter().map(Into::into).collect(),
        seed,
        base_dir: exp.base_dir.display().to_string().into(),
        data_dir: data_dir().display().to_string().into(),
    };
    entry
        .create_similarity(&similarity_params(exp), &init)
        .map_err(|e| entry.error(e))
}
