//! # xnas-host
//!
//! The library behind the `xnas` binary. Data flows through the modules in this order:
//! [`config`] (experiment file) → [`plugins`] (registry, loading) → [`run`] (the ask/evaluate/tell
//! loop, resume) → [`executor`] (workers) → [`store`] (SQLite) → [`report`] (CSV, JSON, plots).

pub mod config;
pub mod error;
pub mod executor;
pub mod plugins;
pub mod report;
pub mod run;
pub mod store;

/// Links the standard plugins as built-ins when the `builtin-plugins` feature is on
/// (`inventory` only sees crates the binary actually links).
#[cfg(feature = "builtin-plugins")]
mod builtins {
    pub use xnas_opt_random as _;
}

pub use error::{HostError, HostResult};
