//! `symmetric_variants` and `evaluate`.

use super::{arch_text, canonical, fits, Sampled, SpaceOptions, EVALUATE_TAG, VARIANT_PROBES};
use crate::{err_text, guarded, outcome_text, same_f64, Failure, Report};
use abi_stable::std_types::RNone;
use xnas_core::{derive_seed, Arch, EvalRequest, EvalResult, PluginResult, SearchSpace, SpaceDesc};

/// The symmetric variants of the first sampled architectures, by sample index.
pub(super) type Variants = Vec<(usize, Vec<Arch>)>;

pub(super) fn check_variants<S: SearchSpace + ?Sized>(
    space: &S,
    desc: &SpaceDesc,
    samples: &[Sampled],
    report: &mut Report,
) -> Result<Variants, Failure> {
    let mut out = Vec::new();
    let mut count = 0;
    for (i, s) in samples.iter().enumerate().take(VARIANT_PROBES) {
        let g = s.arch.genome.to_vec();
        let call = || format!("symmetric_variants({g:?})");
        let variants = guarded("symmetric_variants", call, || space.symmetric_variants(&g))?
            .map_err(|e| {
                Failure::new(
                    "symmetric_variants",
                    format!(
                        "{} failed: {} (a space without symmetries returns no variants)",
                        call(),
                        err_text(&e)
                    ),
                )
            })?;
        let mut archs = Vec::with_capacity(variants.len());
        for v in variants {
            let bad = |why: String| {
                Failure::new(
                    "symmetric_variants",
                    format!(
                        "{} returned {v:?}, {why}: a variant is another genome of the same \
                         space with the same metric",
                        call()
                    ),
                )
            };
            fits(desc, &v).map_err(|why| bad(format!("which does not fit describe(): {why}")))?;
            let a = canonical(space, "symmetric_variants", &v)?
                .map_err(|e| bad(format!("which canonical refuses ({})", err_text(&e))))?;
            archs.push(a);
        }
        count += archs.len();
        if !archs.is_empty() {
            out.push((i, archs));
        }
    }
    if count == 0 {
        report.skip(
            "symmetric_variants",
            "no sampled architecture has variants (the default: no symmetries)",
        );
    } else {
        report.pass(
            "symmetric_variants",
            format!("{count} variants are architectures of the space"),
        );
    }
    Ok(out)
}

fn eval_text(r: &EvalResult) -> String {
    format!(
        "metric {}, test metric {:?}, curve {:?}, extras `{}`",
        r.metric,
        r.test_metric.into_option(),
        r.curve.as_slice(),
        r.extras
    )
}

/// Same outcome, as far as the host's determinism goes (the cost may be measured time).
fn same_outcome(a: &PluginResult<EvalResult>, b: &PluginResult<EvalResult>) -> bool {
    match (a, b) {
        (Ok(x), Ok(y)) => {
            same_f64(x.metric, y.metric)
                && match (x.test_metric.into_option(), y.test_metric.into_option()) {
                    (Some(p), Some(q)) => same_f64(p, q),
                    (None, None) => true,
                    _ => false,
                }
                && x.curve.len() == y.curve.len()
                && x.curve
                    .iter()
                    .zip(y.curve.iter())
                    .all(|(p, q)| same_f64(*p, *q))
                && x.extras == y.extras
        }
        (Err(x), Err(y)) => x.kind == y.kind,
        _ => false,
    }
}

pub(super) fn check_evaluate<S: SearchSpace + ?Sized>(
    space: &S,
    tasks: &[&str],
    samples: &[Sampled],
    variants: &Variants,
    options: &SpaceOptions,
    report: &mut Report,
) -> Result<(), Failure> {
    if tasks.is_empty() {
        report.skip("evaluate", "no tasks given");
    }
    let base = derive_seed(options.seed, EVALUATE_TAG);
    for task in tasks {
        let best = guarded(
            "best_metric",
            || format!("best_metric(`{task}`)"),
            || space.best_metric(task),
        )?;
        let Some(best) = best else {
            report.skip(
                "evaluate",
                format!(
                    "best_metric(`{task}`) is None: no benchmark task, so evaluate (which may \
                     train a network) is not called"
                ),
            );
            continue;
        };
        if !best.is_finite() {
            return Err(Failure::new(
                "best_metric",
                format!(
                    "best_metric(`{task}`) is {best}: it must be the best validation metric of \
                     the task, a finite number (the reports compute the regret from it)"
                ),
            ));
        }
        let request = |j: usize, genome: &Arch| EvalRequest {
            trial_id: j as u64,
            task: (*task).into(),
            genome: genome.genome.clone(),
            seed: derive_seed(base, j as u64),
            budget: RNone,
        };
        let describe = |r: &EvalRequest| {
            format!(
                "evaluate(task `{task}`, genome {:?}, trial {}, seed {})",
                r.genome.as_slice(),
                r.trial_id,
                r.seed
            )
        };
        let tolerance = 1e-9 * best.abs().max(1.0);
        let mut succeeded = 0;
        let mut first_error: Option<String> = None;
        let mut metrics: Vec<Option<f64>> = Vec::new();
        let n = options.evaluations.max(1).min(samples.len());
        for (j, s) in samples.iter().take(n).enumerate() {
            let req = request(j, &s.arch);
            let here = guarded("evaluate", || describe(&req), || space.evaluate(&req))?;
            let there = std::thread::scope(|scope| {
                scope
                    .spawn(|| guarded("evaluate", || describe(&req), || space.evaluate(&req)))
                    .join()
            })
            .unwrap_or_else(|_| {
                Err(Failure::new(
                    "evaluate",
                    format!("{} panicked on another thread", describe(&req)),
                ))
            })?;
            if !same_outcome(&here, &there) {
                return Err(Failure::new(
                    "evaluate/deterministic",
                    format!(
                        "{} returned {} on one thread and {} on another: evaluate must be a \
                         function of its request (the host's workers share the space, and a \
                         trial's result must not depend on which one ran it)",
                        describe(&req),
                        outcome_text(&here, eval_text),
                        outcome_text(&there, eval_text)
                    ),
                ));
            }
            metrics.push(None);
            match &here {
                Ok(r) => {
                    if !r.cost_seconds.is_finite() || r.cost_seconds < 0.0 {
                        return Err(Failure::new(
                            "evaluate/result",
                            format!(
                                "{} reported a cost of {} s: a cost is a finite number of \
                                 seconds, 0 or more",
                                describe(&req),
                                r.cost_seconds
                            ),
                        ));
                    }
                    let extras = r.extras.trim();
                    let object = extras.starts_with('{') && extras.ends_with('}');
                    if !(extras.is_empty() || object) {
                        return Err(Failure::new(
                            "evaluate/result",
                            format!(
                                "{} returned extras `{}`: extras are a JSON object's text, or \
                                 empty",
                                describe(&req),
                                r.extras
                            ),
                        ));
                    }
                    if !r.metric.is_finite() {
                        first_error.get_or_insert_with(|| {
                            format!("{} returned the metric {}", describe(&req), r.metric)
                        });
                        continue;
                    }
                    if r.metric > best + tolerance {
                        return Err(Failure::new(
                            "evaluate/best",
                            format!(
                                "{} returned the metric {}, above best_metric(`{task}`) = {best}: \
                                 best_metric must be the best validation metric of the task \
                                 (the reports' regret would be negative)",
                                describe(&req),
                                r.metric
                            ),
                        ));
                    }
                    succeeded += 1;
                    metrics[j] = Some(r.metric);
                }
                Err(e) => {
                    first_error.get_or_insert_with(|| {
                        format!("{} failed: {}", describe(&req), err_text(e))
                    });
                }
            }
        }
        if succeeded == 0 {
            return Err(Failure::new(
                "evaluate/succeeds",
                format!(
                    "all {n} evaluations of sampled architectures on the benchmark task `{task}` \
                     failed; the first: {}",
                    first_error.unwrap_or_default()
                ),
            ));
        }
        let mut compared = 0;
        for (j, archs) in variants {
            let Some(Some(metric)) = metrics.get(*j) else {
                continue;
            };
            for a in archs {
                let req = request(*j, a);
                let r = guarded(
                    "symmetric_variants/metric",
                    || describe(&req),
                    || space.evaluate(&req),
                )?;
                if let Ok(r) = &r {
                    if r.metric.is_finite() && !same_f64(r.metric, *metric) {
                        return Err(Failure::new(
                            "symmetric_variants/metric",
                            format!(
                                "symmetric_variants({:?}) lists {}, but on `{task}` the first \
                                 evaluates to {metric} and the variant to {}: variants must have \
                                 the same metric (optimizers train on them with the original's)",
                                samples[*j].arch.genome.as_slice(),
                                arch_text(a),
                                r.metric
                            ),
                        ));
                    }
                    compared += 1;
                }
            }
        }
        report.pass(
            "evaluate",
            format!(
                "`{task}`: {n} evaluations, each repeated on another thread; {succeeded} \
                 succeeded, none above best_metric {best}; {compared} variants with the same metric"
            ),
        );
    }
    Ok(())
}
