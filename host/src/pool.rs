//! The host's one worker pool: jobs go in, each result comes back on the calling thread the
//! moment its job finishes (completion order), through a callback that can stop the pool from
//! starting more. The executor evaluates trials on it, `xnas compare` runs its runs on it and
//! `xnas ablation` its splits.
//!
//! With one worker there are no threads: jobs run inline, in order, on the calling thread. With
//! more, the workers live as long as the pool (a run's evaluations meet the same threads batch
//! after batch) and take jobs in the order given; at most one job per worker is handed out at a
//! time, so a stop leaves nothing queued. A panic in a job is caught and becomes that job's
//! [`Panicked`] result, so a dying job never takes the pool, or the batch waiting on it, down.
//!
//! Nothing here orders results: callers that need determinism record them by their own key
//! (the executor by trial id).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A job that panicked instead of returning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Panicked;

impl std::fmt::Display for Panicked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the worker thread panicked")
    }
}

/// What the pool does after a result was handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Start no further job; the ones running still finish and are handed over.
    Stop,
}

type Work<J, R> = Arc<dyn Fn(J) -> R + Send + Sync>;
type Done<R> = (usize, Result<R, Panicked>);

/// A fixed set of workers running one kind of job.
pub struct Pool<J, R> {
    work: Work<J, R>,
    threads: Option<Threads<J, R>>,
}

struct Threads<J, R> {
    jobs: Option<Sender<(usize, J)>>,
    done: Receiver<Done<R>>,
    handles: Vec<JoinHandle<()>>,
    workers: usize,
}

fn guarded<J, R>(work: &Work<J, R>, job: J) -> Result<R, Panicked> {
    catch_unwind(AssertUnwindSafe(|| work(job))).map_err(|_| Panicked)
}

impl<J: Send + 'static, R: Send + 'static> Pool<J, R> {
    /// `workers` threads named `<name>-<i>` running `work`; with `workers <= 1`, none.
    pub fn new(name: &str, workers: usize, work: impl Fn(J) -> R + Send + Sync + 'static) -> Self {
        let work: Work<J, R> = Arc::new(work);
        if workers <= 1 {
            return Pool {
                work,
                threads: None,
            };
        }
        let (job_tx, job_rx) = channel::<(usize, J)>();
        let (done_tx, done_rx) = channel::<Done<R>>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        let handles = (0..workers)
            .map(|i| {
                let (work, job_rx, done_tx) = (work.clone(), job_rx.clone(), done_tx.clone());
                std::thread::Builder::new()
                    .name(format!("{name}-{i}"))
                    .spawn(move || loop {
                        let next = job_rx.lock().map(|rx| rx.recv());
                        let Ok(Ok((index, job))) = next else {
                            return; // the pool is gone
                        };
                        if done_tx.send((index, guarded(&work, job))).is_err() {
                            return;
                        }
                    })
                    .expect("spawning a worker thread")
            })
            .collect();
        Pool {
            work,
            threads: Some(Threads {
                jobs: Some(job_tx),
                done: done_rx,
                handles,
                workers,
            }),
        }
    }

    /// Runs `jobs`; `on_done(index, result)` is called on this thread as each finishes (index:
    /// the job's place in `jobs`). `Ok(Flow::Stop)` starts no further job but hands over those
    /// still running; an error starts none, waits for the running ones (their results are
    /// dropped) and is returned.
    pub fn run<E>(
        &mut self,
        jobs: impl IntoIterator<Item = J>,
        mut on_done: impl FnMut(usize, Result<R, Panicked>) -> Result<Flow, E>,
    ) -> Result<(), E> {
        let Some(t) = &self.threads else {
            for (index, job) in jobs.into_iter().enumerate() {
                if on_done(index, guarded(&self.work, job))? == Flow::Stop {
                    break;
                }
            }
            return Ok(());
        };
        let send = |index: usize, job: J| {
            t.jobs
                .as_ref()
                .expect("open until the pool is dropped")
                .send((index, job))
                .expect("worker threads live as long as the pool");
        };
        let mut pending = jobs.into_iter().enumerate();
        let mut running = 0;
        for (index, job) in pending.by_ref().take(t.workers) {
            send(index, job);
            running += 1;
        }
        let mut outcome = Ok(());
        while running > 0 {
            let (index, result) = t
                .done
                .recv()
                .expect("worker threads live as long as the pool");
            running -= 1;
            if outcome.is_err() {
                continue; // draining after an error
            }
            match on_done(index, result) {
                Ok(Flow::Continue) => {
                    if let Some((index, job)) = pending.next() {
                        send(index, job);
                        running += 1;
                    }
                }
                Ok(Flow::Stop) => pending.by_ref().for_each(drop),
                Err(e) => outcome = Err(e),
            }
        }
        outcome
    }
}

impl<J, R> Drop for Pool<J, R> {
    fn drop(&mut self) {
        if let Some(t) = &mut self.threads {
            t.jobs = None; // closes the channel: workers return
            for h in t.handles.drain(..) {
                let _ = h.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    fn collect(pool: &mut Pool<u64, u64>, jobs: Vec<u64>) -> Vec<(usize, Result<u64, Panicked>)> {
        let mut out = Vec::new();
        pool.run(jobs, |i, r| {
            out.push((i, r));
            Ok::<_, Infallible>(Flow::Continue)
        })
        .unwrap();
        out
    }

    fn square_or_panic(x: u64) -> u64 {
        if x == 3 {
            panic!("job 3 fails on purpose");
        }
        x * x
    }

    #[test]
    fn every_job_comes_back_once_whatever_the_workers() {
        for workers in [1, 2, 4] {
            let mut pool = Pool::new("test", workers, square_or_panic);
            // Twice: the same threads serve a second batch.
            for _ in 0..2 {
                let mut got = collect(&mut pool, (0..10).collect());
                got.sort_by_key(|(i, _)| *i);
                assert_eq!(got.len(), 10);
                for (i, r) in got {
                    let want = if i == 3 {
                        Err(Panicked)
                    } else {
                        Ok((i * i) as u64)
                    };
                    assert_eq!(r, want, "{workers} workers, job {i}");
                }
            }
        }
    }

    #[test]
    fn inline_runs_in_order_and_stop_starts_nothing_more() {
        let mut pool = Pool::new("test", 1, |x: u64| x);
        let mut seen = Vec::new();
        pool.run(0..10, |i, _| {
            seen.push(i);
            Ok::<_, Infallible>(if i == 4 { Flow::Stop } else { Flow::Continue })
        })
        .unwrap();
        assert_eq!(seen, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn stop_hands_over_running_jobs_and_an_error_is_returned() {
        let mut pool = Pool::new("test", 3, |x: u64| {
            std::thread::sleep(std::time::Duration::from_millis(5 * x));
            x
        });
        let mut seen = Vec::new();
        pool.run(0..30, |i, _| {
            seen.push(i);
            // Whichever finishes first stops the pool.
            Ok::<_, Infallible>(if seen.len() == 1 {
                Flow::Stop
            } else {
                Flow::Continue
            })
        })
        .unwrap();
        seen.sort_unstable();
        assert_eq!(seen, [0, 1, 2], "the three started jobs, no more");

        let err = pool.run(
            0..30,
            |i, _| if i == 1 { Err(i) } else { Ok(Flow::Continue) },
        );
        assert_eq!(err, Err(1));
        // Nothing of the failed batch is left over for the next one.
        assert_eq!(collect(&mut pool, vec![7]), [(0, Ok(7))]);
    }
}
