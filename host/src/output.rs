//! What the `xnas` binary prints when a command succeeds: a run's best trial, a comparison's
//! and an ablation's overview, the plugin listing.

use anyhow::Result;
use std::path::{Path, PathBuf};
use xnas_host::config::Experiment;
use xnas_host::plugins::{Registry, Source};
use xnas_host::run::{self, RunOutcome};

pub(crate) fn print_comparison(w: &xnas_host::compare::summary::Written, dir: &Path) {
    out!("{}", xnas_host::compare::summary::overview(&w.summary));
    if let Some(e) = &w.plot_error {
        eprintln!("warning: plots not written: {e}");
    }
    outln!(
        "summary: {}\nplots:   {}\ncurves:  {}",
        dir.join("summary.md").display(),
        dir.join("plots").display(),
        dir.join("curves.csv").display()
    );
}

pub(crate) fn print_ablation(w: &xnas_host::ablation::Written, dir: &Path) {
    if let Some(t) = w.summary.tables.last() {
        outln!(
            "{}: Spearman ρ on {} held-out architectures, {} ({} splits)",
            w.summary.name,
            w.summary.held_out,
            t.target,
            w.summary.splits
        );
        for c in &t.cells {
            outln!(
                "  S = {:>4} per source, K = {:>4}: {:.3}",
                c.source_knowledge,
                c.target_knowledge,
                c.spearman.mean
            );
        }
    }
    if let Some(e) = &w.plot_error {
        eprintln!("warning: plots not written: {e}");
    }
    outln!(
        "table: {}\nplots: {}",
        dir.join("correlation.md").display(),
        dir.join("plots").display()
    );
}

pub(crate) fn report_outcome(outcome: RunOutcome) -> Result<u8> {
    let s = &outcome.summary;
    match &s.best {
        Some(b) => outln!(
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
        None => outln!(
            "no successful evaluation on {} ({} evaluations, {} failed)",
            s.target,
            s.evaluations,
            s.failed
        ),
    }
    outln!("run directory: {}", outcome.run_dir.display());
    Ok(if s.failed > 0 { 1 } else { 0 })
}

pub(crate) fn list_plugins(extra_dirs: &[PathBuf], experiment: Option<&Path>) -> Result<u8> {
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
        outln!("no plugins found (searched --plugin-dir, XNAS_PLUGIN_PATH, and next to the xnas binary and in its plugins/ folder)");
    } else {
        outln!(
            "{:<18} {:<13} {:<8} {:<40} FILE",
            "NAME",
            "KIND",
            "VERSION",
            "CAPABILITIES"
        );
        for e in entries {
            let caps: Vec<&str> = e.info.capabilities.iter().map(|c| c.as_str()).collect();
            outln!(
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
