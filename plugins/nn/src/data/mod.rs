//! Image tasks from files: readers for CIFAR-10/100 binary, IDX (MNIST, Fashion-MNIST) and CSV
//! pixel tables; a deterministic train/valid split of the training set; per-channel
//! normalisation. Trainable search spaces (`nasnet`) and similarity plugins read tasks here.
//!
//! INTERFACE (fixed; the readers fill it in): everything is on the CPU; trainers move batches
//! to their device.
//!
//! * [`DatasetSpec`]: what a user writes per task (`{ preset = "fashion-mnist" }`,
//!   `{ format = "idx" | "cifar10" | "cifar100" | "csv", ... }`); docs/data.md has every key.
//! * [`load_task`] reads, splits and normalises; [`load_task_cached`] does it once per process
//!   and hands out handles to the same tensors.
//! * [`DataError`]: one sentence per problem, naming the file; converts into `PluginError`.
//!
//! ## Split and normalisation
//!
//! The training file's rows are permuted with a Fisher–Yates shuffle driven by
//! `SplitMix64::new(split_seed)` (deterministic, independent of threads and of libtorch). The
//! first `valid` rows of the permutation are the validation split, the rest the training split,
//! **in permuted order** (so `limit_train`, which keeps the first n training rows, takes a random
//! subset that does not depend on how the file is sorted, and never changes the validation
//! rows). The test split keeps file order (`limit_test` keeps its first n rows). Pixels are
//! scaled to [0, 1] (bytes / 255, CSV values / `scale`), then every split is normalised with
//! the per-channel mean and (population) standard deviation of the training split's pixels; a
//! channel whose standard deviation is below 1e-6 (constant) is divided by 1 instead.
//!
//! `classes` is 10 for CIFAR-10, 100 for CIFAR-100 (20 with `label = "coarse"`), else the
//! largest label of the training file (before the split) + 1; test labels must be below it.

mod error;
mod read;
mod spec;
mod tasks;

pub use error::{DataError, FileAt};
pub use spec::{
    CifarLabel, DatasetSpec, Files, Format, LabelColumn, ValidSize, DEFAULT_VALID, PRESETS,
};
pub use tasks::TaskDatasets;

use read::{read_cifar, read_csv, read_idx, read_many, Raw};
use spec::{Plan, Source};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use tch::Tensor;
use xnas_core::SplitMix64;

/// Images and labels of one split.
#[derive(Debug)]
pub struct ImageSet {
    /// `[N, C, H, W]` float32, normalised with the task's training mean and std.
    pub images: Tensor,
    /// `[N]` int64 class indices in `0..classes`.
    pub labels: Tensor,
}

impl ImageSet {
    pub fn len(&self) -> usize {
        self.labels.size()[0] as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A loaded task: the training split, the validation split held out of the training file, and
/// the test split where the task has one.
#[derive(Debug)]
pub struct TaskData {
    pub name: String,
    pub train: ImageSet,
    pub valid: ImageSet,
    pub test: Option<ImageSet>,
    pub classes: usize,
    /// `[C, H, W]`.
    pub shape: [usize; 3],
    /// Per-channel mean and std of the training split's raw pixels in [0, 1], used to normalise.
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl ImageSet {
    /// Another handle to the same tensors (no copy; see [`load_task_cached`]).
    pub fn shallow_clone(&self) -> ImageSet {
        ImageSet {
            images: self.images.shallow_clone(),
            labels: self.labels.shallow_clone(),
        }
    }
}

impl TaskData {
    /// Another handle to the same tensors (no copy; see [`load_task_cached`]).
    pub fn shallow_clone(&self) -> TaskData {
        TaskData {
            name: self.name.clone(),
            train: self.train.shallow_clone(),
            valid: self.valid.shallow_clone(),
            test: self.test.as_ref().map(ImageSet::shallow_clone),
            classes: self.classes,
            shape: self.shape,
            mean: self.mean.clone(),
            std: self.std.clone(),
        }
    }
}

/// The data directory of the presets when the host gives none: `XNAS_DATA_DIR`, else
/// `~/.cache/xnas/data` (the host's and `scripts/fetch-images.sh`'s default).
pub fn default_data_dir() -> PathBuf {
    match std::env::var_os("XNAS_DATA_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/xnas/data"),
    }
}

/// Reads task `name`'s files as `spec` describes them, splits the training file into train and
/// valid, and normalises every split with the training split's per-channel mean and std.
///
/// Relative paths of the spec are resolved against `base_dir` (the experiment's base folder);
/// presets are read from `<data_dir>/images/<preset>/` (filled by `make images`). Every file
/// the spec names is checked to exist before any is read.
pub fn load_task(
    name: &str,
    spec: &DatasetSpec,
    base_dir: &Path,
    data_dir: &Path,
) -> Result<TaskData, DataError> {
    let plan = spec.plan(name, base_dir, data_dir)?;
    check_files_exist(name, &plan, base_dir, data_dir)?;
    let (train, test, classes) = read_source(name, &plan.source)?;
    build(name, &plan, train, test, classes)
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
    let data = Arc::new(guard.as_ref().expect("loaded above").shallow_clone());
    Ok(data)
}

fn check_files_exist(
    task: &str,
    plan: &Plan,
    base_dir: &Path,
    data_dir: &Path,
) -> Result<(), DataError> {
    for f in plan.source.files() {
        if !f.path.is_file() {
            let hint = if plan.preset.is_some() {
                format!(
                    "run `make images` (or `scripts/fetch-images.sh {}`) to fetch the preset data sets",
                    data_dir.display()
                )
            } else if f.path.exists() {
                "it is not a regular file".to_string()
            } else {
                format!(
                    "check the path (relative paths are resolved against {})",
                    base_dir.display()
                )
            };
            return Err(DataError::MissingFile {
                at: f.at(task),
                hint,
            });
        }
    }
    Ok(())
}

/// Reads the training and (optional) test rows and decides the number of classes.
fn read_source(task: &str, source: &Source) -> Result<(Raw, Option<Raw>, usize), DataError> {
    let max_plus_one = |raw: &Raw| raw.labels.iter().max().map_or(0, |&m| m as usize + 1);
    Ok(match source {
        Source::Idx { train, test } => {
            let tr = read_idx(task, &train.0, &train.1, None)?;
            let classes = max_plus_one(&tr);
            let te = match test {
                Some((i, l)) => {
                    let te = read_idx(task, i, l, Some(classes))?;
                    if te.shape != tr.shape {
                        return Err(DataError::ShapeMismatch {
                            at: i.at(task),
                            found: te.shape,
                            expected: tr.shape,
                        });
                    }
                    Some(te)
                }
                None => None,
            };
            (tr, te, classes)
        }
        Source::Cifar {
            hundred,
            label,
            train,
            test,
        } => {
            let classes = match (hundred, label) {
                (false, _) => 10,
                (true, CifarLabel::Coarse) => 20,
                (true, CifarLabel::Fine) => 100,
            };
            let read = |ctx: &read::Ctx| read_cifar(ctx, *hundred, *label);
            let tr = read_many(task, train, read)?.expect("`train` is checked to be non-empty");
            let te = read_many(task, test, read)?;
            (tr, te, classes)
        }
        Source::Csv {
            options,
            train,
            test,
        } => {
            let tr = read_many(task, train, |ctx| read_csv(ctx, options, None))?
                .expect("`train` is checked to be non-empty");
            let classes = max_plus_one(&tr);
            let te = read_many(task, test, |ctx| read_csv(ctx, options, Some(classes)))?;
            (tr, te, classes)
        }
    })
}

/// The seeded permutation of `0..n` (Fisher–Yates with SplitMix64).
pub fn split_permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut rng = SplitMix64::new(seed);
    let mut perm: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = if i < u32::MAX as usize {
            rng.below(i as u32 + 1) as usize
        } else {
            (rng.next_u64() % (i as u64 + 1)) as usize
        };
        perm.swap(i, j);
    }
    perm
}

fn build(
    name: &str,
    plan: &Plan,
    train: Raw,
    test: Option<Raw>,
    classes: usize,
) -> Result<TaskData, DataError> {
    let n = train.len();
    let valid_rows = plan.valid.rows(n);
    if valid_rows >= n {
        return Err(DataError::Spec {
            task: name.into(),
            message: format!(
                "`valid` asks for {valid_rows} validation rows but the training file has only {n}, which would leave none for training; give a smaller count or a fraction like 0.1"
            ),
        });
    }
    let perm = split_permutation(n, plan.split_seed);
    let (valid_idx, train_idx) = perm.split_at(valid_rows);
    let train_idx = match plan.limit_train {
        Some(l) if l < train_idx.len() => &train_idx[..l],
        _ => train_idx,
    };

    let shape = train.shape;
    let channels = shape[0];
    let plane = shape[1] * shape[2];
    let mut sum = vec![0f64; channels];
    let mut sum_sq = vec![0f64; channels];
    for &i in train_idx {
        train.for_each_pixel(i, |k, x| {
            let c = k / plane;
            sum[c] += x as f64;
            sum_sq[c] += (x as f64) * (x as f64);
        });
    }
    let count = (train_idx.len() * plane) as f64;
    let mean: Vec<f32> = sum.iter().map(|s| (s / count) as f32).collect();
    let std: Vec<f32> = sum
        .iter()
        .zip(&sum_sq)
        .map(|(s, q)| {
            let m = s / count;
            let sd = (q / count - m * m).max(0.0).sqrt();
            if sd < 1e-6 {
                1.0
            } else {
                sd as f32
            }
        })
        .collect();

    let set = |raw: &Raw, rows: &mut dyn Iterator<Item = usize>, len: usize| -> ImageSet {
        let d = raw.row_len();
        let mut pixels = Vec::with_capacity(len * d);
        let mut labels = Vec::with_capacity(len);
        let inv_std: Vec<f32> = std.iter().map(|s| 1.0 / s).collect();
        for i in rows {
            raw.for_each_pixel(i, |k, x| {
                let c = k / plane;
                pixels.push((x - mean[c]) * inv_std[c]);
            });
            labels.push(raw.labels[i]);
        }
        let dims = [
            len as i64,
            shape[0] as i64,
            shape[1] as i64,
            shape[2] as i64,
        ];
        ImageSet {
            images: Tensor::from_slice(&pixels).view(dims),
            labels: Tensor::from_slice(&labels),
        }
    };
    let train_set = set(&train, &mut train_idx.iter().copied(), train_idx.len());
    let valid_set = set(&train, &mut valid_idx.iter().copied(), valid_idx.len());
    drop(train);
    let test_set = test.map(|t| {
        let len = plan.limit_test.map_or(t.len(), |l| l.min(t.len()));
        set(&t, &mut (0..len), len)
    });
    Ok(TaskData {
        name: name.to_string(),
        train: train_set,
        valid: valid_set,
        test: test_set,
        classes,
        shape,
        mean,
        std,
    })
}
