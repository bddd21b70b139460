//! Image tasks as tensors: [`xnas_data`] reads, splits and normalises a task's files (no tch);
//! this module turns its splits into tensors and keeps each task once per process. Everything is
//! on the CPU; trainers move batches to their device. Re-exports the data crate's spec and error
//! types, so plugins name one module.

pub use xnas_data::{
    default_data_dir, split_permutation, CifarLabel, DataError, DatasetSpec, FileAt, Files, Format,
    LabelColumn, ValidSize, DEFAULT_VALID, PRESETS,
};

mod tasks;
pub use tasks::TaskDatasets;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use tch::Tensor;

/// Images and labels of one split.
#[derive(Debug)]
pub struct ImageSet {
    /// `[N, C, H, W]` float32, normalised with the task's training mean and std.
    pub images: Tensor,
    /// `[N]` int64 class indices in `0..classes`.
    pub labels: Tensor,
}

impl ImageSet {
    /// A split's rows as tensors of `shape` (`[C, H, W]`), copied from `split`.
    pub fn from_split(split: xnas_data::Split, shape: [usize; 3]) -> ImageSet {
        let dims = [
            split.len() as i64,
            shape[0] as i64,
            shape[1] as i64,
            shape[2] as i64,
        ];
        ImageSet {
            images: Tensor::from_slice(&split.images).view(dims),
            labels: Tensor::from_slice(&split.labels),
        }
    }

    pub fn len(&self) -> usize {
        self.labels.size()[0] as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Another handle to the same tensors (no copy; see [`load_task_cached`]).
    pub fn shallow_clone(&self) -> ImageSet {
        ImageSet {
            images: self.images.shallow_clone(),
            labels: self.labels.shallow_clone(),
        }
    }
}

/// A loaded task: the training split, the validation split held out of the training file, and
/// the test split where the task has one, as tensors.
pub type TaskData = xnas_data::Task<ImageSet>;

/// [`xnas_data::read_task`] as tensors: task `name`'s files as `spec` describes them, split and
/// normalised (relative paths against `base_dir`, presets under `<data_dir>/images/<preset>/`).
pub fn load_task(
    name: &str,
    spec: &DatasetSpec,
    base_dir: &Path,
    data_dir: &Path,
) -> Result<TaskData, DataError> {
    let task = xnas_data::read_task(name, spec, base_dir, data_dir)?;
    let shape = task.shape;
    Ok(task.map(|split| ImageSet::from_split(split, shape)))
}

/// [`load_task`] once per process for each (`name`, `spec`, `base_dir`, `data_dir`): later calls
/// return new handles to the same tensors (`Tensor::shallow_clone`, no copy), which callers must
/// treat as read-only (an in-place operation would change every holder's data). The cache holds
/// the `TaskData` itself, not an `Arc` (tch's `Tensor` is `Send` but not `Sync`); the returned
/// `Arc` is a fresh one per call, for callers that pass the task around a thread. Concurrent
/// first calls for the same task load it once; errors are not cached.
pub fn load_task_cached(
    name: &str,
    spec: &DatasetSpec,
    base_dir: &Path,
    data_dir: &Path,
) -> Result<Arc<TaskData>, DataError> {
    type Slot = Arc<Mutex<Option<TaskData>>>;
    static CACHE: OnceLock<Mutex<HashMap<String, Slot>>> = OnceLock::new();
    let key = format!(
        "{name}\u{0}{spec:?}\u{0}{}\u{0}{}",
        base_dir.display(),
        data_dir.display()
    );
    let slot = {
        let mut map = CACHE
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.entry(key).or_default().clone()
    };
    let mut guard = slot.lock().unwrap_or_else(|e| e.into_inner());
    if guard.is_none() {
        *guard = Some(load_task(name, spec, base_dir, data_dir)?);
    }
    // An `Arc` of a `!Sync` value is not `Send` either: callers get cheap clones within their
    // thread, and each thread calls this function for its own handle.
    #[allow(clippy::arc_with_non_send_sync)]
    let data = Arc::new(
        guard
            .as_ref()
            .expect("loaded above")
            .map_ref(ImageSet::shallow_clone),
    );
    Ok(data)
}
