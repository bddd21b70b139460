//! The `[compare]` section and the runs it expands to: one ordinary experiment file per
//! (target, variant, seed), written into the comparison directory and run by `xnas run`.
//!
//! Every run of one (target, seed) shares everything but its `[optimizer]`/`[transfer]`
//! sections: the same seed, sources and source knowledge, so variants differ only in the
//! optimizer.

use crate::config::toml_error;
use crate::error::{HostError, HostResult};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

#[derive(Debug, Deserialize)]
struct CompareDoc {
    compare: Option<CompareSection>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareSection {
    /// The variants, in the order tables and legends list them.
    #[serde(rename = "variant")]
    pub variants: Vec<VariantSpec>,
    /// Target tasks: a list of names, or `"leave-one-out"` (every task of `tasks` in turn).
    pub targets: Targets,
    /// The task pool of a leave-one-out comparison; each target's sources are the others.
    #[serde(default)]
    pub tasks: Vec<String>,
    /// Number of seeds (`[experiment] seed`, +1, …) or the seeds themselves.
    pub seeds: Seeds,
    /// Target evaluations at which tables report regret (default: 10, 20, 50, 100 up to the budget, and the budget).
    #[serde(default)]
    pub budgets: Vec<u64>,
    /// Regret at or below which a run counts as having reached the quality threshold. Default:
    /// per target, the `reference` variant's mean regret at the full budget.
    pub threshold: Option<f64>,
    /// Variant whose final mean regret is the default threshold (default: the first variant
    /// that some transfer variant names as its plain one, else the first variant).
    pub reference: Option<String>,
    /// Runs at a time (default: the number of CPUs divided by `[executor] workers`).
    pub jobs: Option<usize>,
    /// Confidence level of the intervals.
    #[serde(default = "default_confidence")]
    pub confidence: f64,
}

fn default_confidence() -> f64 {
    0.95
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Targets {
    Named(Vec<String>),
    Mode(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Seeds {
    Count(u64),
    List(Vec<u64>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantSpec {
    pub name: String,
    /// `[optimizer]` of this variant's runs: `{ plugin = "nao", params = { … } }`.
    pub optimizer: Option<Table>,
    /// `[transfer]` of this variant's runs: `{ plugin = "xfer", params = { … } }`.
    pub transfer: Option<Table>,
    /// `[similarity]` of this variant's runs: `{ plugin = "landmark-archs", top_k = 3 }` (the
    /// variant then searches with the sources it ranks nearest).
    pub similarity: Option<Table>,
    /// The plain variant this transfer variant is tested against (default: the variant with
    /// the same optimizer plugin and no transfer).
    pub plain: Option<String>,
}

/// One run of the comparison.
#[derive(Debug, Clone)]
pub struct PlannedRun {
    pub target: String,
    pub variant: String,
    pub seed: u64,
    /// `runs/<target>/<variant slug>/seed-<seed>`, relative to the comparison directory.
    pub dir: PathBuf,
    /// The experiment file of this run.
    pub experiment: String,
}

impl PlannedRun {
    pub fn file(&self) -> PathBuf {
        self.dir.with_extension("toml")
    }
}

/// A (transfer, plain) pair tested against each other.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Pair {
    pub transfer: String,
    pub plain: String,
}

/// A comparison file, expanded.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    pub section: CompareSection,
    pub variants: Vec<String>,
    pub targets: Vec<String>,
    pub seeds: Vec<u64>,
    pub budget: u64,
    pub budgets: Vec<u64>,
    pub pairs: Vec<Pair>,
    pub reference: String,
    pub workers: u64,
    pub runs: Vec<PlannedRun>,
}

/// Directory-safe variant name: `xfer(nao)` → `xfer-nao`.
pub fn slug(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars() {
        match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' | '.' => s.push(c),
            _ if !s.ends_with('-') => s.push('-'),
            _ => {}
        }
    }
    s.trim_matches('-').to_string()
}

struct Ctx<'a> {
    file: &'a Path,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(&self, message: impl Into<String>) -> HostError {
        HostError::ConfigFile {
            file: self.file.display().to_string(),
            message: message.into(),
        }
    }
}

/// Parses a comparison file and expands it to its runs.
pub fn load(path: &Path) -> HostResult<Plan> {
    let text = std::fs::read_to_string(path).map_err(|e| HostError::ConfigFile {
        file: path.display().to_string(),
        message: format!("cannot read the comparison file: {e}"),
    })?;
    parse(&text, path, &crate::config::folder_of(path))
}

pub fn parse(text: &str, path: &Path, base_dir: &Path) -> HostResult<Plan> {
    let ctx = Ctx { file: path, text };
    let position = |e: toml::de::Error| toml_error(ctx.text, path, &e);
    let doc: CompareDoc = toml::from_str(text).map_err(position)?;
    let section = doc.compare.ok_or_else(|| {
        ctx.err("no [compare] section: `xnas compare` needs one (see docs/config.md#compare); use `xnas run` for a single experiment")
    })?;
    let mut template: Table = toml::from_str(text).map_err(position)?;
    template.remove("compare");
    for key in ["optimizer", "transfer"] {
        if template.contains_key(key) {
            return Err(ctx.err(format!(
                "[{key}] belongs to each variant in a comparison: move it into the [[compare.variant]] entries"
            )));
        }
    }
    set_base_dir(&mut template, base_dir);

    let name = template
        .get("experiment")
        .and_then(|e| e.get("name"))
        .and_then(Value::as_str)
        .ok_or_else(|| ctx.err("[experiment] needs a `name`"))?
        .to_string();
    let base_seed = template
        .get("experiment")
        .and_then(|e| e.get("seed"))
        .and_then(Value::as_integer)
        .unwrap_or(0) as u64;
    let budget = template
        .get("experiment")
        .and_then(|e| e.get("budget"))
        .and_then(|b| b.get("evaluations"))
        .and_then(Value::as_integer)
        .filter(|b| *b > 0)
        .ok_or_else(|| {
            ctx.err("a comparison needs `[experiment] budget = { evaluations = N }` (regret is compared per evaluation)")
        })? as u64;
    let workers = template
        .get("executor")
        .and_then(|e| e.get("workers"))
        .and_then(Value::as_integer)
        .unwrap_or(1)
        .max(1) as u64;

    // Variants.
    if section.variants.is_empty() {
        return Err(ctx.err("[compare] lists no variant: add [[compare.variant]] entries"));
    }
    let mut names = BTreeSet::new();
    let mut slugs = BTreeSet::new();
    for v in &section.variants {
        if v.name.trim().is_empty() {
            return Err(ctx.err("a [[compare.variant]] has an empty name"));
        }
        if !names.insert(v.name.clone()) {
            return Err(ctx.err(format!("variant `{}` is listed twice", v.name)));
        }
        if !slugs.insert(slug(&v.name)) {
            return Err(ctx.err(format!(
                "variant `{}` has the same directory name `{}` as another variant: rename one",
                v.name,
                slug(&v.name)
            )));
        }
        if v.optimizer.is_none() && v.transfer.is_none() {
            return Err(ctx.err(format!(
                "variant `{}` needs `optimizer = {{ plugin = \"…\" }}` (and `transfer` for a transfer variant)",
                v.name
            )));
        }
    }
    let variants: Vec<String> = section.variants.iter().map(|v| v.name.clone()).collect();
    let pairs = pairs(&section, &ctx)?;
    let reference = match &section.reference {
        Some(r) if !names.contains(r) => {
            return Err(ctx.err(format!(
                "reference = \"{r}\" is not a variant (variants: {})",
                variants.join(", ")
            )))
        }
        Some(r) => r.clone(),
        None => pairs
            .first()
            .map_or_else(|| variants[0].clone(), |p| p.plain.clone()),
    };
    if !(section.confidence > 0.0 && section.confidence < 1.0) {
        return Err(ctx.err("confidence must lie between 0 and 1, e.g. 0.95"));
    }
    if let Some(t) = section.threshold {
        if !t.is_finite() || t < 0.0 {
            return Err(ctx.err("threshold is a regret: a number ≥ 0"));
        }
    }
    if section.jobs == Some(0) {
        return Err(ctx.err("jobs must be at least 1"));
    }

    // Targets and their sources.
    let listed_sources: Vec<String> = template
        .get("tasks")
        .and_then(|t| t.get("sources"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let targets: Vec<(String, Vec<String>)> = match &section.targets {
        Targets::Mode(m) if m == "leave-one-out" => {
            if section.tasks.len() < 2 {
                return Err(ctx.err(
                    "targets = \"leave-one-out\" needs `tasks = [...]` in [compare] with at least two tasks",
                ));
            }
            section
                .tasks
                .iter()
                .map(|t| {
                    let others = section.tasks.iter().filter(|s| *s != t).cloned().collect();
                    (t.clone(), others)
                })
                .collect()
        }
        Targets::Mode(m) => {
            return Err(ctx.err(format!(
                "targets = \"{m}\": give a list of task names or \"leave-one-out\""
            )))
        }
        Targets::Named(list) => {
            if list.is_empty() {
                return Err(ctx.err("targets is empty: name at least one target task"));
            }
            if !section.tasks.is_empty() {
                return Err(ctx.err(
                    "[compare] tasks is only for targets = \"leave-one-out\"; with named targets, sources come from [tasks] sources",
                ));
            }
            // A target never learns from itself: it is dropped from the listed sources.
            list.iter()
                .map(|t| {
                    let s = listed_sources.iter().filter(|s| *s != t).cloned().collect();
                    (t.clone(), s)
                })
                .collect()
        }
    };
    let mut seen = BTreeSet::new();
    for (t, _) in &targets {
        if !seen.insert(t) {
            return Err(ctx.err(format!("target `{t}` is listed twice")));
        }
    }
    let seeds: Vec<u64> = match &section.seeds {
        Seeds::Count(0) => return Err(ctx.err("seeds must be at least 1")),
        Seeds::Count(n) => (0..*n).map(|i| base_seed + i).collect(),
        Seeds::List(l) if l.is_empty() => return Err(ctx.err("seeds is empty")),
        Seeds::List(l) => {
            if l.iter().collect::<BTreeSet<_>>().len() != l.len() {
                return Err(ctx.err("seeds lists a seed twice"));
            }
            l.clone()
        }
    };
    let budgets = match section.budgets.as_slice() {
        [] => {
            let mut b: Vec<u64> = [10, 20, 50, 100]
                .into_iter()
                .filter(|b| *b < budget)
                .collect();
            b.push(budget);
            b
        }
        list => {
            if let Some(b) = list.iter().find(|b| **b == 0 || **b > budget) {
                return Err(ctx.err(format!(
                    "budgets: {b} is outside 1..={budget} (the evaluation budget)"
                )));
            }
            let mut b = list.to_vec();
            b.sort_unstable();
            b.dedup();
            b
        }
    };

    let mut runs = Vec::new();
    for (target, sources) in &targets {
        for v in &section.variants {
            for &seed in &seeds {
                let dir = PathBuf::from("runs")
                    .join(slug(target))
                    .join(slug(&v.name))
                    .join(format!("seed-{seed}"));
                let experiment = run_file(&template, &name, v, target, sources, seed);
                runs.push(PlannedRun {
                    target: target.clone(),
                    variant: v.name.clone(),
                    seed,
                    dir,
                    experiment,
                });
            }
        }
    }
    Ok(Plan {
        name,
        variants,
        targets: targets.into_iter().map(|(t, _)| t).collect(),
        seeds,
        budget,
        budgets,
        pairs,
        reference,
        workers,
        runs,
        section,
    })
}

/// Transfer variants and their plain counterparts.
fn pairs(section: &CompareSection, ctx: &Ctx) -> HostResult<Vec<Pair>> {
    let plugin = |t: &Option<Table>| {
        t.as_ref()
            .and_then(|t| t.get("plugin"))
            .and_then(Value::as_str)
            .map(String::from)
    };
    let wrapped = |v: &VariantSpec| {
        plugin(&v.optimizer).or_else(|| {
            v.transfer
                .as_ref()
                .and_then(|t| t.get("wraps"))
                .and_then(Value::as_str)
                .map(String::from)
        })
    };
    let mut out = Vec::new();
    for v in section.variants.iter().filter(|v| v.transfer.is_some()) {
        let plain = match &v.plain {
            Some(p) => {
                let Some(pv) = section.variants.iter().find(|x| &x.name == p) else {
                    return Err(ctx.err(format!(
                        "variant `{}`: plain = \"{p}\" is not a variant",
                        v.name
                    )));
                };
                if pv.transfer.is_some() {
                    return Err(ctx.err(format!(
                        "variant `{}`: plain = \"{p}\" is itself a transfer variant",
                        v.name
                    )));
                }
                p.clone()
            }
            None => {
                let inner = wrapped(v);
                match section
                    .variants
                    .iter()
                    .find(|x| x.transfer.is_none() && plugin(&x.optimizer) == inner)
                {
                    Some(x) => x.name.clone(),
                    // A transfer variant without a plain one is shown, just not tested.
                    None => continue,
                }
            }
        };
        out.push(Pair {
            transfer: v.name.clone(),
            plain,
        });
    }
    Ok(out)
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
fn set_base_dir(t: &mut Table, base: &Path) {
    let Some(exp) = t.get_mut("experiment").and_then(Value::as_table_mut) else {
        return;
    };
    // One the comparison file gives is kept (and checked like any run's).
    exp.entry("base_dir")
        .or_insert_with(|| Value::String(base.display().to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[experiment]
name = "cmp"
seed = 3
budget = { evaluations = 40 }

[search_space]
plugin = "nasbench-graph"

[tasks]
source_samples = 20

[compare]
targets = "leave-one-out"
tasks = ["cora", "citeseer", "pubmed"]
seeds = 2

[[compare.variant]]
name = "nao"
optimizer = { plugin = "nao", params = { epochs = 5 } }

[[compare.variant]]
name = "xfer(nao)"
optimizer = { plugin = "nao", params = { epochs = 5 } }
transfer = { plugin = "xfer" }

[[compare.variant]]
name = "random"
optimizer = { plugin = "random" }
"#;

    fn plan(text: &str) -> HostResult<Plan> {
        parse(text, Path::new("cmp.toml"), Path::new("/base"))
    }

    #[test]
    fn leave_one_out_expands_targets_variants_and_seeds() {
        let p = plan(FILE).unwrap();
        assert_eq!(p.targets, ["cora", "citeseer", "pubmed"]);
        assert_eq!(p.seeds, [3, 4]);
        assert_eq!(p.runs.len(), 3 * 3 * 2);
        assert_eq!(p.budgets, [10, 20, 40]);
        assert_eq!(p.pairs.len(), 1);
        assert_eq!(
            (p.pairs[0].transfer.as_str(), p.pairs[0].plain.as_str()),
            ("xfer(nao)", "nao")
        );
        assert_eq!(p.reference, "nao");
        let r = p
            .runs
            .iter()
            .find(|r| r.target == "citeseer" && r.variant == "xfer(nao)" && r.seed == 4)
            .unwrap();
        assert_eq!(r.dir, Path::new("runs/citeseer/xfer-nao/seed-4"));
        let t: Table = toml::from_str(&r.experiment).unwrap();
        assert_eq!(t["tasks"]["target"].as_str(), Some("citeseer"));
        let sources: Vec<&str> = t["tasks"]["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(sources, ["cora", "pubmed"]);
        assert_eq!(t["experiment"]["seed"].as_integer(), Some(4));
        assert_eq!(t["transfer"]["plugin"].as_str(), Some("xfer"));
        assert!(!t.contains_key("compare"));
        // The plain run of the same seed shares everything but the optimizer sections.
        let plain = p
            .runs
            .iter()
            .find(|r| r.target == "citeseer" && r.variant == "nao" && r.seed == 4)
            .unwrap();
        let mut a: Table = toml::from_str(&plain.experiment).unwrap();
        let mut b = t.clone();
        for x in [&mut a, &mut b] {
            x.remove("transfer");
            x["experiment"].as_table_mut().unwrap().remove("name");
        }
        assert_eq!(a, b);
    }

    #[test]
    fn mistakes_are_named() {
        let bad = FILE.replace(
            "transfer = { plugin = \"xfer\" }",
            "transfer = { plugin = \"xfer\" }\nplain = \"missing\"",
        );
        let e = plan(&bad).unwrap_err().to_string();
        assert!(
            e.contains("variant `xfer(nao)`: plain = \"missing\" is not a variant"),
            "{e}"
        );
        let e = plan(&FILE.replace("name = \"random\"", "name = \"nao\""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("variant `nao` is listed twice"), "{e}");
        let e = plan(&FILE.replace("seeds = 2", "seeds = 2\nbudgets = [50]"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("budgets: 50 is outside 1..=40"), "{e}");
        let e = plan(&FILE.replace("seeds = 2", "seeds = 2\nbogus = 1"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("cmp.toml:") && e.contains("unknown field `bogus`"),
            "{e}"
        );
        let e = plan(&FILE.replace("\"leave-one-out\"", "\"all\""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"leave-one-out\""), "{e}");
        let e = plan(&format!("[optimizer]\nplugin = \"random\"\n{FILE}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("[optimizer] belongs to each variant"), "{e}");
    }

    #[test]
    fn named_targets_drop_themselves_from_the_sources_and_paths_keep_the_files_folder() {
        let text = FILE
            .replace(
                "targets = \"leave-one-out\"\ntasks = [\"cora\", \"citeseer\", \"pubmed\"]",
                "targets = [\"cora\"]",
            )
            .replace(
                "source_samples = 20",
                "source_samples = 20\nsources = [\"cora\", \"pubmed\"]\nsource_file = \"meta.csv\"",
            );
        let p = plan(&text).unwrap();
        let t: Table = toml::from_str(&p.runs[0].experiment).unwrap();
        assert_eq!(t["tasks"]["sources"].as_array().unwrap().len(), 1);
        assert_eq!(t["tasks"]["source_file"].as_str(), Some("meta.csv"));
        assert_eq!(t["experiment"]["base_dir"].as_str(), Some("/base"));
    }

    #[test]
    fn slugs_are_directory_safe() {
        assert_eq!(slug("xfer(nao)"), "xfer-nao");
        assert_eq!(slug("xfer(rl-controller)"), "xfer-rl-controller");
        assert_eq!(slug("a b/c"), "a-b-c");
    }
}
