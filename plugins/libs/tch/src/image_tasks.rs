//! The image tasks of the similarity plugins that read data (`task2vec`, `landmark-net`): one
//! [`DatasetSpec`] per task, found in the plugin's `tasks` table or named like a preset, loaded
//! once per process ([`load_task_cached`]).

use crate::data::{load_task_cached, DatasetSpec, TaskData, PRESETS};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use xnas_core::{PluginError, PluginResult, SimilarityInit};

/// One dataset per task; a task without a table that is named like a preset reads the preset.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct TaskTables(pub BTreeMap<String, DatasetSpec>);

impl TaskTables {
    pub fn spec(&self, task: &str) -> PluginResult<DatasetSpec> {
        if let Some(s) = self.0.get(task) {
            return Ok(s.clone());
        }
        if PRESETS.contains(&task) {
            return Ok(DatasetSpec {
                preset: Some(task.to_string()),
                ..Default::default()
            });
        }
        Err(PluginError::unknown_task(format!(
            "task `{task}` has no dataset: add a `[similarity.params.tasks.{task}]` table (or a \
             `[search_space.params.tasks.{task}]` one, which the similarity plugin also reads), for \
             example `preset = \"fashion-mnist\"`; see docs/data.md"
        )))
    }
}

/// Where tasks' files are found, and which spec each task has.
pub struct ImageTasks {
    tables: TaskTables,
    pub base_dir: PathBuf,
    data_dir: PathBuf,
}

impl ImageTasks {
    /// Reads every task of `init` up front: a missing or malformed file stops the run before it
    /// starts.
    pub fn new(tables: TaskTables, init: &SimilarityInit) -> PluginResult<ImageTasks> {
        let data_dir = if init.data_dir.is_empty() {
            crate::data::default_data_dir()
        } else {
            PathBuf::from(init.data_dir.as_str())
        };
        let me = ImageTasks {
            tables,
            base_dir: PathBuf::from(init.base_dir.as_str()),
            data_dir,
        };
        for t in init.tasks.iter() {
            me.task(t.as_str())?;
        }
        Ok(me)
    }

    pub fn task(&self, name: &str) -> PluginResult<Arc<TaskData>> {
        let spec = self.tables.spec(name)?;
        load_task_cached(name, &spec, &self.base_dir, &self.data_dir).map_err(Into::into)
    }

    /// A dataset that is not one of the tasks (`task2vec`'s probe data set).
    pub fn load(&self, name: &str, spec: &DatasetSpec) -> PluginResult<Arc<TaskData>> {
        load_task_cached(name, spec, &self.base_dir, &self.data_dir).map_err(Into::into)
    }
}
