//! tch errors as plugin errors. tch's non-`f_` methods panic on a C++ exception; this crate calls
//! the fallible `f_*` forms and maps their errors here, so a libtorch failure reaches the host as
//! one message that says what was being done.

use xnas_core::{PluginError, PluginResult};

/// Adds "what was being done" to a tch error.
pub trait TchContext<T> {
    fn context(self, what: &str) -> PluginResult<T>;
}

impl<T> TchContext<T> for Result<T, tch::TchError> {
    fn context(self, what: &str) -> PluginResult<T> {
        self.map_err(|e| PluginError::other(format!("{what}: libtorch error: {e}")))
    }
}
