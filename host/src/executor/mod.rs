//! Executors evaluate trials. `local` runs a pool of worker threads on this machine; every
//! worker runs the same code path (`evaluate_one`), so results depend only on each trial's
//! request (its seed included), never on which worker ran it.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
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

type Job = (usize, EvalRequest);

/// A fixed pool of local workers. With one worker, evaluations run inline on the calling thread.
pub struct LocalPool {
    space: SpaceBox,
    jobs: Option<mpsc::Sender<Job>>,
    results: Option<mpsc::Receiver<Finished>>,
    handles: Vec<JoinHandle<()>>,
}

impl LocalPool {
    pub fn new(space: SpaceBox, workers: usize) -> LocalPool {
        if workers <= 1 {
            return LocalPool {
                space,
                jobs: None,
                results: None,
                handles: Vec::new(),
            };
        }
        let (job_tx, job_rx) = mpsc::channel::<Job>();
        let (res_tx, res_rx) = mpsc::channel::<Finished>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        let handles = (0..workers)
            .map(|w| {
                let (space, job_rx, res_tx) = (space.clone(), Arc::clone(&job_rx), res_tx.clone());
                std::thread::Builder::new()
                    .name(format!("xnas-worker-{w}"))
                    .spawn(move || loop {
                        let job = job_rx.lock().map(|rx| rx.recv());
                        let Ok(Ok((index, request))) = job else {
                            return;
                        };
                        // Plugin panics are caught inside the plugin; this catches the host's
                        // own, so a dying worker can never leave the batch waiting forever.
                        let (result, wall_s) =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                evaluate_one(&space, &request)
                            }))
                            .unwrap_or_else(|_| {
                                (Err(PluginError::other("the worker thread panicked")), 0.0)
                            });
                        if res_tx
                            .send(Finished {
                                index,
                                result,
                                wall_s,
                            })
                            .is_err()
                        {
                            return;
                        }
                    })
                    .expect("spawning a worker thread")
            })
            .collect();
        LocalPool {
            space,
            jobs: Some(job_tx),
            results: Some(res_rx),
            handles,
        }
    }

    /// Evaluates a batch; `on_done` is called on the calling thread as each evaluation finishes
    /// (in completion order), so results are persisted the moment they exist.
    pub fn run<E>(
        &mut self,
        requests: Vec<EvalRequest>,
        mut on_done: impl FnMut(Finished) -> Result<(), E>,
    ) -> Result<(), E> {
        match (&self.jobs, &self.results) {
            (Some(jobs), Some(results)) => {
                let n = requests.len();
                for (i, r) in requests.into_iter().enumerate() {
                    jobs.send((i, r)).expect("worker pool is alive");
                }
                for _ in 0..n {
                    let done = results.recv().expect("worker pool is alive");
                    on_done(done)?;
                }
                Ok(())
            }
            _ => {
                for (index, request) in requests.iter().enumerate() {
                    let (result, wall_s) = evaluate_one(&self.space, request);
                    on_done(Finished {
                        index,
                        result,
                        wall_s,
                    })?;
                }
                Ok(())
            }
        }
    }
}

impl Drop for LocalPool {
    fn drop(&mut self) {
        self.jobs = None; // closes the channel: workers return
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}
