//! Evaluating trials and recording their outcomes: each outcome is written to the store the
//! moment its evaluation finishes, whatever order the workers finish in; a proposal the space
//! rejected is recorded as failed without being evaluated.

use super::progress::Progress;
use super::runner::Runner;
use crate::error::{HostError, HostResult};
use crate::executor::Finished;
use crate::store::{Outcome, Role, Status, TrialRecord, TrialSpec};
use std::collections::BTreeMap;
use xnas_core::abi_stable::std_types::RVec;
use xnas_core::{EvalRequest, EvalResult, Observation, PluginError, TrialStatus};

impl Runner {
    /// Evaluates a set of trials that a run plans once (source knowledge, landmarks). `stored`
    /// are the set's trials already in the store; when there are none, `plan` makes them and they
    /// are persisted before anything is evaluated, so a resumed run finds the same set. What has
    /// no outcome yet is evaluated (quietly). Returns every trial of the set, in order, with its
    /// outcome.
    pub(super) fn evaluate_planned(
        &mut self,
        stored: Vec<TrialRecord>,
        plan: impl FnOnce(&mut Self) -> HostResult<Vec<TrialSpec>>,
        progress: &Progress,
    ) -> HostResult<Vec<TrialRecord>> {
        let mut records = stored;
        if records.is_empty() {
            let specs = plan(self)?;
            if !specs.is_empty() {
                self.store.insert_pending(&specs)?;
            }
            records = specs
                .into_iter()
                .map(|spec| TrialRecord {
                    spec,
                    outcome: None,
                })
                .collect();
        }
        let pending: Vec<&TrialSpec> = records
            .iter()
            .filter(|r| r.outcome.is_none())
            .map(|r| &r.spec)
            .collect();
        let mut fresh: BTreeMap<u64, Outcome> = self
            .evaluate(&pending, &progress.quiet_clone())?
            .into_iter()
            .collect();
        warn_failed_sources(
            pending
                .iter()
                .filter_map(|s| fresh.get(&s.id).map(|o| (*s, o))),
        );
        for r in &mut records {
            if r.outcome.is_none() {
                r.outcome = fresh.remove(&r.spec.id);
            }
        }
        Ok(records)
    }

    /// Evaluates the pending trials among `specs` and records each outcome as it arrives.
    /// Returns the outcomes in trial-id order.
    pub(super) fn evaluate(
        &mut self,
        specs: &[&TrialSpec],
        progress: &Progress,
    ) -> HostResult<Vec<(u64, Outcome)>> {
        crate::stop::poll()?;
        let mut outcomes = Vec::with_capacity(specs.len());
        let mut requests = Vec::new();
        let mut index_of = Vec::new();
        for s in specs {
            if let Some(reason) = &s.invalid {
                log_failed(
                    s.id,
                    s.role,
                    &format!("the space rejected the proposal: {reason}"),
                );
                let o = failed(format!("invalid architecture: {reason}"), 0.0);
                self.store.record_outcome(s.id, &o)?;
                outcomes.push((s.id, o));
                continue;
            }
            index_of.push((s.id, s.role));
            requests.push(EvalRequest {
                trial_id: s.id,
                task: s.task.as_str().into(),
                genome: RVec::from(s.canonical.clone()),
                seed: s.seed,
                budget: s.budget.into(),
            });
        }
        let store = &self.store;
        self.pool.run(
            requests,
            |Finished {
                 index,
                 result,
                 wall_s,
             }| {
                let (id, role) = index_of[index];
                let o = outcome(result, wall_s);
                if let Some(err) = &o.error {
                    log_failed(id, role, err);
                }
                store.record_outcome(id, &o)?;
                progress.trial_done(&o);
                outcomes.push((id, o));
                Ok::<(), HostError>(())
            },
        )?;
        if outcomes.len() < specs.len() {
            // Stopped part-way: the rest stay pending in the store, for `xnas resume`.
            crate::stop::poll()?;
        }
        outcomes.sort_by_key(|(id, _)| *id);
        Ok(outcomes)
    }
}

/// A finished evaluation as it is recorded: a non-finite metric is a failure.
fn outcome(result: Result<EvalResult, PluginError>, wall_s: f64) -> Outcome {
    match result {
        Ok(r) if r.metric.is_finite() => Outcome {
            status: Status::Ok,
            metric: Some(r.metric),
            test_metric: r.test_metric.into_option(),
            cost_s: r.cost_seconds,
            wall_s,
            curve: r.curve.to_vec(),
            extras: r.extras.to_string(),
            error: None,
        },
        Ok(r) => Outcome {
            test_metric: r.test_metric.into_option(),
            cost_s: r.cost_seconds,
            curve: r.curve.to_vec(),
            extras: r.extras.to_string(),
            ..failed("the evaluation returned a non-finite metric".into(), wall_s)
        },
        Err(e) => failed(format!("{}: {}", e.kind.name(), e.message()), wall_s),
    }
}

fn failed(error: String, wall_s: f64) -> Outcome {
    Outcome {
        status: Status::Failed,
        metric: None,
        test_metric: None,
        cost_s: 0.0,
        wall_s,
        curve: Vec::new(),
        extras: String::new(),
        error: Some(error),
    }
}

/// What the optimizer is told about a finished trial (the canonical genome, or the proposal as
/// it was when the space rejected it).
pub(super) fn observation(spec: &TrialSpec, o: &Outcome) -> Observation {
    Observation {
        trial_id: spec.id,
        task: spec.task.as_str().into(),
        genome: RVec::from(if spec.canonical.is_empty() {
            spec.genome.clone()
        } else {
            spec.canonical.clone()
        }),
        metric: o.metric.unwrap_or(f64::NAN),
        test_metric: o.test_metric.into(),
        cost_seconds: o.cost_s,
        budget: spec.budget.into(),
        curve: RVec::from(o.curve.clone()),
        status: if o.status == Status::Ok {
            TrialStatus::OK
        } else {
            TrialStatus::FAILED
        },
    }
}

/// A failed trial's line: a warning for the target's; a source trial's at debug level, because
/// `warn_failed_sources` sums those up per task (rejected proposals and failed evaluations alike).
fn log_failed(id: u64, role: Role, err: &str) {
    match role {
        Role::Target => tracing::warn!("trial {id} failed: {err}"),
        Role::Source => tracing::debug!("trial {id} failed: {err}"),
    }
}

/// A source task's trials among those just evaluated.
#[derive(Default)]
struct SourceFailures<'a> {
    evaluated: usize,
    /// Trial id and error of each failed one.
    failed: Vec<(u64, &'a str)>,
}

/// One warning per source task for the failures among trials just evaluated: the count and the
/// first error (`evaluate` logs each at debug level). A source sample outside a task's table is
/// expected (proteins among large tables), and one line per trial would bury the run's log.
fn warn_failed_sources<'a>(evaluated: impl Iterator<Item = (&'a TrialSpec, &'a Outcome)>) {
    let mut by_task: BTreeMap<&str, SourceFailures> = BTreeMap::new();
    for (spec, o) in evaluated.filter(|(spec, _)| spec.role == Role::Source) {
        let task = by_task.entry(spec.task.as_str()).or_default();
        task.evaluated += 1;
        if let Some(err) = &o.error {
            task.failed.push((spec.id, err.as_str()));
        }
    }
    for (task, f) in by_task {
        if let Some((id, err)) = f.failed.first() {
            tracing::warn!(
                "{} of {} source trials on `{task}` failed and are left out of the source \
                 knowledge (`xnas -vv` lists each); the first, trial {id}: {err}",
                f.failed.len(),
                f.evaluated
            );
        }
    }
}
