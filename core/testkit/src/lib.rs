//! # xnas-testkit: conformance checks for plugin authors
//!
//! Call these from your plugin's own `#[test]`s. Each check drives your plugin the way the `xnas`
//! host does (`host/src/run/mod.rs`) and returns a [`Failure`] that names the check, the call, the
//! seed and what was expected when your plugin breaks a contract the host relies on:
//!
//! * [`check_space`]: `describe`, `sample`, `canonical`, `parse`, `mutate`, `symmetric_variants`,
//!   and, for benchmark tasks (`best_metric` is `Some`), `evaluate`.
//! * [`check_optimizer`]: `ask`/`tell` in batches as the run loop does (canonical genomes, failed
//!   trials, observations told before the first ask), determinism for a seed, dependence on the
//!   seed, `save_state`/`load_state` and `predict` where supported.
//! * [`check_transfer`]: a transfer decorator as the host builds it (the inner optimizer made
//!   with the decorator's head factory and source knowledge, then wrapped), and the wrapped
//!   optimizer through every check of [`check_optimizer`].
//! * [`check_similarity`]: a task-similarity measure's embeddings (with `embed`, or from landmark
//!   scores) and distances, as the host ranks sources with them.
//!
//! [`head`] has helpers for testing a head factory's heads through the ABI.
//!
//! Add it to your plugin's dev-dependencies, from the same source as your `xnas-core` (it lives
//! in `core/testkit` of the xnas repository):
//!
//! ```toml
//! [dev-dependencies]
//! xnas-testkit = { path = "../xnas/core/testkit" }
//! # or: xnas-testkit = { git = "https://…/xnas.git", tag = "…" }, beside the same xnas-core
//! ```
//!
//! Then, in a test:
//!
//! ```
//! use xnas_testkit::ToySpace;
//! use xnas_core::{derive_seed, space_box, Observation, Optimizer, PluginResult, Proposal};
//! use xnas_core::{OptimizerInit, SearchSpace, SpaceBox};
//!
//! /// Random search, the smallest optimizer there is.
//! struct Sampler { space: SpaceBox, seed: u64, drawn: u64 }
//!
//! impl Optimizer for Sampler {
//!     fn ask(&mut self, n: usize) -> PluginResult<Vec<Proposal>> {
//!         (0..n)
//!             .map(|_| {
//!                 self.drawn += 1;
//!                 let genome = self.space.sample(derive_seed(self.seed, self.drawn))?;
//!                 Ok(Proposal { genome: genome.into(), budget: None.into() })
//!             })
//!             .collect()
//!     }
//!     fn tell(&mut self, _observations: &[Observation]) -> PluginResult<()> {
//!         Ok(())
//!     }
//! }
//!
//! // A search space: every check passes on the kit's own toy space.
//! xnas_testkit::check_space(&ToySpace, &["any-task"]).unwrap();
//!
//! // An optimizer: `make` builds a fresh one from the `OptimizerInit` the kit hands it.
//! let space = space_box(ToySpace);
//! let make = |init: &OptimizerInit| {
//!     Ok(Sampler { space: init.space.clone(), seed: init.seed, drawn: 0 })
//! };
//! let report = xnas_testkit::check_optimizer(make, &space).unwrap();
//! // `Sampler` keeps the default `save_state`, so the state check is skipped (and says so).
//! assert!(report.skipped().iter().any(|(check, _)| *check == "state"));
//! println!("{report}");
//! ```
//!
//! The checks use fixed seeds, so a failure reproduces on every run. [`check_space_with`] and
//! [`check_optimizer_with`] take [`SpaceOptions`] and [`OptimizerOptions`] to change how much is
//! exercised (number of samples, batch sizes, seeds).

pub mod head;
mod optimizer;
mod similarity;
mod space;
mod toy;
mod transfer;

#[cfg(test)]
mod tests;

pub use optimizer::{
    check_optimizer, check_optimizer_with, optimizer_init, synthetic_outcome, OptimizerOptions,
    PROTOCOL_CHECKS,
};
pub use similarity::{check_similarity, similarity_init};
pub use space::{check_space, check_space_with, SpaceOptions};
pub use toy::ToySpace;
pub use transfer::{check_transfer, check_transfer_with, KIT_SOURCE};

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use xnas_core::{panic_message, PluginError, PluginResult};

/// A broken contract: which check failed and what the plugin did.
///
/// `Debug` prints the same text as `Display`, so `check_space(..).unwrap()` in a test shows the
/// message as it is.
#[derive(Clone, PartialEq, Eq)]
pub struct Failure {
    check: &'static str,
    message: String,
}

impl Failure {
    pub(crate) fn new(check: &'static str, message: impl Into<String>) -> Self {
        Failure {
            check,
            message: message.into(),
        }
    }

    /// The name of the failed check, e.g. `"canonical/idempotent"` or `"determinism"`.
    pub fn check(&self) -> &'static str {
        self.check
    }

    /// What the plugin did and what was expected.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "xnas testkit: check `{}` failed: {}",
            self.check, self.message
        )
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Failure {}

/// What a successful check run covered: the checks that passed (with what they exercised) and
/// the ones skipped (with the reason, e.g. an optimizer without `save_state`).
#[derive(Clone, Debug, Default)]
pub struct Report {
    subject: &'static str,
    passed: Vec<(&'static str, String)>,
    skipped: Vec<(&'static str, String)>,
}

impl Report {
    fn new(subject: &'static str) -> Self {
        Report {
            subject,
            ..Report::default()
        }
    }

    fn pass(&mut self, check: &'static str, detail: impl Into<String>) {
        self.passed.push((check, detail.into()));
    }

    fn skip(&mut self, check: &'static str, reason: impl Into<String>) {
        self.skipped.push((check, reason.into()));
    }

    /// The checks that ran and passed, each with what it exercised.
    pub fn passed(&self) -> &[(&'static str, String)] {
        &self.passed
    }

    /// The checks that did not apply, each with the reason.
    pub fn skipped(&self) -> &[(&'static str, String)] {
        &self.skipped
    }

    /// Whether the check named `check` ran and passed.
    pub fn has_passed(&self, check: &str) -> bool {
        self.passed.iter().any(|(c, _)| *c == check)
    }

    /// Asserts that each of `checks` ran and passed (not skipped), showing the report if not.
    ///
    /// # Panics
    ///
    /// On the first check in `checks` that did not pass.
    pub fn assert_passed(&self, checks: &[&str]) {
        for check in checks {
            assert!(
                self.has_passed(check),
                "check `{check}` did not pass:\n{self}"
            );
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "xnas testkit, {}: {} checks passed, {} skipped",
            self.subject,
            self.passed.len(),
            self.skipped.len()
        )?;
        for (check, detail) in &self.passed {
            writeln!(f, "  ok    {check}: {detail}")?;
        }
        for (check, reason) in &self.skipped {
            writeln!(f, "  skip  {check}: {reason}")?;
        }
        Ok(())
    }
}

/// An error as the kit reports it: kind and message.
fn err_text(e: &PluginError) -> String {
    format!("{} error: {}", e.kind.name(), e.message())
}

/// A call's result for a message: `ok`'s text of the value, or `failed (…)` with the error.
fn outcome_text<T>(r: &PluginResult<T>, ok: impl FnOnce(&T) -> String) -> String {
    match r {
        Ok(v) => ok(v),
        Err(e) => format!("failed ({})", err_text(e)),
    }
}

/// Runs one call into the plugin; a panic becomes a [`Failure`] of `check` naming `call`.
fn guarded<T>(
    check: &'static str,
    call: impl FnOnce() -> String,
    f: impl FnOnce() -> T,
) -> Result<T, Failure> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        Failure::new(
            check,
            format!(
                "{} panicked: {}. The host turns a panic into an error; return \
                 Err(PluginError) instead",
                call(),
                panic_message(payload.as_ref())
            ),
        )
    })
}

/// Equality of floats that treats NaN as equal to NaN (a repeated failed evaluation).
fn same_f64(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}
