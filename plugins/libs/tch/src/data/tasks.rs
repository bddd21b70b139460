//! [`TaskDatasets`]: the datasets a trainable space was given, one per task
//! (`[search_space.params.tasks.<task>]`), and where relative paths and presets are found.

use super::{default_data_dir, load_task_cached, DatasetSpec, TaskData};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use xnas_core::{PluginError, PluginResult, SpaceInit};

/// A space's datasets by task id.
#[derive(Clone, Debug)]
pub struct TaskDatasets {
    specs: BTreeMap<String, DatasetSpec>,
    base_dir: PathBuf,
    data_dir: PathBuf,
}

impl TaskDatasets {
    /// `base_dir` resolves relative paths (the experiment's folder); `data_dir` holds the presets'
    /// files, [`default_data_dir`] when empty (the host gave none).
    pub fn new(specs: BTreeMap<String, DatasetSpec>, base_dir: &str, data_dir: &str) -> Self {
        TaskDatasets {
            specs,
            base_dir: PathBuf::from(base_dir),
            data_dir: if data_dir.is_empty() {
                default_data_dir()
            } else {
                PathBuf::from(data_dir)
            },
        }
    }

    /// A space's datasets, with every task the experiment names (`init.tasks`) read once now, so
    /// a missing or malformed file is reported before anything runs.
    pub fn for_space(specs: BTreeMap<String, DatasetSpec>, init: &SpaceInit) -> PluginResult<Self> {
        let me = Self::new(specs, init.base_dir.as_str(), init.data_dir.as_str());
        for task in init.tasks.iter() {
            me.load(task.as_str())?;
        }
        Ok(me)
    }

    /// The task ids that have a dataset.
    pub fn tasks(&self) -> impl Iterator<Item = &str> {
        self.specs.keys().map(String::as_str)
    }

    /// Task `task`'s data, read once per process ([`load_task_cached`]). A task without a
    /// dataset is refused with the table to add.
    pub fn load(&self, task: &str) -> PluginResult<Arc<TaskData>> {
        let spec = self.specs.get(task).ok_or_else(|| {
            let known: Vec<&str> = self.tasks().collect();
            PluginError::unknown_task(format!(
                "task `{task}` has no dataset: add a `[search_space.params.tasks.{task}]` table \
                 (for example `preset = \"fashion-mnist\"`; see docs/data.md){}",
                if known.is_empty() {
                    String::new()
                } else {
                    format!("; datasets are given for {}", known.join(", "))
                }
            ))
        })?;
        load_task_cached(task, spec, &self.base_dir, &self.data_dir).map_err(PluginError::from)
    }
}
