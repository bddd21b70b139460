//! The ablation file: its `[ablation]` section and the experiment it varies, one per target.

use crate::config::template::{template, TemplateView};
use crate::config::{read_file, toml_error};
use crate::error::{HostError, HostResult};
use serde::Deserialize;
use std::path::Path;
use toml::{Table, Value};

#[derive(Debug, Deserialize)]
struct AblationDoc {
    ablation: Option<AblationSection>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AblationSection {
    /// Target tasks (default: `[tasks] target`); each one's sources are `[tasks] sources` but itself.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Architectures per source task (S).
    #[serde(default = "default_source")]
    pub source_knowledge: Vec<usize>,
    /// Evaluated target architectures (K).
    #[serde(default = "default_target")]
    pub target_knowledge: Vec<usize>,
    /// Held-out target architectures the correlation is measured on.
    #[serde(default = "default_held_out")]
    pub held_out: usize,
    #[serde(default = "default_splits")]
    pub splits: u64,
    #[serde(default = "default_confidence")]
    pub confidence: f64,
}

fn default_source() -> Vec<usize> {
    vec![0, 50, 100, 150]
}
fn default_target() -> Vec<usize> {
    vec![0, 10, 25, 50, 100, 150]
}
fn default_held_out() -> usize {
    50
}
fn default_splits() -> u64 {
    10
}
fn default_confidence() -> f64 {
    0.95
}

/// An ablation file: its section and the experiment it varies.
pub struct Ablation {
    pub section: AblationSection,
    pub name: String,
    pub targets: Vec<String>,
    /// The experiment part as an ordinary experiment file (budget filled in if absent).
    pub experiment_text: String,
}

/// Reads an ablation file: its text and what it says.
pub fn load(file: &Path) -> HostResult<(String, Ablation)> {
    let text = read_file(file, "ablation")?;
    let ablation = parse(&text, file)?;
    Ok((text, ablation))
}

pub fn parse(text: &str, path: &Path) -> HostResult<Ablation> {
    let err = |m: &str| HostError::ConfigFile {
        file: path.display().to_string(),
        message: m.into(),
    };
    let doc: AblationDoc = toml::from_str(text).map_err(|e| toml_error(text, path, &e))?;
    let mut section = doc.ablation.ok_or_else(|| {
        err("no [ablation] section: `xnas ablation` needs one (see docs/config.md#ablation)")
    })?;
    let view = TemplateView::parse(text, path)?;
    let mut t = template(text, path, "ablation")?;
    let name = view
        .experiment
        .name
        .ok_or_else(|| err("[experiment] needs a `name`"))?;
    if let Some(e) = t.get_mut("experiment").and_then(Value::as_table_mut) {
        // The ablation asks no architecture; a run needs a budget, so one is filled in.
        e.entry("budget").or_insert_with(|| {
            let mut b = Table::new();
            b.insert("evaluations".into(), Value::Integer(1));
            Value::Table(b)
        });
    }
    let targets = if section.targets.is_empty() {
        vec![view
            .tasks
            .target
            .ok_or_else(|| err("name the targets: `[tasks] target` or `[ablation] targets`"))?]
    } else {
        section.targets.clone()
    };
    if section.splits == 0 || section.held_out < 3 {
        return Err(err("[ablation] needs splits ≥ 1 and held_out ≥ 3"));
    }
    if section.source_knowledge.is_empty() || section.target_knowledge.is_empty() {
        return Err(err(
            "[ablation] source_knowledge and target_knowledge need at least one size each",
        ));
    }
    if !(section.confidence > 0.0 && section.confidence < 1.0) {
        return Err(err("confidence must lie between 0 and 1"));
    }
    section.source_knowledge.sort_unstable();
    section.source_knowledge.dedup();
    section.target_knowledge.sort_unstable();
    section.target_knowledge.dedup();
    // The experiment part stands for the first target; each target's own is made from it.
    if let Some(tasks) = t.get_mut("tasks").and_then(Value::as_table_mut) {
        tasks.insert("target".into(), Value::String(targets[0].clone()));
    }
    Ok(Ablation {
        section,
        name,
        targets,
        experiment_text: toml::to_string(&t).expect("a TOML table serialises"),
    })
}

impl Ablation {
    /// The experiment text for one target: sources are the listed ones but the target.
    pub fn experiment_text_for(&self, target: &str) -> String {
        let mut t: Table = toml::from_str(&self.experiment_text).expect("written by parse");
        if let Some(tasks) = t.get_mut("tasks").and_then(Value::as_table_mut) {
            tasks.insert("target".into(), Value::String(target.into()));
            if let Some(s) = tasks.get_mut("sources").and_then(Value::as_array_mut) {
                s.retain(|v| v.as_str() != Some(target));
            }
        }
        toml::to_string(&t).expect("a TOML table serialises")
    }
}
