//! The experiment part of a comparison or ablation file: every section but `[compare]` or
//! `[ablation]`. It stays a TOML table, from which each generated run's experiment file is made
//! (so sections the planner does not know pass through as written), and is read through the
//! typed [`TemplateView`] where the planner needs a value.

use super::toml_error;
use crate::error::HostResult;
use serde::Deserialize;
use std::path::Path;

/// The values a planner reads from the experiment part. Other keys are left to the generated
/// runs, whose own parse checks them.
#[derive(Debug, Default, Deserialize)]
pub struct TemplateView {
    #[serde(default)]
    pub experiment: ExperimentView,
    #[serde(default)]
    pub tasks: TasksView,
    #[serde(default)]
    pub executor: ExecutorView,
}

#[derive(Debug, Default, Deserialize)]
pub struct ExperimentView {
    pub name: Option<String>,
    pub seed: Option<i64>,
    pub budget: Option<BudgetView>,
}

#[derive(Debug, Default, Deserialize)]
pub struct BudgetView {
    pub evaluations: Option<i64>,
    pub seconds: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct TasksView {
    pub target: Option<String>,
    #[serde(default)]
    pub sources: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ExecutorView {
    pub workers: Option<i64>,
}

impl TemplateView {
    /// Reads the view from a file's text; a value of the wrong type is reported at its position.
    pub fn parse(text: &str, path: &Path) -> HostResult<TemplateView> {
        toml::from_str(text).map_err(|e| toml_error(text, path, &e))
    }
}

/// The file's text as a table without its `section` (`compare`, `ablation`).
pub fn template(text: &str, path: &Path, section: &str) -> HostResult<toml::Table> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| toml_error(text, path, &e))?;
    table.remove(section);
    Ok(table)
}
