use abi_stable::std_types::RString;
use abi_stable::StableAbi;
use std::fmt;

/// What kind of failure a [`PluginError`] reports. A newtype over `u32` rather than an enum so
/// new kinds can be added without breaking the ABI of older plugins.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ErrorKind(pub u32);

impl ErrorKind {
    /// Parameters given to a plugin were rejected; the message names the key.
    pub const INVALID_PARAMS: ErrorKind = ErrorKind(1);
    /// A genome or architecture text is not a point of the search space.
    pub const INVALID_ARCHITECTURE: ErrorKind = ErrorKind(2);
    /// A task id the plugin does not know.
    pub const UNKNOWN_TASK: ErrorKind = ErrorKind(3);
    /// An evaluation failed (diverged, missing from the table, ...): the trial is marked failed.
    pub const EVALUATION: ErrorKind = ErrorKind(4);
    /// The plugin panicked; the guard caught it.
    pub const PANIC: ErrorKind = ErrorKind(5);
    /// The operation is not supported by this plugin.
    pub const UNSUPPORTED: ErrorKind = ErrorKind(6);
    /// Reading or writing a file failed.
    pub const IO: ErrorKind = ErrorKind(7);
    /// Data (a benchmark table, a state blob) is malformed.
    pub const DATA: ErrorKind = ErrorKind(8);
    /// Anything else.
    pub const OTHER: ErrorKind = ErrorKind(99);

    /// A short lower-case name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::INVALID_PARAMS => "invalid parameters",
            Self::INVALID_ARCHITECTURE => "invalid architecture",
            Self::UNKNOWN_TASK => "unknown task",
            Self::EVALUATION => "evaluation failed",
            Self::PANIC => "plugin panicked",
            Self::UNSUPPORTED => "unsupported",
            Self::IO => "i/o error",
            Self::DATA => "bad data",
            _ => "error",
        }
    }
}

/// The error value every fallible plugin call returns across the ABI.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct PluginError {
    pub kind: ErrorKind,
    pub message: RString,
}

/// Result type of the author-layer traits.
pub type PluginResult<T> = Result<T, PluginError>;

impl PluginError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        PluginError {
            kind,
            message: RString::from(message.into()),
        }
    }
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::INVALID_PARAMS, message)
    }
    pub fn invalid_architecture(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::INVALID_ARCHITECTURE, message)
    }
    pub fn unknown_task(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::UNKNOWN_TASK, message)
    }
    pub fn evaluation(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::EVALUATION, message)
    }
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::UNSUPPORTED, message)
    }
    pub fn io(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::IO, message)
    }
    pub fn data(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::DATA, message)
    }
    pub fn other(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::OTHER, message)
    }
    pub fn message(&self) -> &str {
        self.message.as_str()
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message.as_str())
    }
}

impl std::error::Error for PluginError {}
