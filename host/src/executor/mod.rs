//! Executors evaluate trials. `local` runs them on the host's [`Pool`] on this machine; `slurm`
//! ([`slurm`]) as job arrays of `xnas worker` ([`worker`]) on a cluster. Every worker runs the
//! same code path (`evaluate_one`), so results depend only on each trial's request (its seed
//! included), never on which worker ran it.

pub mod slurm;
pub mod worker;

use crate::error::HostError;
use crate::pool::{Flow, Pool};
use std::time::Instant;
use xnas_core::{EvalRequest, EvalResult, PluginError, SearchSpace, SpaceBox};

/// One finished evaluation: its index in the batch, result and wall time.
pub struct Finished {
    pub index: usize,
    pub result: Result<EvalResult, PluginError>,
    pub wall_s: f64,
}

/// The code every worker runs for one trial.
pub fn evaluate_one(
    space: &SpaceBox,
    request: &EvalRequest,
) -> (Result<EvalResult, PluginError>, f64) {
    let t = Instant::now();
    let result = space.evaluate(request);
    (result, t.elapsed().as_secs_f64())
}

type Evaluated = (Result<EvalResult, PluginError>, f64);

/// A fixed pool of local workers. With one worker, evaluations run inline on the calling thread.
pub struct LocalPool {
    pool: Pool<EvalRequest, Evaluated>,
}

impl LocalPool {
    pub fn new(space: SpaceBox, workers: usize) -> LocalPool {
        LocalPool {
            pool: Pool::new("xnas-worker", workers, move |request: EvalRequest| {
                evaluate_one(&space, &request)
            }),
        }
    }

    /// Evaluates a batch; `on_done` is called on the calling thread as each evaluation finishes
    /// (in completion order), so results are persisted the moment they exist. Once a stop is
    /// requested ([`crate::stop`]) no further evaluation starts; those running finish and are
    /// handed over.
    pub fn run<E>(
        &mut self,
        requests: Vec<EvalRequest>,
        mut on_done: impl FnMut(Finished) -> Result<(), E>,
    ) -> Result<(), E> {
        self.pool.run(requests, |index, evaluated| {
            // Plugin panics are caught inside the plugin; this is the host's own.
            let (result, wall_s) = evaluated
                .unwrap_or_else(|panicked| (Err(PluginError::other(panicked.to_string())), 0.0));
            on_done(Finished {
                index,
                result,
                wall_s,
            })
            .map(|()| match crate::stop::requested() {
                None => Flow::Continue,
                Some(_) => Flow::Stop,
            })
        })
    }
}

/// The executor a run evaluates on (`[executor] kind`).
pub enum Executor {
    Local(LocalPool),
    Slurm(Box<slurm::SlurmExecutor>),
}

impl Executor {
    /// Evaluates a batch, handing each result to `on_done` as it is persisted (see
    /// [`LocalPool::run`] and [`slurm::SlurmExecutor::run`]).
    pub fn run<E: From<HostError>>(
        &mut self,
        requests: Vec<EvalRequest>,
        on_done: impl FnMut(Finished) -> Result<(), E>,
    ) -> Result<(), E> {
        match self {
            Executor::Local(pool) => pool.run(requests, on_done),
            Executor::Slurm(slurm) => slurm.run(requests, on_done),
        }
    }
}
