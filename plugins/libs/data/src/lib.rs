//! # xnas-data: image tasks from files, without libtorch
//!
//! Readers for CIFAR-10/100 binary, IDX (MNIST, Fashion-MNIST) and CSV pixel tables; a
//! deterministic train/valid split of the training set; per-channel normalisation. Trainable
//! search spaces (`nasnet`) and similarity plugins read tasks through `xnas_tch::data`, which
//! turns a [`Task`]'s splits into tensors; this crate never names tch.
//!
//! * [`DatasetSpec`]: what a user writes per task (`{ preset = "fashion-mnist" }`,
//!   `{ format = "idx" | "cifar10" | "cifar100" | "csv", ... }`); docs/data.md has every key.
//! * [`read_task`] reads, splits and normalises, on the CPU.
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
//! With `classes = [..]` (a class-subset task) it is the list's length: only those classes' rows
//! are kept, relabelled 0..k in the listed order, before the split.

mod error;
mod read;
mod spec;
mod subset;

pub use error::{DataError, FileAt};
pub use spec::{
    CifarLabel, DatasetSpec, Files, Format, LabelColumn, ValidSize, DEFAULT_VALID, PRESETS,
};

use read::{read_cifar, read_csv, read_idx, read_many, Raw};
use spec::{Plan, Source};
use std::path::{Path, PathBuf};
use xnas_core::SplitMix64;

/// Images and labels of one split.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// `[N, C, H, W]` row-major, normalised with the task's training mean and std.
    pub images: Vec<f32>,
    /// `N` class indices in `0..classes`.
    pub labels: Vec<i64>,
}

impl Split {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A read task: the training split, the validation split held out of the training file, and
/// the test split where the task has one. `S` is how a split is held: [`Split`] here, tensors in
/// `xnas_tch::data` ([`Task::map`] turns one into the other).
#[derive(Debug, Clone, PartialEq)]
pub struct Task<S = Split> {
    pub name: String,
    pub train: S,
    pub valid: S,
    pub test: Option<S>,
    pub classes: usize,
    /// `[C, H, W]`.
    pub shape: [usize; 3],
    /// Per-channel mean and std of the training split's raw pixels in [0, 1], used to normalise.
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl<S> Task<S> {
    /// The same task with each split turned into another form by `f`.
    pub fn map<T>(self, mut f: impl FnMut(S) -> T) -> Task<T> {
        Task {
            name: self.name,
            train: f(self.train),
            valid: f(self.valid),
            test: self.test.map(&mut f),
            classes: self.classes,
            shape: self.shape,
            mean: self.mean,
            std: self.std,
        }
    }

    /// [`Task::map`] over borrowed splits.
    pub fn map_ref<T>(&self, mut f: impl FnMut(&S) -> T) -> Task<T> {
        Task {
            name: self.name.clone(),
            train: f(&self.train),
            valid: f(&self.valid),
            test: self.test.as_ref().map(&mut f),
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
pub fn read_task(
    name: &str,
    spec: &DatasetSpec,
    base_dir: &Path,
    data_dir: &Path,
) -> Result<Task, DataError> {
    let plan = spec.plan(name, base_dir, data_dir)?;
    if let Some(keep) = &spec.classes {
        subset::check(name, keep)?;
    }
    check_files_exist(name, &plan, base_dir, data_dir)?;
    let (mut train, mut test, mut classes) = read_source(name, &plan.source)?;
    if let Some(keep) = &spec.classes {
        classes = subset::apply(name, keep, classes, &mut train, test.as_mut())?;
    }
    build(name, &plan, train, test, classes)
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
) -> Result<Task, DataError> {
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

    let set = |raw: &Raw, rows: &mut dyn Iterator<Item = usize>, len: usize| -> Split {
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
        Split {
            images: pixels,
            labels,
        }
    };
    let train_set = set(&train, &mut train_idx.iter().copied(), train_idx.len());
    let valid_set = set(&train, &mut valid_idx.iter().copied(), valid_idx.len());
    drop(train);
    let test_set = test.map(|t| {
        let len = plan.limit_test.map_or(t.len(), |l| l.min(t.len()));
        set(&t, &mut (0..len), len)
    });
    Ok(Task {
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
