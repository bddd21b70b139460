//! `xnas`: parse the command line, run, map the result to an exit code
//! (0 success, 1 a run that failed or finished with failed trials, 2 bad input or plugins,
//! 128 + the signal's number when a stop signal ended it: 130 SIGINT, 143 SIGTERM, 129 SIGHUP).

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;
use xnas_host::config::Experiment;
use xnas_host::executor::slurm;
use xnas_host::plugins::assemble;
use xnas_host::run::{self, RunOptions};
use xnas_host::HostError;

/// `print!` and `println!` that a closed stdout (`xnas report DIR | head`) does not turn into a
/// panic: the output stops and the command finishes with its own exit code.
macro_rules! out {
    ($($arg:tt)*) => { crate::write_stdout(format_args!($($arg)*)) };
}
macro_rules! outln {
    ($($arg:tt)*) => { crate::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

// What the commands print on success (after the macros, which it uses).
mod output;
use output::{list_plugins, print_ablation, print_comparison, report_outcome};

fn write_stdout(args: std::fmt::Arguments) {
    use std::io::Write;
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("warning: cannot write to stdout: {e}");
        }
    }
}

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
    /// Check an experiment, comparison or ablation file and its plugins without running anything.
    Validate { file: PathBuf },
    /// Run an experiment.
    Run {
        file: PathBuf,
        /// Run directory (default: runs/<experiment name>).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Number of local workers (overrides [executor] workers; results do not depend on it).
        #[arg(long, value_parser = workers())]
        workers: Option<u32>,
    },
    /// Continue an interrupted run.
    Resume {
        run_dir: PathBuf,
        #[arg(long, value_parser = workers())]
        workers: Option<u32>,
        /// Go on although a data file, table or plugin library changed since the run started
        /// (the change is recorded in the run; results before and after it are mixed).
        #[arg(long)]
        accept_changed_inputs: bool,
    },
    /// Evaluate trials of a run on the Slurm executor (what its job arrays run on the compute
    /// nodes): each result is written once to RUN_DIR/slurm/results/ID.json.
    Worker {
        run_dir: PathBuf,
        /// Trial ids to evaluate (one or a chunk).
        #[arg(long = "trial", value_name = "ID", required = true, num_args = 1..)]
        trials: Vec<u64>,
    },
    /// Write a run's store, with everything its WAL holds, as one self-contained SQLite file
    /// (a copy of a run that `xnas resume` and `xnas report` can use as DIR/store.sqlite).
    Export { run_dir: PathBuf, file: PathBuf },
    /// Compare optimizer variants (plain and transfer) over targets and seeds: runs every
    /// (target, variant, seed), then writes curves.csv, summary.md/.json and plots.
    /// Running it again resumes an interrupted comparison.
    Compare {
        file: PathBuf,
        /// Comparison directory (default: runs/<experiment name>).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Runs at a time (overrides [compare] jobs; results do not depend on it).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        jobs: Option<u32>,
        /// Resume the interrupted runs although a data file, table or plugin library changed
        /// since they started (as `xnas resume --accept-changed-inputs`, recorded in each run).
        #[arg(long)]
        accept_changed_inputs: bool,
    },
    /// The XferNAS ablation: Spearman correlation of the transferred surrogate on held-out target
    /// architectures over a grid of source and target knowledge. Running it again resumes.
    Ablation {
        file: PathBuf,
        /// Ablation directory (default: runs/<experiment name>).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Embed the target and every source of an experiment with its [similarity] plugin; print
    /// the task distance matrix and write distances.csv, similarity.json and heatmap.png/.svg.
    Similarity {
        file: PathBuf,
        /// Output directory (default: runs/similarity-<experiment name>).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Workers evaluating landmark architectures (overrides [executor] workers).
        #[arg(long, value_parser = workers())]
        workers: Option<u32>,
    },
    /// Rebuild the reports of a run (trials.csv, summary.json, best_so_far.png) or of a
    /// comparison (curves.csv, summary.md/.json, plots/) from stored results.
    Report { run_dir: PathBuf },
    /// Train one architecture to the end with a trainable search space (the final training of a
    /// found cell). ARCH is an architecture file (JSON) or a run directory (its best architecture).
    Train {
        arch: PathBuf,
        /// Take the search space's settings (datasets, training recipe) from this experiment file (for an architecture file; a run directory uses its own).
        #[arg(long, value_name = "FILE")]
        experiment: Option<PathBuf>,
        /// Task to train on (default: the file's task, or the run's target).
        #[arg(long)]
        task: Option<String>,
        /// Normal cells per stage (N).
        #[arg(long)]
        cells: Option<u64>,
        /// Initial filters (F).
        #[arg(long)]
        filters: Option<u64>,
        #[arg(long)]
        epochs: Option<u64>,
        /// "cpu", "cuda", "cuda:N" or "auto".
        #[arg(long)]
        device: Option<String>,
        /// Any other parameter of the space, as KEY=VALUE (TOML value), e.g. --set cutout=16.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output directory (default: runs/train-<name>-<task>).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// `--workers`: 1 to [`xnas_host::config::MAX_WORKERS`].
fn workers() -> clap::builder::RangedI64ValueParser<u32> {
    clap::value_parser!(u32).range(1..=i64::from(xnas_host::config::MAX_WORKERS))
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
    // Training one network takes long: show its per-epoch progress (info) unless --quiet.
    let training = matches!(cli.command, Command::Train { .. }) && !cli.quiet;
    init_logging(cli.verbose.max(u8::from(training)));
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let host = e.downcast_ref::<HostError>();
            let code = host.map_or(1, HostError::exit_code);
            match host {
                // Not an error: what was asked for, with how to go on.
                Some(HostError::Stopped { .. }) => eprintln!("{e:#}"),
                _ => eprintln!("error: {e:#}"),
            }
            ExitCode::from(code as u8)
        }
    }
}

fn dispatch(cli: Cli) -> Result<u8> {
    check_out(&cli.command)?;
    if matches!(
        cli.command,
        Command::Run { .. } | Command::Resume { .. } | Command::Compare { .. }
    ) {
        // These stop cleanly on SIGTERM, SIGINT and SIGHUP; the others die at once as usual.
        xnas_host::stop::install()?;
    }
    let opts = |workers| RunOptions {
        workers,
        quiet: cli.quiet,
        plugin_dirs: cli.plugin_dirs.clone(),
        accept_changed_inputs: false,
    };
    match &cli.command {
        Command::Plugins { experiment } => list_plugins(&cli.plugin_dirs, experiment.as_deref()),
        Command::Validate { file } => {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            if xnas_host::config::has_section(&text, "compare") {
                let plan = xnas_host::compare::check(file, &cli.plugin_dirs)?;
                outln!(
                    "{}: ok — comparison of {} variant{} on {} target{} × {} seed{} ({} runs)",
                    file.display(),
                    plan.variants.len(),
                    plural(plan.variants.len()),
                    plan.targets.len(),
                    plural(plan.targets.len()),
                    plan.seeds.len(),
                    plural(plan.seeds.len()),
                    plan.runs.len()
                );
                return Ok(0);
            }
            if xnas_host::config::has_section(&text, "ablation") {
                let ab = xnas_host::ablation::check(file, &cli.plugin_dirs)?;
                let s = &ab.section;
                outln!(
                    "{}: ok — ablation on {} ({} source × {} target knowledge sizes, {} split{})",
                    file.display(),
                    ab.targets.join(", "),
                    s.source_knowledge.len(),
                    s.target_knowledge.len(),
                    s.splits,
                    plural(s.splits as usize)
                );
                return Ok(0);
            }
            let exp = Experiment::load(file)?;
            let registry = run::discover(&exp, &cli.plugin_dirs);
            let resolved = exp.resolve_plugins(&registry)?;
            let space = assemble::space(&exp, &resolved.space)?;
            // Loads the earlier runs and the meta-dataset file as a run would, so bad rows and
            // the target's data are caught here; then creates the optimizer as a run would.
            let imported = run::knowledge::preview(&exp, &space, resolved.space.name())?;
            // A one-shot optimizer is created as a run creates it (its first supernet is built);
            // an ask/tell optimizer is created once to check it.
            let one_shot = run::oneshot::prepare(&exp, &resolved, &space)?;
            if one_shot.is_none() {
                assemble::preflight(&exp, &resolved, &space)?;
            }
            outln!(
                "{}: ok — {} with {} on {} ({} source task{})",
                file.display(),
                resolved.transfer.as_ref().map_or(
                    resolved.optimizer.name().to_string(),
                    |t| format!("{}({})", t.name(), resolved.optimizer.name())
                ),
                resolved.space.name(),
                exp.file.tasks.target.get_ref(),
                exp.file.tasks.sources.len(),
                plural(exp.file.tasks.sources.len())
            );
            if let Some(p) = &one_shot {
                outln!(
                    "one-shot search: a supernet of {} edges over {} candidate ops, {} derived \
                     architecture{} evaluated",
                    p.layout.edges.len(),
                    p.layout.ops.len(),
                    exp.derive_count(),
                    plural(exp.derive_count() as usize)
                );
            }
            for o in &imported {
                let n: u64 = o.counts.values().sum();
                outln!(
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
            let text = std::fs::read_to_string(file).unwrap_or_default();
            // A comparison or ablation file is run by its own command.
            for (kind, section) in [("a comparison", "compare"), ("an ablation", "ablation")] {
                if xnas_host::config::has_section(&text, section) {
                    return Err(HostError::Usage(format!(
                        "{} is {kind} (it has an [{section}] section): run it with `xnas {section} {}`",
                        file.display(),
                        file.display()
                    ))
                    .into());
                }
            }
            let exp = Experiment::load(file)?;
            let run_dir = out
                .clone()
                .unwrap_or_else(|| Path::new("runs").join(exp.file.experiment.name.get_ref()));
            if let Some((m, code)) = slurm::job::submit_run(&exp, &run_dir, &cli.plugin_dirs)? {
                outln!("{m}");
                return Ok(code);
            }
            report_outcome(run::start(exp, &run_dir, &opts(*workers))?)
        }
        Command::Resume {
            run_dir,
            workers,
            accept_changed_inputs,
        } => {
            let opts = RunOptions {
                accept_changed_inputs: *accept_changed_inputs,
                ..opts(*workers)
            };
            if let Some((m, code)) = slurm::job::submit_resume(run_dir)? {
                outln!("{m}");
                return Ok(code);
            }
            report_outcome(run::resume(run_dir, &opts)?)
        }
        Command::Worker { run_dir, trials } => {
            xnas_host::executor::worker::work(run_dir, trials)?;
            Ok(0)
        }
        Command::Export { run_dir, file } => {
            let n = run::export(run_dir, file)?;
            outln!(
                "{}: {n} trial{} of {}, in one file",
                file.display(),
                plural(n),
                run_dir.display()
            );
            Ok(0)
        }
        Command::Compare {
            file,
            out,
            jobs,
            accept_changed_inputs,
        } => {
            let plan = xnas_host::compare::plan::load(file)?;
            let dir = out
                .clone()
                .unwrap_or_else(|| Path::new("runs").join(&plan.name));
            let opts = xnas_host::compare::CompareOptions {
                jobs: jobs.map(|j| j as usize),
                quiet: cli.quiet,
                plugin_dirs: cli.plugin_dirs.clone(),
                exe: std::env::current_exe()?,
                accept_changed_inputs: *accept_changed_inputs,
            };
            let outcome = xnas_host::compare::compare(file, &dir, &opts)?;
            print_comparison(&outcome.report, &dir);
            Ok(0)
        }
        Command::Similarity { file, out, workers } => {
            let exp = Experiment::load(file)?;
            let registry = run::discover(&exp, &cli.plugin_dirs);
            let resolved = exp.resolve_plugins(&registry)?;
            let space = assemble::space(&exp, &resolved.space)?;
            let dir = out.clone().unwrap_or_else(|| {
                Path::new("runs").join(format!("similarity-{}", exp.file.experiment.name.get_ref()))
            });
            let workers = workers.unwrap_or(*exp.file.executor.workers.get_ref()) as usize;
            let m = xnas_host::similarity::matrix(&exp, &resolved, &space, workers, &dir)?;
            out!("{}", xnas_host::similarity::table(&m));
            outln!(
                "written: {}/{{distances.csv,similarity.json,heatmap.png,heatmap.svg}}",
                dir.display()
            );
            Ok(0)
        }
        Command::Ablation { file, out } => {
            let (_, ab) = xnas_host::ablation::load(file)?;
            let dir = out
                .clone()
                .unwrap_or_else(|| Path::new("runs").join(&ab.name));
            let opts = xnas_host::ablation::AblationOptions {
                quiet: cli.quiet,
                plugin_dirs: cli.plugin_dirs.clone(),
            };
            let w = xnas_host::ablation::ablation(file, &dir, &opts)?;
            print_ablation(&w, &dir);
            Ok(0)
        }
        Command::Train {
            arch,
            experiment,
            task,
            cells,
            filters,
            epochs,
            device,
            set,
            seed,
            out,
        } => {
            let opts = xnas_host::train::TrainOptions {
                experiment: experiment.clone(),
                task: task.clone(),
                cells: *cells,
                filters: *filters,
                epochs: *epochs,
                device: device.clone(),
                set: set.clone(),
                seed: *seed,
                out: out.clone(),
                plugin_dirs: cli.plugin_dirs.clone(),
            };
            let o = xnas_host::train::train(arch, &opts)?;
            outln!("{} on {}: {}", o.name, o.task, o.arch);
            outln!(
                "validation metric {:.4}{} after {} epochs, {:.1} s{}",
                o.metric,
                o.test_metric
                    .map_or(String::new(), |t| format!(", test metric {t:.4}")),
                o.curve.len(),
                o.seconds,
                o.extras["parameters"]
                    .as_u64()
                    .map_or(String::new(), |p| format!(", {p} parameters"))
            );
            outln!("written: {}", o.out_dir.join("train.json").display());
            Ok(0)
        }
        Command::Report { run_dir } if xnas_host::ablation::is_ablation(run_dir) => {
            let w = xnas_host::ablation::report(run_dir)?;
            print_ablation(&w, run_dir);
            Ok(0)
        }
        Command::Report { run_dir } if xnas_host::compare::is_comparison(run_dir) => {
            let written = xnas_host::compare::report(run_dir)?;
            print_comparison(&written, run_dir);
            Ok(0)
        }
        Command::Report { run_dir } => {
            let summary = run::rebuild_reports(run_dir, &cli.plugin_dirs)?;
            outln!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(0)
        }
    }
}

/// An `--out` that names an existing file (not a directory) is bad input for every command.
fn check_out(command: &Command) -> Result<()> {
    let out = match command {
        Command::Run { out, .. }
        | Command::Compare { out, .. }
        | Command::Ablation { out, .. }
        | Command::Similarity { out, .. }
        | Command::Train { out, .. } => out.as_deref(),
        _ => None,
    };
    match out {
        Some(dir) if dir.exists() && !dir.is_dir() => Err(HostError::Usage(format!(
            "--out {} is a file, not a directory: give --out a directory",
            dir.display()
        ))
        .into()),
        _ => Ok(()),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
