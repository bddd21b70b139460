//! `xnas`: parse the command line, run, map the result to an exit code
//! (0 success, 1 a run that failed or finished with failed trials, 2 bad input or plugins).

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;
use xnas_host::config::Experiment;
use xnas_host::plugins::{Registry, Source};
use xnas_host::run::{self, RunOptions, RunOutcome};
use xnas_host::HostError;

#[derive(Parser)]
#[command(
    name = "xnas",
    version,
    about = "Transfer neural architecture search with plugins"
)]
struct Cli {
    /// Extra plugin directory, searched before all others (repeatable).
    #[arg(long = "plugin-dir", global = true, value_name = "DIR")]
    plugin_dirs: Vec<PathBuf>,
    /// More log output (-v info, -vv debug, -vvv trace). XNAS_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// No progress bar.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every plugin found: name, kind, version, capabilities, file.
    Plugins {
        /// Also load the plugin directories and files named in this experiment file.
        #[arg(long, value_name = "FILE")]
        experiment: Option<PathBuf>,
    },
    /// Check an experiment file and its plugins without running anything.
    Validate { file: PathBuf },
    /// Run an experiment.
    Run {
        file: PathBuf,
        /// Run directory (default: runs/<experiment name>).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Number of local workers (overrides [executor] workers; results do not depend on it).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        workers: Option<u32>,
    },
    /// Continue an interrupted run.
    Resume {
        run_dir: PathBuf,
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        workers: Option<u32>,
    },
    /// Rebuild trials.csv, summary.json and best_so_far.png of a run from its store.
    Report { run_dir: PathBuf },
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("XNAS_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let code = e
                .downcast_ref::<HostError>()
                .map_or(1, HostError::exit_code);
            eprintln!("error: {e:#}");
            ExitCode::from(code as u8)
        }
    }
}

fn dispatch(cli: Cli) -> Result<u8> {
    let opts = |workers| RunOptions {
        workers,
        quiet: cli.quiet,
        plugin_dirs: cli.plugin_dirs.clone(),
    };
    match &cli.command {
        Command::Plugins { experiment } => list_plugins(&cli.plugin_dirs, experiment.as_deref()),
        Command::Validate { file } => {
            let exp = Experiment::load(file)?;
            let registry = run::discover(&exp, &cli.plugin_dirs);
            let resolved = exp.resolve_plugins(&registry)?;
            let space = exp.create_space(&resolved.space)?;
            // Loads the earlier runs and the meta-dataset file as a run would, so bad rows and
            // the target's data are caught here.
            let imported = run::knowledge::preview(&exp, &space, resolved.space.name())?;
            println!(
                "{}: ok — {} with {} on {} ({} source task{})",
                file.display(),
                resolved.transfer.as_ref().map_or(
                    resolved.optimizer.name().to_string(),
                    |t| format!("{}({})", t.name(), resolved.optimizer.name())
                ),
                resolved.space.name(),
                exp.file.tasks.target.get_ref(),
                exp.file.tasks.sources.len(),
                if exp.file.tasks.sources.len() == 1 {
                    ""
                } else {
                    "s"
                }
            );
            for o in &imported {
                let n: u64 = o.counts.values().sum();
                println!(
                    "source knowledge: {n} observation{} from {} {}",
                    if n == 1 { "" } else { "s" },
                    match o.origin {
                        run::knowledge::OriginKind::Run => "run",
                        _ => "file",
                    },
                    o.path.as_deref().unwrap_or_default()
                );
            }
            Ok(0)
        }
        Command::Run { file, out, workers } => {
            let exp = Experiment::load(file)?;
            let run_dir = out
                .clone()
                .unwrap_or_else(|| Path::new("runs").join(exp.file.experiment.name.get_ref()));
            report_outcome(run::start(exp, &run_dir, &opts(*workers))?)
        }
        Command::Resume { run_dir, workers } => {
            report_outcome(run::resume(run_dir, &opts(*workers))?)
        }
        Command::Report { run_dir } => {
            let summary = run::rebuild_reports(run_dir, &cli.plugin_dirs)?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(0)
        }
    }
}

fn report_outcome(outcome: RunOutcome) -> Result<u8> {
    let s = &outcome.summary;
    match &s.best {
        Some(b) => println!(
            "best {} on {}: metric {:.4}{}{} (trial {}, {} evaluations, {} failed)",
            b.arch,
            s.target,
            b.metric,
            b.test_metric
                .map(|t| format!(", test {t:.4}"))
                .unwrap_or_default(),
            s.regret
                .map(|r| format!(", regret {r:.4}"))
                .unwrap_or_default(),
            b.trial_id,
            s.evaluations,
            s.failed
        ),
        None => println!(
            "no successful evaluation on {} ({} evaluations, {} failed)",
            s.target, s.evaluations, s.failed
        ),
    }
    println!("run directory: {}", outcome.run_dir.display());
    Ok(if s.failed > 0 { 1 } else { 0 })
}

fn list_plugins(extra_dirs: &[PathBuf], experiment: Option<&Path>) -> Result<u8> {
    let registry = match experiment {
        Some(f) => run::discover(&Experiment::load(f)?, extra_dirs),
        None => {
            let dirs = extra_dirs
                .iter()
                .cloned()
                .chain(xnas_host::plugins::default_search_dirs());
            Registry::discover(&dirs.map(Source::Dir).collect::<Vec<_>>())
        }
    };
    let mut entries: Vec<_> = registry.entries.iter().collect();
    entries.sort_by(|a, b| (a.info.kind, a.name()).cmp(&(b.info.kind, b.name())));
    if entries.is_empty() {
        println!("no plugins found (searched --plugin-dir, XNAS_PLUGIN_PATH and next to the xnas binary)");
    } else {
        println!(
            "{:<18} {:<13} {:<8} {:<40} FILE",
            "NAME", "KIND", "VERSION", "CAPABILITIES"
        );
        for e in entries {
            let caps: Vec<&str> = e.info.capabilities.iter().map(|c| c.as_str()).collect();
            println!(
                "{:<18} {:<13} {:<8} {:<40} {}",
                e.name(),
                e.info.kind.name(),
                e.info.version.as_str(),
                caps.join(","),
                e.origin.describe()
            );
        }
    }
    for (name, what) in &registry.shadowed {
        eprintln!("note: plugin `{name}` also in {what}");
    }
    for f in &registry.failures {
        eprintln!("error: {f}");
    }
    Ok(if registry.failures.is_empty() { 0 } else { 2 })
}
