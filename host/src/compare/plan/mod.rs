//! The `[compare]` section and the runs it expands to: one ordinary experiment file per
//! (target, variant, seed), written into the comparison directory and run by `xnas run`.
//!
//! Every run of one (target, seed) shares everything but its `[optimizer]`/`[transfer]`
//! sections: the same seed, sources and source knowledge, so variants differ only in the
//! optimizer.

mod checks;
mod runs;

use crate::config::template::{template, TemplateView};
use crate::config::{folder_of, read_file, toml_error};
use crate::error::{HostError, HostResult};
use checks::{budgets, check_variants, pairs, seeds, targets};
use runs::{planned_runs, set_base_dir};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use toml::Table;

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
    /// Runs at a time (default: the number of CPUs divided by `[executor] workers`; on Slurm,
    /// every run's job at once).
    pub jobs: Option<usize>,
    /// With `[executor] kind = "slurm"`: what one Slurm job is (docs/cluster.md).
    #[serde(default)]
    pub slurm_jobs: SlurmJobs,
    /// Confidence level of the intervals.
    #[serde(default = "default_confidence")]
    pub confidence: f64,
}

fn default_confidence() -> f64 {
    0.95
}

/// `[compare] slurm_jobs`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SlurmJobs {
    /// Each run is one job (`xnas run` in the job, its trials on the job's CPUs); the comparison
    /// waits for all of them with one `squeue` per poll.
    #[default]
    Run,
    /// An ask/tell run stays in the comparison's process (one `xnas run` on this machine) and
    /// submits its trials as job arrays; a one-shot run is still one job.
    Trial,
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
    /// `budget.seconds`, the time axis of a comparison that mixes one-shot and ask/tell variants.
    pub seconds: Option<f64>,
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
    let text = read_file(path, "comparison")?;
    parse(&text, path, &folder_of(path))
}

pub fn parse(text: &str, path: &Path, base_dir: &Path) -> HostResult<Plan> {
    let ctx = Ctx { file: path };
    let doc: CompareDoc = toml::from_str(text).map_err(|e| toml_error(text, path, &e))?;
    let section = doc.compare.ok_or_else(|| {
        ctx.err("no [compare] section: `xnas compare` needs one (see docs/config.md#compare); use `xnas run` for a single experiment")
    })?;
    let mut template = template(text, path, "compare")?;
    for key in ["optimizer", "transfer"] {
        if template.contains_key(key) {
            return Err(ctx.err(format!(
                "[{key}] belongs to each variant in a comparison: move it into the [[compare.variant]] entries"
            )));
        }
    }
    set_base_dir(&mut template, base_dir);
    let view = TemplateView::parse(text, path)?;
    let name = view
        .experiment
        .name
        .ok_or_else(|| ctx.err("[experiment] needs a `name`"))?;
    let seconds = view.experiment.budget.as_ref().and_then(|b| b.seconds);
    let budget = view
        .experiment
        .budget
        .and_then(|b| b.evaluations)
        .filter(|b| *b > 0)
        .ok_or_else(|| {
            ctx.err("a comparison needs `[experiment] budget = { evaluations = N }` (regret is compared per evaluation)")
        })? as u64;

    let variants = check_variants(&section, &ctx)?;
    let pairs = pairs(&section, &ctx)?;
    let reference = match &section.reference {
        Some(r) if !variants.contains(r) => {
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
    let targets = targets(&section, &view.tasks.sources, &ctx)?;
    let seeds = seeds(&section, view.experiment.seed.unwrap_or(0) as u64, &ctx)?;
    let budgets = budgets(&section, budget, &ctx)?;

    let runs = planned_runs(&template, &name, &section.variants, &targets, &seeds);
    Ok(Plan {
        name,
        variants,
        targets: targets.into_iter().map(|(t, _)| t).collect(),
        seeds,
        budget,
        seconds,
        budgets,
        pairs,
        reference,
        workers: view.executor.workers.unwrap_or(1).max(1) as u64,
        runs,
        section,
    })
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

    /// A variant's nested parameter table reaches the run's experiment file, which the host
    /// reads back (toml 0.8 refused the files it wrote from it: toml-rs/toml#798).
    #[test]
    fn nested_variant_parameters_reach_the_runs() {
        let text = FILE.replace(
            "optimizer = { plugin = \"random\" }",
            "optimizer = { plugin = \"rl-controller\", params = { head = { lr = 0.1 } } }",
        );
        // A base folder that exists: the run's file names it, and reading the file checks it.
        let base = std::env::temp_dir();
        let p = parse(&text, Path::new("cmp.toml"), &base).unwrap();
        let run = p.runs.iter().find(|r| r.variant == "random").unwrap();
        let e = crate::config::Experiment::parse(
            run.experiment.clone(),
            PathBuf::from("seed.toml"),
            base,
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", run.experiment));
        let params = e.optimizer_params().unwrap().get_ref();
        assert_eq!(params["head"]["lr"].as_float(), Some(0.1));
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
