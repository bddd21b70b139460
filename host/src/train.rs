//! `xnas train ARCH`: trains one architecture to the end with a trainable search space (the
//! final training of a found cell). ARCH is an architecture file (JSON, below) or a run
//! directory, whose best architecture is trained with the run's search-space settings.
//!
//! ```json
//! { "name": "XferNASNet", "search_space": "nasnet", "params": { "ops": "xfernas" },
//!   "arch": "normal: b0 = sep_conv_3x3(h0) + conv_3x3(h1); ... | reduce: ...",
//!   "task": "fashion-mnist" }
//! ```
//!
//! Parameters are layered: an experiment file's `[search_space.params]` (`--experiment`), then
//! the architecture file's `params`, then the flags (`--cells`, `--filters`, `--epochs`,
//! `--device`, `--set KEY=VALUE`). The result lands in the output directory as `train.json`
//! and `curve.csv`.

use crate::config::{plugin_sources, Experiment};
use crate::error::{HostError, HostResult};
use crate::plugins::{assemble, default_search_dirs, Registry, Source};
use crate::report::write_json;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Instant;
use xnas_core::abi_stable::std_types::RNone;
use xnas_core::{capability, derive_seed, EvalRequest, PluginKind, SearchSpace};

/// An architecture file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchFile {
    /// A name for reports (`"XferNASNet"`).
    #[serde(default)]
    pub name: Option<String>,
    /// Where the architecture comes from (a paper, a run); informational.
    #[serde(default)]
    pub source: Option<String>,
    /// The search-space plugin that reads `arch`.
    pub search_space: String,
    /// Space parameters the architecture needs (its op set, blocks) and default training settings.
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// The space's text form of the architecture.
    pub arch: String,
    /// The task to train on when `--task` is not given.
    #[serde(default)]
    pub task: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    pub experiment: Option<PathBuf>,
    pub task: Option<String>,
    pub cells: Option<u64>,
    pub filters: Option<u64>,
    pub epochs: Option<u64>,
    pub device: Option<String>,
    /// `KEY=VALUE` overrides of the space's parameters; VALUE is TOML (`cutout=16`, `flip=true`).
    pub set: Vec<String>,
    pub seed: u64,
    pub out: Option<PathBuf>,
    pub plugin_dirs: Vec<PathBuf>,
}

/// What `xnas train` did.
#[derive(Debug)]
pub struct TrainOutcome {
    pub out_dir: PathBuf,
    pub name: String,
    pub task: String,
    pub arch: String,
    pub metric: f64,
    pub test_metric: Option<f64>,
    pub curve: Vec<f64>,
    pub seconds: f64,
    pub extras: serde_json::Value,
}

struct Plan {
    name: String,
    space: String,
    params: toml::Table,
    base_dir: PathBuf,
    task: String,
    arch: String,
    sources: Vec<Source>,
}

fn usage(m: impl Into<String>) -> HostError {
    HostError::Usage(m.into())
}

fn plan(arch: &Path, opts: &TrainOptions) -> HostResult<Plan> {
    let mut sources: Vec<Source> = opts.plugin_dirs.iter().cloned().map(Source::Dir).collect();
    let mut exp_sources = |exp: &Experiment, extra: Vec<PathBuf>| {
        sources.extend(extra.into_iter().map(Source::Dir));
        sources.extend(plugin_sources(exp));
    };
    let exp_params = |exp: &Experiment| {
        exp.file
            .search_space
            .params
            .as_ref()
            .map(|p| p.get_ref().clone())
            .unwrap_or_default()
    };
    let mut plan = if arch.is_dir() {
        if let Some(path) = &opts.experiment {
            return Err(usage(format!(
                "{} is a run directory, which trains with the run's own experiment: drop \
                 --experiment {} (change parameters with --set KEY=VALUE)",
                arch.display(),
                path.display()
            )));
        }
        let (exp, dirs) = crate::run::stored_experiment(arch)?;
        let summary_path = arch.join("summary.json");
        let text =
            std::fs::read_to_string(&summary_path).map_err(|e| HostError::io(&summary_path, e))?;
        let summary: crate::report::Summary = serde_json::from_str(&text).map_err(|e| {
            usage(format!(
                "{}: not a run summary ({e}); run `xnas report {}` to rebuild it",
                summary_path.display(),
                arch.display()
            ))
        })?;
        let best = summary.best.map(|b| b.arch).ok_or_else(|| {
            usage(format!(
                "{}: the run has no successful evaluation to train",
                arch.display()
            ))
        })?;
        exp_sources(&exp, dirs);
        Plan {
            name: exp.file.experiment.name.get_ref().clone(),
            space: exp.file.search_space.plugin.get_ref().clone(),
            params: exp_params(&exp),
            base_dir: exp.base_dir.clone(),
            task: exp.file.tasks.target.get_ref().clone(),
            arch: best,
            sources: Vec::new(),
        }
    } else {
        let text = std::fs::read_to_string(arch).map_err(|e| HostError::io(arch, e))?;
        let file: ArchFile = serde_json::from_str(&text).map_err(|e| {
            usage(format!(
                "{}:{}:{}: not an architecture file: {e} (see docs/user-guide.md#training-one-architecture)",
                arch.display(),
                e.line(),
                e.column()
            ))
        })?;
        let arch_params: toml::Table = toml::Table::try_from(&file.params)
            .map_err(|e| usage(format!("{}: `params`: {e}", arch.display())))?;
        let base = crate::config::folder_of(arch);
        let (mut params, base_dir, exp_task) = match &opts.experiment {
            Some(path) => {
                let exp = Experiment::load(path)?;
                let plugin = exp.file.search_space.plugin.get_ref();
                if *plugin != file.search_space {
                    return Err(usage(format!(
                        "{} is an architecture of search space `{}`, but {} uses `{plugin}`",
                        arch.display(),
                        file.search_space,
                        path.display()
                    )));
                }
                exp_sources(&exp, Vec::new());
                (
                    exp_params(&exp),
                    exp.base_dir.clone(),
                    Some(exp.file.tasks.target.get_ref().clone()),
                )
            }
            None => (toml::Table::new(), base, None),
        };
        params.extend(arch_params);
        Plan {
            name: file.name.clone().unwrap_or_else(|| {
                arch.file_stem()
                    .map_or("arch".into(), |s| s.to_string_lossy().into_owned())
            }),
            space: file.search_space,
            params,
            base_dir,
            task: file.task.or(exp_task).unwrap_or_default(),
            arch: file.arch,
            sources: Vec::new(),
        }
    };
    plan.sources = sources;
    plan.sources
        .extend(default_search_dirs().into_iter().map(Source::Dir));
    if let Some(t) = &opts.task {
        plan.task = t.clone();
    }
    if plan.task.is_empty() {
        return Err(usage(format!(
            "{}: no task to train on: give --task NAME (a task with a dataset in the space's parameters)",
            arch.display()
        )));
    }
    for (key, v) in [
        ("cells", opts.cells),
        ("filters", opts.filters),
        ("epochs", opts.epochs),
    ] {
        if let Some(v) = v {
            plan.params
                .insert(key.into(), toml::Value::Integer(v as i64));
        }
    }
    if let Some(d) = &opts.device {
        plan.params
            .insert("device".into(), toml::Value::String(d.clone()));
    }
    for kv in &opts.set {
        let (k, v) = kv.split_once('=').ok_or_else(|| {
            usage(format!(
                "--set {kv}: expected KEY=VALUE, for example --set cutout=16"
            ))
        })?;
        let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {}", v.trim()))
            .ok()
            .and_then(|mut t| t.remove("v"))
            // A bare word is a string: --set device=cuda.
            .unwrap_or_else(|| toml::Value::String(v.trim().to_string()));
        plan.params.insert(k.trim().to_string(), value);
    }
    Ok(plan)
}

/// Trains the architecture of `arch` (a file or a run directory) to the end.
pub fn train(arch: &Path, opts: &TrainOptions) -> HostResult<TrainOutcome> {
    let plan = plan(arch, opts)?;
    let registry = Registry::discover(&plan.sources);
    let entry = registry
        .find(PluginKind::SEARCH_SPACE, &plan.space)
        .ok_or_else(|| usage(registry.not_found_message(PluginKind::SEARCH_SPACE, &plan.space)))?;
    if !entry.info.has(capability::TRAINABLE) {
        return Err(usage(format!(
            "search space `{}` does not train networks (it is not `trainable`): `xnas train` needs \
             a trainable space such as `nasnet`",
            plan.space
        )));
    }
    let out_dir = opts.out.clone().unwrap_or_else(|| {
        Path::new("runs").join(format!("train-{}-{}", slug(&plan.name), slug(&plan.task)))
    });
    // Trainable spaces keep a checkpoint after every epoch there (docs/plugin-guide.md): a
    // killed training run again with the same command continues from its last epoch.
    let checkpoint = std::env::current_dir()
        .map_err(|e| HostError::io(".", e))?
        .join(&out_dir)
        .join("checkpoint");
    let mut plan = plan;
    plan.params.insert(
        "checkpoint_dir".into(),
        toml::Value::String(checkpoint.display().to_string()),
    );
    let params_text = toml::to_string(&plan.params).unwrap_or_default();
    let tasks = [plan.task.clone()];
    let space = assemble::space_with(entry, &params_text, &tasks, &plan.base_dir).map_err(|e| {
        match e.kind {
            // Bad parameters or a task without data: bad input, exit 2.
            xnas_core::ErrorKind::UNKNOWN_TASK | xnas_core::ErrorKind::DATA => {
                usage(format!("search space `{}`: {}", plan.space, e.message()))
            }
            _ => entry.error(e),
        }
    })?;
    let genome = space.parse(&plan.arch).map_err(|e| {
        usage(format!(
            "{}: the architecture is not one of this `{}` space: {}",
            arch.display(),
            plan.space,
            e.message()
        ))
    })?;
    let canon = space.canonical(&genome).map_err(|e| {
        usage(format!(
            "{}: invalid architecture: {}",
            arch.display(),
            e.message()
        ))
    })?;
    std::fs::create_dir_all(&out_dir).map_err(|e| HostError::io(&out_dir, e))?;
    tracing::info!(
        "training {} on {}: {}; checkpoints in {}",
        plan.name,
        plan.task,
        canon.text,
        checkpoint.display()
    );
    let request = EvalRequest {
        trial_id: 0,
        task: plan.task.as_str().into(),
        genome: canon.genome.clone(),
        seed: derive_seed(opts.seed, 0),
        budget: RNone,
    };
    let start = Instant::now();
    let result = space.evaluate(&request).map_err(|e| entry.error(e))?;
    let seconds = start.elapsed().as_secs_f64();
    let extras: serde_json::Value = if result.extras.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(result.extras.as_str()).unwrap_or(serde_json::Value::Null)
    };
    let outcome = TrainOutcome {
        out_dir: out_dir.clone(),
        name: plan.name.clone(),
        task: plan.task.clone(),
        arch: canon.text.to_string(),
        metric: result.metric,
        test_metric: result.test_metric.into_option(),
        curve: result.curve.to_vec(),
        seconds,
        extras,
    };
    let json = serde_json::json!({
        "name": outcome.name,
        "search_space": plan.space,
        "task": outcome.task,
        "arch": outcome.arch,
        "seed": opts.seed,
        "params": plan.params,
        "valid_metric": outcome.metric,
        "test_metric": outcome.test_metric,
        "curve": outcome.curve,
        "wall_seconds": seconds,
        "extras": outcome.extras,
    });
    write_json(&out_dir.join("train.json"), &json)?;
    let mut csv = String::from("epoch,valid_metric\n");
    for (i, m) in outcome.curve.iter().enumerate() {
        csv.push_str(&format!("{},{m}\n", i + 1));
    }
    let path = out_dir.join("curve.csv");
    std::fs::write(&path, csv).map_err(|e| HostError::io(&path, e))?;
    // The training is done and reported: its checkpoint has served.
    let _ = std::fs::remove_dir_all(&checkpoint);
    Ok(outcome)
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}
