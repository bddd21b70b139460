//! [`DatasetSpec`]: what a user writes per task, and its resolution into files to read.

use super::error::DataError;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// The presets `scripts/fetch-images.sh` installs under `<data_dir>/images/<name>/`.
pub const PRESETS: [&str; 5] = [
    "fashion-mnist",
    "mnist",
    "mnist-5k",
    "animal-mnist",
    "digits",
];

/// The validation size when `valid` is not given: a tenth of the training file (XferNAS held
/// out 5,000 of CIFAR-10's 50,000 training images).
pub const DEFAULT_VALID: ValidSize = ValidSize::Fraction(0.1);

/// The dataset of one task, as written in TOML (docs/data.md), e.g.
///
/// ```toml
/// { preset = "fashion-mnist", valid = 5000, limit_train = 10000 }
/// { format = "idx", train_images = "train-images-idx3-ubyte.gz", train_labels = "train-labels-idx1-ubyte.gz" }
/// { format = "cifar10", train = ["data_batch_1.bin", "data_batch_2.bin"], test = "test_batch.bin" }
/// { format = "csv", train = "mnist_5k.csv.gz", label_column = "last", shape = [1, 28, 28] }
/// ```
///
/// Either `preset` or `format` is given. Which other keys are allowed depends on it; the split
/// keys (`valid`, `split_seed`, `limit_train`, `limit_test`) go with every kind.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    /// One of [`PRESETS`]: files fetched by `make images`.
    #[serde(default)]
    pub preset: Option<String>,
    /// The file format, when no preset is given.
    #[serde(default)]
    pub format: Option<Format>,

    /// `cifar10`, `cifar100`, `csv`: the training file(s), one path or a list (concatenated).
    #[serde(default)]
    pub train: Option<Files>,
    /// `cifar10`, `cifar100`, `csv`: the test file(s), optional.
    #[serde(default)]
    pub test: Option<Files>,

    /// `idx`: the training images (`idx3-ubyte`, gzipped or not).
    #[serde(default)]
    pub train_images: Option<PathBuf>,
    /// `idx`: the training labels (`idx1-ubyte`).
    #[serde(default)]
    pub train_labels: Option<PathBuf>,
    /// `idx`: the test images, optional (with `test_labels`).
    #[serde(default)]
    pub test_images: Option<PathBuf>,
    /// `idx`: the test labels, optional (with `test_images`).
    #[serde(default)]
    pub test_labels: Option<PathBuf>,

    /// `cifar100`: `"fine"` (100 classes, default) or `"coarse"` (20 superclasses).
    #[serde(default)]
    pub label: Option<CifarLabel>,

    /// `csv`: the label's column, from 0 (default 0), or `"last"`.
    #[serde(default)]
    pub label_column: Option<LabelColumn>,
    /// `csv`: `[C, H, W]` of the images (required); pixel columns are in C, H, W order.
    #[serde(default)]
    pub shape: Option<[usize; 3]>,
    /// `csv`: whether the first line is a header; default: detected (a first line with a
    /// field that is not a number is a header).
    #[serde(default)]
    pub header: Option<bool>,
    /// `csv`: the largest pixel value (default 255; scikit-learn's digits: 16, data already in
    /// [0, 1]: 1).
    #[serde(default)]
    pub scale: Option<f32>,

    /// Validation rows held out of the training file: a count (`5000`) or a fraction below 1
    /// (`0.1`). Default [`DEFAULT_VALID`].
    #[serde(default)]
    pub valid: Option<ValidSize>,
    /// Seed of the permutation of the training file that picks the validation rows.
    #[serde(default)]
    pub split_seed: u64,
    /// Keep only the first n training rows after the split (a random subset: the training rows
    /// are in permuted order), e.g. for proxy searches. Does not change the validation rows.
    #[serde(default)]
    pub limit_train: Option<usize>,
    /// Keep only the first n test rows (in file order).
    #[serde(default)]
    pub limit_test: Option<usize>,
    /// A class-subset task: only these classes' rows, relabelled 0..k in this order (`subset`).
    #[serde(default)]
    pub classes: Option<Vec<i64>>,
}

/// The file format of a [`DatasetSpec`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// MNIST's IDX: big-endian header, unsigned bytes (`idx3-ubyte` images, `idx1-ubyte` labels).
    Idx,
    /// CIFAR-10 binary: records of 1 label byte + 3,072 pixel bytes (R, G, B planes of 32×32).
    Cifar10,
    /// CIFAR-100 binary: records of a coarse and a fine label byte + 3,072 pixel bytes.
    Cifar100,
    /// A pixel table: one image per row, a label column and C×H×W pixel columns.
    Csv,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Idx => "idx",
            Format::Cifar10 => "cifar10",
            Format::Cifar100 => "cifar100",
            Format::Csv => "csv",
        }
    }
}

/// Which CIFAR-100 label byte is the class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CifarLabel {
    /// 100 classes (the second label byte).
    #[default]
    Fine,
    /// 20 superclasses (the first label byte).
    Coarse,
}

/// One path or a list of paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Files(pub Vec<PathBuf>);

impl<'de> Deserialize<'de> for Files {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Files;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a path or a list of paths")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Files, E> {
                Ok(Files(vec![PathBuf::from(v)]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Files, A::Error> {
                let mut paths = Vec::new();
                while let Some(p) = seq.next_element::<String>()? {
                    paths.push(PathBuf::from(p));
                }
                if paths.is_empty() {
                    return Err(de::Error::custom("an empty list of files"));
                }
                Ok(Files(paths))
            }
        }
        d.deserialize_any(V)
    }
}

/// The CSV label column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelColumn {
    /// Column index from 0.
    Index(usize),
    /// The last column.
    Last,
}

impl Default for LabelColumn {
    fn default() -> Self {
        LabelColumn::Index(0)
    }
}

impl<'de> Deserialize<'de> for LabelColumn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = LabelColumn;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a column index from 0 or \"last\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<LabelColumn, E> {
                Ok(LabelColumn::Index(v as usize))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<LabelColumn, E> {
                if v < 0 {
                    return Err(E::custom(format!(
                        "label_column {v} is negative: give a column index from 0 or \"last\""
                    )));
                }
                Ok(LabelColumn::Index(v as usize))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LabelColumn, E> {
                match v {
                    "last" => Ok(LabelColumn::Last),
                    "first" => Ok(LabelColumn::Index(0)),
                    _ => Err(E::custom(format!(
                        "label_column \"{v}\" is not a column: give a column index from 0 or \"last\""
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// How many training-file rows are held out for validation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValidSize {
    /// Exactly this many rows.
    Count(usize),
    /// This fraction of the training file's rows, rounded to the nearest row.
    Fraction(f64),
}

impl ValidSize {
    /// The number of validation rows of a training file of `n` rows.
    pub fn rows(self, n: usize) -> usize {
        match self {
            ValidSize::Count(c) => c,
            ValidSize::Fraction(f) => (f * n as f64).round() as usize,
        }
    }
}

impl<'de> Deserialize<'de> for ValidSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ValidSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a row count (like 5000) or a fraction below 1 (like 0.1)")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ValidSize, E> {
                Ok(ValidSize::Count(v as usize))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ValidSize, E> {
                if v < 0 {
                    return Err(E::custom(format!("valid = {v} is negative: give a row count (like 5000) or a fraction below 1 (like 0.1)")));
                }
                Ok(ValidSize::Count(v as usize))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ValidSize, E> {
                if !(0.0..1.0).contains(&v) {
                    return Err(E::custom(format!("valid = {v} is neither a row count (an integer like 5000) nor a fraction in [0, 1) (like 0.1)")));
                }
                Ok(ValidSize::Fraction(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// A file to read and what named it (for messages).
#[derive(Clone, Debug)]
pub(crate) struct FileRef {
    /// "`train_images`", "preset `fashion-mnist`".
    pub what: String,
    pub path: PathBuf,
}

impl FileRef {
    pub fn at(&self, task: &str) -> Box<super::FileAt> {
        Box::new(super::FileAt {
            task: task.to_string(),
            what: self.what.clone(),
            path: self.path.clone(),
        })
    }
}

/// CSV reading options, resolved.
#[derive(Clone, Debug)]
pub(crate) struct CsvOptions {
    pub label_column: LabelColumn,
    pub shape: [usize; 3],
    pub header: Option<bool>,
    pub scale: f32,
}

/// What to read, once the spec is checked.
#[derive(Clone, Debug)]
pub(crate) enum Source {
    Idx {
        train: (FileRef, FileRef),
        test: Option<(FileRef, FileRef)>,
    },
    Cifar {
        hundred: bool,
        label: CifarLabel,
        train: Vec<FileRef>,
        test: Vec<FileRef>,
    },
    Csv {
        options: CsvOptions,
        train: Vec<FileRef>,
        test: Vec<FileRef>,
    },
}

impl Source {
    pub fn files(&self) -> Vec<&FileRef> {
        match self {
            Source::Idx { train, test } => {
                let mut v = vec![&train.0, &train.1];
                if let Some((i, l)) = test {
                    v.push(i);
                    v.push(l);
                }
                v
            }
            Source::Cifar { train, test, .. } | Source::Csv { train, test, .. } => {
                train.iter().chain(test.iter()).collect()
            }
        }
    }
}

/// A checked spec: the source plus the split settings.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub source: Source,
    pub preset: Option<String>,
    pub valid: ValidSize,
    pub split_seed: u64,
    pub limit_train: Option<usize>,
    pub limit_test: Option<usize>,
}

impl DatasetSpec {
    /// Shorthand for `{ preset = name }`.
    pub fn preset(name: &str) -> Self {
        DatasetSpec {
            preset: Some(name.to_string()),
            ..Default::default()
        }
    }

    /// The keys given, other than the split keys, by name (for "not allowed here" messages).
    fn given_keys(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        let mut add = |given: bool, k| {
            if given {
                keys.push(k)
            }
        };
        add(self.format.is_some(), "format");
        add(self.train.is_some(), "train");
        add(self.test.is_some(), "test");
        add(self.train_images.is_some(), "train_images");
        add(self.train_labels.is_some(), "train_labels");
        add(self.test_images.is_some(), "test_images");
        add(self.test_labels.is_some(), "test_labels");
        add(self.label.is_some(), "label");
        add(self.label_column.is_some(), "label_column");
        add(self.shape.is_some(), "shape");
        add(self.header.is_some(), "header");
        add(self.scale.is_some(), "scale");
        keys
    }

    /// Checks the spec and resolves its paths; does not touch the files.
    pub(crate) fn plan(
        &self,
        task: &str,
        base_dir: &Path,
        data_dir: &Path,
    ) -> Result<Plan, DataError> {
        let spec_err = |message: String| DataError::Spec {
            task: task.to_string(),
            message,
        };
        if let Some(0) = self.limit_train {
            return Err(spec_err(
                "`limit_train = 0` keeps no training rows: remove it or give a positive count"
                    .into(),
            ));
        }
        let source = match (&self.preset, self.format) {
            (Some(p), _) => {
                if let Some(k) = self.given_keys().first() {
                    return Err(spec_err(format!(
                        "`preset` and `{k}` cannot both be given (a preset names its own files and format); \
                         keep `preset` with only `valid`, `split_seed`, `limit_train` and `limit_test`, or describe the files without `preset`"
                    )));
                }
                preset_source(task, p, data_dir)?
            }
            (None, None) => {
                return Err(spec_err(format!(
                    "give `preset` (one of {}) or `format` (\"idx\", \"cifar10\", \"cifar100\" or \"csv\") with its files; see docs/data.md",
                    PRESETS.join(", ")
                )))
            }
            (None, Some(format)) => self.file_source(task, format, base_dir)?,
        };
        Ok(Plan {
            source,
            preset: self.preset.clone(),
            valid: self.valid.unwrap_or(DEFAULT_VALID),
            split_seed: self.split_seed,
            limit_train: self.limit_train,
            limit_test: self.limit_test,
        })
    }

    fn file_source(&self, task: &str, format: Format, base: &Path) -> Result<Source, DataError> {
        let spec_err = |message: String| DataError::Spec {
            task: task.to_string(),
            message,
        };
        let allowed: &[&str] = match format {
            Format::Idx => &[
                "format",
                "train_images",
                "train_labels",
                "test_images",
                "test_labels",
            ],
            Format::Cifar10 => &["format", "train", "test"],
            Format::Cifar100 => &["format", "train", "test", "label"],
            Format::Csv => &[
                "format",
                "train",
                "test",
                "label_column",
                "shape",
                "header",
                "scale",
            ],
        };
        if let Some(k) = self.given_keys().into_iter().find(|k| !allowed.contains(k)) {
            return Err(spec_err(format!(
                "`{k}` does not go with `format = \"{}\"`, which takes {}; see docs/data.md",
                format.name(),
                allowed[1..]
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let file = |key: &str, p: &Path| FileRef {
            what: format!("`{key}`"),
            path: base.join(p),
        };
        let required = |key: &str, v: &Option<PathBuf>| {
            v.as_deref().map(|p| file(key, p)).ok_or_else(|| {
                spec_err(format!(
                    "`format = \"{}\"` needs `{key}` (a path, relative to {})",
                    format.name(),
                    base.display()
                ))
            })
        };
        let list = |key: &str, v: &Option<Files>| -> Vec<FileRef> {
            v.iter()
                .flat_map(|f| f.0.iter())
                .map(|p| file(key, p))
                .collect()
        };
        let need_train = |v: &Option<Files>| {
            if v.is_none() {
                Err(spec_err(format!(
                    "`format = \"{}\"` needs `train` (a path or a list of paths, relative to {})",
                    format.name(),
                    base.display()
                )))
            } else {
                Ok(())
            }
        };
        Ok(match format {
            Format::Idx => {
                let train = (
                    required("train_images", &self.train_images)?,
                    required("train_labels", &self.train_labels)?,
                );
                let test = match (&self.test_images, &self.test_labels) {
                    (None, None) => None,
                    (Some(_), None) | (None, Some(_)) => {
                        return Err(spec_err(
                            "`test_images` and `test_labels` go together: give both or neither"
                                .into(),
                        ))
                    }
                    (Some(_), Some(_)) => Some((
                        required("test_images", &self.test_images)?,
                        required("test_labels", &self.test_labels)?,
                    )),
                };
                Source::Idx { train, test }
            }
            Format::Cifar10 | Format::Cifar100 => {
                need_train(&self.train)?;
                Source::Cifar {
                    hundred: format == Format::Cifar100,
                    label: self.label.unwrap_or_default(),
                    train: list("train", &self.train),
                    test: list("test", &self.test),
                }
            }
            Format::Csv => {
                need_train(&self.train)?;
                let shape = self.shape.ok_or_else(|| {
                    spec_err(
                        "`format = \"csv\"` needs `shape = [C, H, W]` (e.g. [1, 28, 28])".into(),
                    )
                })?;
                if shape.contains(&0) {
                    return Err(spec_err(format!(
                        "`shape = {shape:?}` has a zero dimension: give [C, H, W] with positive sizes"
                    )));
                }
                let scale = self.scale.unwrap_or(255.0);
                if !(scale.is_finite() && scale > 0.0) {
                    return Err(spec_err(format!(
                        "`scale = {scale}` is not a positive pixel maximum (255 for bytes, 16 for scikit-learn's digits, 1 for data in [0, 1])"
                    )));
                }
                Source::Csv {
                    options: CsvOptions {
                        label_column: self.label_column.unwrap_or_default(),
                        shape,
                        header: self.header,
                        scale,
                    },
                    train: list("train", &self.train),
                    test: list("test", &self.test),
                }
            }
        })
    }
}

/// The files `scripts/fetch-images.sh` puts under `<data_dir>/images/<name>/`.
fn preset_source(task: &str, name: &str, data_dir: &Path) -> Result<Source, DataError> {
    let dir = data_dir.join("images").join(name);
    let what = format!("preset `{name}`");
    let f = |file: &str| FileRef {
        what: what.clone(),
        path: dir.join(file),
    };
    let csv = |file: &str, label_column, shape, scale| Source::Csv {
        options: CsvOptions {
            label_column,
            shape,
            header: Some(false),
            scale,
        },
        train: vec![f(file)],
        test: vec![],
    };
    Ok(match name {
        "fashion-mnist" => Source::Idx {
            train: (
                f("train-images-idx3-ubyte.gz"),
                f("train-labels-idx1-ubyte.gz"),
            ),
            test: Some((
                f("t10k-images-idx3-ubyte.gz"),
                f("t10k-labels-idx1-ubyte.gz"),
            )),
        },
        "mnist" => csv(
            "mnist-10k.csv.gz",
            LabelColumn::Index(0),
            [1, 28, 28],
            255.0,
        ),
        "mnist-5k" => csv("mnist_5k.csv.gz", LabelColumn::Last, [1, 28, 28], 255.0),
        "animal-mnist" => Source::Idx {
            train: (
                f("animal-mnist-images-idx3-ubyte.gz"),
                f("animal-mnist-labels-idx1-ubyte.gz"),
            ),
            test: None,
        },
        "digits" => csv("digits.csv.gz", LabelColumn::Last, [1, 8, 8], 16.0),
        _ => {
            return Err(DataError::Spec {
                task: task.to_string(),
                message: format!(
                    "unknown preset `{name}`: the presets are {} (or describe the files with `format`, see docs/data.md)",
                    PRESETS.join(", ")
                ),
            })
        }
    })
}
