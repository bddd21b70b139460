use std::path::PathBuf;
use thiserror::Error;
use xnas_core::PluginError;

/// Errors of the host library. Every variant renders as one sentence that names the thing at
/// fault and, where there is one, what to do about it.
#[derive(Debug, Error)]
pub enum HostError {
    /// A problem in an experiment file, with its position.
    #[error("{file}:{line}:{column}: {message}")]
    Config {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },

    /// A problem in an experiment file without a usable position.
    #[error("{file}: {message}")]
    ConfigFile { file: String, message: String },

    #[error("cannot load plugin library {path}: {message}")]
    Load { path: PathBuf, message: String },

    /// A plugin call failed; `origin` is its library file (or `built-in (crate)`).
    #[error("{kind} `{name}` ({origin}): {error}")]
    Plugin {
        name: String,
        kind: &'static str,
        origin: String,
        error: PluginError,
    },

    /// Source knowledge that cannot be used: a bad meta-dataset row, data on the target task, a run
    /// on another space, an origin changed since the run started. `origin` names the file (with
    /// its line) or the run directory.
    #[error("{origin}: {message}")]
    SourceKnowledge { origin: String, message: String },

    #[error("store {path}: {message}")]
    Store { path: PathBuf, message: String },

    /// A stored value that cannot be read back as what was written (a damaged store).
    #[error("store {path} is damaged: {message}; restore the run from a copy (see `xnas export`) or start it again")]
    Damaged { path: PathBuf, message: String },

    /// A stop signal ended the command after it saved what was done; `message` says how to go on.
    #[error("stopped by {signal}: {message}")]
    Stopped {
        signal: crate::stop::Signal,
        message: String,
    },

    /// An error and what it left behind (a run directory removed, or kept and resumable).
    #[error("{error}\n{note}")]
    Noted { error: Box<HostError>, note: String },

    #[error("{0}")]
    Run(String),

    /// The command was asked for something that cannot be done (bad input, not a failed run).
    #[error("{0}")]
    Usage(String),

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl HostError {
    /// The error of a generated experiment (one run of a comparison, one target of an ablation)
    /// as an error of the file it was made from, with `context` (which run) in front: a line and
    /// column in the generated text would point nowhere in the user's file.
    pub fn in_file(self, file: &std::path::Path, context: &str) -> Self {
        let file = file.display().to_string();
        match self {
            HostError::Config { message, .. } | HostError::ConfigFile { message, .. } => {
                HostError::ConfigFile {
                    file,
                    message: format!("{context}{message}"),
                }
            }
            HostError::Usage(m) => HostError::Usage(format!("{context}{m}")),
            other => HostError::ConfigFile {
                file,
                message: format!("{context}{other}"),
            },
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        HostError::Io {
            path: path.into(),
            source,
        }
    }

    /// Process exit code for this error (2: configuration, loading or a damaged store; 1: a run
    /// that failed; 128 + the signal's number: stopped by a signal, resumable).
    pub fn exit_code(&self) -> i32 {
        match self {
            HostError::Stopped { signal, .. } => signal.exit_code(),
            HostError::Noted { error, .. } => error.exit_code(),
            HostError::Config { .. }
            | HostError::Damaged { .. }
            | HostError::ConfigFile { .. }
            | HostError::Load { .. }
            | HostError::SourceKnowledge { .. }
            | HostError::Usage(_) => 2,
            HostError::Plugin { error, .. }
                if error.kind == xnas_core::ErrorKind::INVALID_PARAMS =>
            {
                2
            }
            _ => 1,
        }
    }
}

pub type HostResult<T> = Result<T, HostError>;
