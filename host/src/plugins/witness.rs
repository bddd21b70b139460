//! Who failed: an optimizer calls the search space (sample, mutate, canonical, …) and passes on
//! the space's errors, its panics included, as its own. The host hands the optimizer the space
//! through a [`Witness`] that remembers the space's last failure, so an optimizer error that
//! only repeats it is blamed on the space.

use super::PluginEntry;
use crate::error::HostError;
use std::sync::{Arc, Mutex};
use xnas_core::*;

/// The space's last failed call: the method and its error.
type Failure = Arc<Mutex<Option<(&'static str, PluginError)>>>;

/// A search space that notes its failures (see the module doc).
struct Watched {
    inner: SpaceBox,
    failure: Failure,
}

impl Watched {
    fn note<T>(&self, method: &'static str, r: PluginResult<T>) -> PluginResult<T> {
        if let Err(e) = &r {
            if let Ok(mut f) = self.failure.lock() {
                *f = Some((method, e.clone()));
            }
        }
        r
    }
}

impl SearchSpace for Watched {
    fn describe(&self) -> PluginResult<SpaceDesc> {
        self.note("describe", self.inner.describe())
    }
    fn sample(&self, seed: u64) -> PluginResult<Vec<u32>> {
        self.note("sample", self.inner.sample(seed))
    }
    fn mutate(&self, genome: &[u32], seed: u64) -> PluginResult<Vec<u32>> {
        self.note("mutate", self.inner.mutate(genome, seed))
    }
    fn canonical(&self, genome: &[u32]) -> PluginResult<Arch> {
        self.note("canonical", self.inner.canonical(genome))
    }
    fn parse(&self, text: &str) -> PluginResult<Vec<u32>> {
        self.note("parse", self.inner.parse(text))
    }
    fn symmetric_variants(&self, genome: &[u32]) -> PluginResult<Vec<Vec<u32>>> {
        self.note("symmetric_variants", self.inner.symmetric_variants(genome))
    }
    // Forwarded like every method: the trait's default would list the changes `canonical`
    // accepts, not the space's own neighbours (optimizers fall back on an empty list).
    fn neighbours(&self, genome: &[u32]) -> PluginResult<Vec<Vec<u32>>> {
        self.note("neighbours", self.inner.neighbours(genome))
    }
    fn best_metric(&self, task: &str) -> Option<f64> {
        self.inner.best_metric(task)
    }
    fn evaluate(&self, request: &EvalRequest) -> PluginResult<EvalResult> {
        self.note("evaluate", self.inner.evaluate(request))
    }
    fn supernet_layout(&self) -> PluginResult<SupernetLayout> {
        self.inner.supernet_layout()
    }
    fn build_supernet(&self, spec: &SupernetSpec) -> PluginResult<SupernetBox> {
        self.note("build_supernet", self.inner.build_supernet(spec))
    }
    fn supernet_genome(&self, selection: &[i32]) -> PluginResult<Vec<u32>> {
        self.note("supernet_genome", self.inner.supernet_genome(selection))
    }
}

/// Remembers what the space did wrong while an optimizer used it.
#[derive(Clone, Default)]
pub struct Witness {
    failure: Failure,
}

impl Witness {
    /// `space` as the optimizer should get it, and the witness of its failures.
    pub fn watch(space: &SpaceBox) -> (SpaceBox, Witness) {
        let witness = Witness::default();
        let watched = Watched {
            inner: space.clone(),
            failure: witness.failure.clone(),
        };
        (space_box(watched), witness)
    }

    /// The error of an optimizer call: the space's, when the optimizer's error is the space's
    /// failure passed on (its message contains the space's); the optimizer's otherwise.
    pub fn blame(
        &self,
        optimizer: &PluginEntry,
        space: &PluginEntry,
        error: PluginError,
    ) -> HostError {
        let failure = self.failure.lock().ok().and_then(|mut f| f.take());
        match failure {
            Some((method, cause)) if error.message().contains(cause.message()) => {
                let mut blamed = space.error(cause);
                if let HostError::Plugin { error, .. } = &mut blamed {
                    *error = PluginError::new(
                        error.kind,
                        format!(
                            "{} (in `{method}`, called by optimizer `{}`)",
                            error.message(),
                            optimizer.name()
                        ),
                    );
                }
                blamed
            }
            _ => optimizer.error(error),
        }
    }
}
