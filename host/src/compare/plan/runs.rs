//! The experiment file of each run: the comparison file's experiment part with the run's name,
//! seed, target, sources and variant sections.

use super::{slug, PlannedRun, VariantSpec};
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// Every (target, variant, seed) of the comparison, in that order, with its directory and file.
pub(super) fn planned_runs(
    template: &Table,
    name: &str,
    variants: &[VariantSpec],
    targets: &[(String, Vec<String>)],
    seeds: &[u64],
) -> Vec<PlannedRun> {
    let mut runs = Vec::new();
    for (target, sources) in targets {
        for v in variants {
            for &seed in seeds {
                let dir = PathBuf::from("runs")
                    .join(slug(target))
                    .join(slug(&v.name))
                    .join(format!("seed-{seed}"));
                runs.push(PlannedRun {
                    target: target.clone(),
                    variant: v.name.clone(),
                    seed,
                    dir,
                    experiment: run_file(template, name, v, target, sources, seed),
                });
            }
        }
    }
    runs
}

/// The experiment file of one run.
fn run_file(
    template: &Table,
    name: &str,
    v: &VariantSpec,
    target: &str,
    sources: &[String],
    seed: u64,
) -> String {
    let mut t = template.clone();
    let exp = t
        .entry("experiment")
        .or_insert_with(|| Value::Table(Table::new()));
    if let Some(e) = exp.as_table_mut() {
        e.insert(
            "name".into(),
            Value::String(format!("{name}/{target}/{}/seed-{seed}", v.name)),
        );
        e.insert("seed".into(), Value::Integer(seed as i64));
    }
    let tasks = t
        .entry("tasks")
        .or_insert_with(|| Value::Table(Table::new()));
    if let Some(tasks) = tasks.as_table_mut() {
        tasks.insert("target".into(), Value::String(target.into()));
        tasks.insert(
            "sources".into(),
            Value::Array(sources.iter().cloned().map(Value::String).collect()),
        );
    }
    if let Some(o) = &v.optimizer {
        t.insert("optimizer".into(), Value::Table(o.clone()));
    }
    if let Some(x) = &v.transfer {
        t.insert("transfer".into(), Value::Table(x.clone()));
    }
    if let Some(x) = &v.similarity {
        t.insert("similarity".into(), Value::Table(x.clone()));
    }
    format!(
        "# Written by `xnas compare` for variant `{}`, target {target}, seed {seed}.\n{}",
        v.name,
        toml::to_string(&t).expect("a TOML table serialises")
    )
}

/// Relative paths of the comparison file (in `[plugins]`, `[tasks]` and any plugin's
/// parameters) resolve against its folder. The generated files live elsewhere, so they name that
/// folder as their `[experiment] base_dir`, absolute.
pub(super) fn set_base_dir(t: &mut Table, base: &Path) {
    let Some(exp) = t.get_mut("experiment").and_then(Value::as_table_mut) else {
        return;
    };
    // One the comparison file gives is kept (and checked like any run's).
    exp.entry("base_dir")
        .or_insert_with(|| Value::String(base.display().to_string()));
}
