//! [`check_similarity`]: a task-similarity measure driven as the host ranks sources
//! (`host/src/similarity.rs`): every task of the experiment is embedded (with `embed`, or, for a
//! measure declaring `landmarks`, from its landmark architectures' scores with `embed_scores`),
//! then the target's embedding is compared with each source's by `distance`.

use super::{err_text, guarded, optimizer::synthetic_outcome, Failure, Report};
use xnas_core::{ErrorKind, PluginResult, SearchSpace, Similarity, SimilarityInit, SpaceBox};

/// Base of the kit's similarity seed.
const KIT_SEED: u64 = 0x7e57_51a1;

/// A minimal [`SimilarityInit`]: `space`, `tasks` (the target first), the seed, base folder
/// `"."`, the data folder from `XNAS_DATA_DIR` (empty when unset). The kit hands one to `make`;
/// change what your measure needs on a clone inside your `make`.
pub fn similarity_init(space: &SpaceBox, tasks: &[&str], seed: u64) -> SimilarityInit {
    SimilarityInit {
        space: space.clone(),
        tasks: tasks.iter().map(|&t| t.into()).collect(),
        seed,
        base_dir: ".".into(),
        data_dir: std::env::var("XNAS_DATA_DIR").unwrap_or_default().into(),
    }
}

/// Checks a similarity measure on `tasks` (at least two; the target first). `make` builds a
/// fresh measure from the [`SimilarityInit`] it is given (by [`similarity_init`]); it is called
/// twice, with the same seed.
///
/// The checks, each named in a [`Failure`]:
///
/// * `build`: `make` succeeds;
/// * `landmarks`, `landmarks/valid`, `landmarks/deterministic`: `landmarks` either answers
///   `UNSUPPORTED` (the measure embeds with `embed`) or lists at least one architecture, each
///   one `canonical` accepts, the same for two measures built alike;
/// * `embed`, `embed/length`, `embed/finite`: every task gets an embedding, all of one length
///   (`distance` compares any two); with `embed`, every value is finite. With landmarks, the
///   kit scores each landmark on each task with [`synthetic_outcome`] (a failed one is NaN, as
///   the host tells it);
/// * `embed/deterministic`: the same task gives the same embedding when asked again and from a
///   second measure built alike (a run's ranking must not depend on the order of tasks or on a
///   resume);
/// * `distance`, `distance/zero`, `distance/symmetric`: every pair has a finite distance, 0 or
///   more, 0 from an embedding to itself, and the same both ways.
pub fn check_similarity<S, F>(
    mut make: F,
    space: &SpaceBox,
    tasks: &[&str],
) -> Result<Report, Failure>
where
    S: Similarity,
    F: FnMut(&SimilarityInit) -> PluginResult<S>,
{
    assert!(
        tasks.len() >= 2,
        "check_similarity needs at least two tasks (a target and a source)"
    );
    let mut report = Report::new("similarity");
    let init = similarity_init(space, tasks, KIT_SEED);
    let mut build = || {
        guarded("build", || "make(init)".to_string(), || make(&init))?
            .map_err(|e| Failure::new("build", format!("make(init) failed: {}", err_text(&e))))
    };
    let mut a = build()?;
    let mut b = build()?;
    report.pass("build", "two measures built with one seed");

    let landmarks = check_landmarks(&mut a, &mut b, space, &mut report)?;
    let mut embeddings = Vec::with_capacity(tasks.len());
    for task in tasks {
        let first = embed(&mut a, task, landmarks.as_ref())?;
        let again = embed(&mut a, task, landmarks.as_ref())?;
        let other = embed(&mut b, task, landmarks.as_ref())?;
        for (what, e) in [
            ("again", &again),
            ("from a second measure built alike", &other),
        ] {
            if !same_embedding(&first, e) {
                return Err(Failure::new(
                    "embed/deterministic",
                    format!(
                        "task `{task}` was embedded as {first:?}, then {what} as {e:?}: an \
                         embedding is a function of the task (and the seed)"
                    ),
                ));
            }
        }
        if landmarks.is_none() && first.iter().any(|v| !v.is_finite()) {
            return Err(Failure::new(
                "embed/finite",
                format!("embed(`{task}`) returned {first:?}: every value must be finite"),
            ));
        }
        embeddings.push((*task, first));
    }
    let len = embeddings[0].1.len();
    if let Some((task, e)) = embeddings
        .iter()
        .find(|(_, e)| e.len() != len || e.is_empty())
    {
        return Err(Failure::new(
            "embed/length",
            format!(
                "task `{task}` has an embedding of {} values, task `{}` one of {len}: every \
                 task's embedding has the same, non-zero length",
                e.len(),
                embeddings[0].0
            ),
        ));
    }
    report.pass(
        "embed",
        format!(
            "{} tasks embedded ({} values each, {}), each twice and by a second measure",
            tasks.len(),
            len,
            if landmarks.is_some() {
                "from landmark scores"
            } else {
                "with embed"
            }
        ),
    );
    check_distances(&a, &embeddings, &mut report)?;
    Ok(report)
}

/// The landmark architectures (with their canonical texts) of a measure that has them.
fn check_landmarks<S: Similarity>(
    a: &mut S,
    b: &mut S,
    space: &SpaceBox,
    report: &mut Report,
) -> Result<Option<Vec<String>>, Failure> {
    let listed = guarded("landmarks", || "landmarks()".into(), || a.landmarks())?;
    let listed = match listed {
        Err(e) if e.kind == ErrorKind::UNSUPPORTED => {
            report.skip(
                "landmarks",
                "landmarks() is unsupported: the measure embeds",
            );
            return Ok(None);
        }
        Err(e) => {
            return Err(Failure::new(
                "landmarks",
                format!(
                    "landmarks() failed: {}. A measure without landmarks answers UNSUPPORTED",
                    err_text(&e)
                ),
            ))
        }
        Ok(l) => l,
    };
    if listed.is_empty() {
        return Err(Failure::new(
            "landmarks",
            "landmarks() listed no architecture: the host would embed every task from nothing",
        ));
    }
    let mut texts = Vec::with_capacity(listed.len());
    for g in &listed {
        let arch = space.canonical(g).map_err(|e| {
            Failure::new(
                "landmarks/valid",
                format!(
                    "landmarks() lists {g:?}, which canonical refuses: {}. The host evaluates \
                     every landmark on every task",
                    err_text(&e)
                ),
            )
        })?;
        texts.push(arch.text.to_string());
    }
    let second = guarded(
        "landmarks/deterministic",
        || "landmarks()".into(),
        || b.landmarks(),
    )?;
    if second.as_ref() != Ok(&listed) {
        return Err(Failure::new(
            "landmarks/deterministic",
            format!(
                "two measures built with one seed list different landmarks ({} and {}): the \
                 host evaluates them once and keeps the results",
                listed.len(),
                second.map_or_else(|e| err_text(&e), |l| format!("{} architectures", l.len()))
            ),
        ));
    }
    report.pass(
        "landmarks",
        format!(
            "{} valid landmark architectures, the same for one seed",
            listed.len()
        ),
    );
    Ok(Some(texts))
}

/// `task`'s embedding: `embed`, or `embed_scores` of the landmarks' synthetic scores on it.
fn embed<S: Similarity>(
    s: &mut S,
    task: &str,
    landmarks: Option<&Vec<String>>,
) -> Result<Vec<f32>, Failure> {
    let (call, result) = match landmarks {
        None => (
            format!("embed(`{task}`)"),
            guarded("embed", || format!("embed(`{task}`)"), || s.embed(task))?,
        ),
        Some(texts) => {
            let scores: Vec<f64> = texts
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    synthetic_outcome(&format!("{task}/{t}"), i as u64).unwrap_or(f64::NAN)
                })
                .collect();
            let call = format!("embed_scores(`{task}`, {scores:?})");
            let r = guarded("embed", || call.clone(), || s.embed_scores(task, &scores))?;
            (call, r)
        }
    };
    result.map_err(|e| Failure::new("embed", format!("{call} failed: {}", err_text(&e))))
}

fn same_embedding(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
}

fn check_distances<S: Similarity>(
    s: &S,
    embeddings: &[(&str, Vec<f32>)],
    report: &mut Report,
) -> Result<(), Failure> {
    let d = |i: usize, j: usize| -> Result<f64, Failure> {
        let ((ta, a), (tb, b)) = (&embeddings[i], &embeddings[j]);
        let call = || format!("distance(`{ta}`, `{tb}`)");
        let v = guarded("distance", call, || s.distance(a, b))?.map_err(|e| {
            Failure::new("distance", format!("{} failed: {}", call(), err_text(&e)))
        })?;
        if !v.is_finite() || v < 0.0 {
            return Err(Failure::new(
                "distance",
                format!(
                    "{} is {v}: a distance is a finite number, 0 or more",
                    call()
                ),
            ));
        }
        Ok(v)
    };
    let n = embeddings.len();
    for i in 0..n {
        let own = d(i, i)?;
        if own.abs() > 1e-9 {
            return Err(Failure::new(
                "distance/zero",
                format!(
                    "distance(`{0}`, `{0}`) is {own}: an embedding is at distance 0 from itself",
                    embeddings[i].0
                ),
            ));
        }
        for j in i + 1..n {
            let (there, back) = (d(i, j)?, d(j, i)?);
            if (there - back).abs() > 1e-12 * there.abs().max(1.0) {
                return Err(Failure::new(
                    "distance/symmetric",
                    format!(
                        "distance(`{}`, `{}`) is {there}, the other way {back}: a distance is \
                         symmetric",
                        embeddings[i].0, embeddings[j].0
                    ),
                ));
            }
        }
    }
    report.pass(
        "distance",
        format!(
            "{} pairs: finite, 0 or more, 0 on the diagonal, symmetric",
            n * (n + 1) / 2
        ),
    );
    Ok(())
}
