//! [`DataError`]: everything that can go wrong between a [`DatasetSpec`](super::DatasetSpec) and a
//! [`Task`](super::Task). Each message is one sentence that names the task, the file (and
//! the spec key or preset that named it), what is wrong and what to do.

use std::fmt;
use std::path::PathBuf;
use xnas_core::PluginError;

/// Which file of which task an error is about. Displays as the start of the message:
/// "dataset of task `t`: `train_images` file /path/to/file".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileAt {
    pub task: String,
    /// Which spec entry named the file: "`train_images`", "`train`", "preset `fashion-mnist`".
    pub what: String,
    pub path: PathBuf,
}

impl fmt::Display for FileAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "dataset of task `{}`: {} file {}",
            self.task,
            self.what,
            self.path.display()
        )
    }
}

/// Why a task's data could not be loaded. Variants about a file carry it as [`FileAt`] (boxed,
/// to keep the error small).
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The spec itself is wrong (a missing or misplaced key, an unknown preset, a split that
    /// leaves no training rows).
    #[error("dataset of task `{task}`: {message}")]
    Spec { task: String, message: String },

    /// A file the spec names does not exist.
    #[error("{at} does not exist; {hint}")]
    MissingFile { at: Box<FileAt>, hint: String },

    /// The file exists but could not be read (permissions, a corrupt gzip stream).
    #[error("{at} cannot be read ({source}); check the file or fetch it again")]
    Io {
        at: Box<FileAt>,
        #[source]
        source: std::io::Error,
    },

    /// An IDX file whose first four bytes are not those of the expected kind of IDX file.
    #[error("{at} is not an IDX {kind} file (its magic bytes are {found}, expected {expected}); check that it names the right file")]
    BadMagic {
        at: Box<FileAt>,
        /// "images" or "labels".
        kind: &'static str,
        found: String,
        expected: String,
    },

    /// The file ends before its header or record size says it should.
    #[error("{at} is truncated: {detail}; fetch or copy it again")]
    Truncated { at: Box<FileAt>, detail: String },

    /// A label outside the classes of the task. `record` counts from 0 (for CSV files it is
    /// the line number, counting from 1).
    #[error("{at}: {place} has label {label}, outside the task's classes 0..{classes}; {hint}")]
    LabelOutOfRange {
        at: Box<FileAt>,
        /// "record 17 (counting from 0)" or "line 18".
        place: String,
        label: i64,
        classes: usize,
        hint: String,
    },

    /// A CSV row with the wrong number of columns.
    #[error("{at}, line {line}: {found} columns where {expected} were expected (1 label + {pixels} pixels for shape {shape:?}); check `shape` and that every row is complete")]
    CsvColumns {
        at: Box<FileAt>,
        line: u64,
        found: usize,
        expected: usize,
        pixels: usize,
        shape: [usize; 3],
    },

    /// A CSV value that is not a label or pixel.
    #[error("{at}, line {line}, column {column}: {message}")]
    CsvValue {
        at: Box<FileAt>,
        line: u64,
        /// Counting from 0, as `label_column` does.
        column: usize,
        message: String,
    },

    /// Images whose `[C, H, W]` differs from the training file's.
    #[error("{at} holds images of shape {found:?} but the training images are {expected:?}; train and test files must come from the same data set")]
    ShapeMismatch {
        at: Box<FileAt>,
        found: [usize; 3],
        expected: [usize; 3],
    },

    /// Any other problem with a file's content (a count mismatch, an empty file, trailing bytes).
    #[error("{at}: {message}")]
    Content { at: Box<FileAt>, message: String },
}

impl DataError {
    /// True for problems of the spec (the user's configuration, including paths that do not
    /// exist), false for problems of a file's content or of reading it.
    pub fn is_spec_error(&self) -> bool {
        matches!(self, DataError::Spec { .. } | DataError::MissingFile { .. })
    }
}

/// Spec problems (and missing files) are `invalid parameters`; unreadable files are `i/o
/// error`s; malformed content is `bad data`.
impl From<DataError> for PluginError {
    fn from(e: DataError) -> Self {
        let message = e.to_string();
        match e {
            DataError::Spec { .. } | DataError::MissingFile { .. } => {
                PluginError::invalid_params(message)
            }
            DataError::Io { .. } => PluginError::io(message),
            _ => PluginError::data(message),
        }
    }
}
