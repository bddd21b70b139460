//! Task similarity: using an experiment's similarity plugin, and `xnas similarity FILE`, which
//! embeds every task of the file, prints the distance matrix and draws it as a heat map.
//!
//! A measure with the `landmarks` capability does not read data itself: it names architectures,
//! the host evaluates them on each task through the experiment's space, and the plugin embeds a
//! task from those scores. In a run those evaluations are trials (see `run::sources`); here they
//! are evaluated directly and not stored.

use crate::config::validate::Resolved;
use crate::config::Experiment;
use crate::error::{HostError, HostResult};
use crate::executor::{Finished, LocalPool};
use crate::plugins::{assemble, PluginEntry};
use crate::report::write_json;
use plotters::prelude::*;
use std::convert::Infallible;
use std::path::Path;
use std::time::Instant;
use xnas_core::abi_stable::std_types::RVec;
use xnas_core::*;

/// The landmark architectures of a measure that declares them (checked valid in the space).
pub(crate) fn landmarks(
    entry: &PluginEntry,
    sim: &mut SimilarityBox,
    space: &SpaceBox,
) -> HostResult<Option<Vec<Vec<u32>>>> {
    if !entry.info.has(capability::LANDMARKS) {
        return Ok(None);
    }
    let genomes = sim.landmarks().map_err(|e| entry.error(e))?;
    if genomes.is_empty() {
        return Err(entry.error(PluginError::other("declares landmarks but named none")));
    }
    let mut canonical = Vec::with_capacity(genomes.len());
    for g in genomes {
        let arch = space.canonical(&g).map_err(|e| {
            entry.error(PluginError::other(format!(
                "landmark architecture {g:?} is not valid in the search space: {}",
                e.message()
            )))
        })?;
        canonical.push(arch.genome.to_vec());
    }
    Ok(Some(canonical))
}

/// The scores (validation metrics, NaN for failed evaluations) of a task's landmarks.
pub(crate) fn scores_of(outcomes: &[Option<f64>]) -> Vec<f64> {
    outcomes.iter().map(|m| m.unwrap_or(f64::NAN)).collect()
}

/// A task's embedding: from its landmark scores when the measure has landmarks, else `embed`.
/// The inner `Err` is a task the measure cannot embed (an evaluation error, say too few
/// landmarks evaluated there): a gap, which a run ranks last and the matrix leaves blank. Any
/// other plugin error (parameters, data) is returned as the outer error.
pub(crate) fn embed_task(
    entry: &PluginEntry,
    sim: &mut SimilarityBox,
    task: &str,
    scores: Option<&[f64]>,
) -> HostResult<Result<Vec<f32>, PluginError>> {
    let embedded = match scores {
        Some(s) => sim.embed_scores(task, s),
        None => sim.embed(task),
    };
    match embedded {
        Ok(e) => Ok(Ok(e)),
        Err(e) if e.kind == ErrorKind::EVALUATION => Ok(Err(e)),
        Err(e) => Err(entry.error(e)),
    }
}

/// What `xnas similarity` computed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Matrix {
    pub similarity: String,
    pub tasks: Vec<String>,
    /// `distances[i][j]`: distance between tasks i and j.
    pub distances: Vec<Vec<f64>>,
    /// Seconds to embed each task (landmark evaluations included).
    pub embed_seconds: Vec<f64>,
    /// Empty for a task that could not be embedded (see `not_embedded`).
    pub embeddings: Vec<Vec<f32>>,
    /// Tasks the measure could not embed, with the reason (their distances are NaN).
    pub not_embedded: Vec<String>,
}

/// `xnas similarity FILE`: embeds the target and every source of the experiment with its
/// `[similarity]` plugin; writes distances.csv, similarity.json and heatmap.png/.svg to `out`.
pub fn matrix(
    exp: &Experiment,
    resolved: &Resolved,
    space: &SpaceBox,
    workers: usize,
    out: &Path,
) -> HostResult<Matrix> {
    let entry = resolved.similarity.as_ref().ok_or_else(|| {
        HostError::Usage(format!(
            "{} has no [similarity] section: add one (for example `[similarity] plugin = \"task2vec\"`) \
             to say how tasks are compared",
            exp.path.display()
        ))
    })?;
    let seed = derive_seed(exp.file.experiment.seed, crate::run::SIMILARITY_SEED_TAG);
    let mut sim = assemble::similarity(exp, entry, space, seed)?;
    // One process writes `out` at a time, as for runs (a second gets exit 2 naming the first).
    std::fs::create_dir_all(out).map_err(|e| HostError::io(out, e))?;
    let _lock = crate::lock::DirLock::acquire(out)?;
    let tasks = exp.tasks();
    let lm = landmarks(entry, &mut sim, space)?;
    let mut pool = LocalPool::new(space.clone(), workers.max(1));
    let mut embeddings = Vec::with_capacity(tasks.len());
    let mut embed_seconds = Vec::with_capacity(tasks.len());
    let mut failures = Vec::new();
    for (ti, task) in tasks.iter().enumerate() {
        let started = Instant::now();
        let scores = lm
            .as_ref()
            .map(|g| landmark_scores(&mut pool, g, task, seed, ti));
        let e = embed_task(entry, &mut sim, task, scores.as_deref())?;
        embed_seconds.push(started.elapsed().as_secs_f64());
        match e {
            Ok(e) => {
                tracing::info!(
                    "embedded {task} in {:.2} s ({} values)",
                    embed_seconds[ti],
                    e.len()
                );
                embeddings.push(e);
            }
            Err(e) => {
                tracing::warn!("{task} not embedded: {e}");
                failures.push(format!("{task}: {}", e.message()));
                embeddings.push(Vec::new());
            }
        }
    }
    let n = tasks.len();
    let mut distances = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..n {
            if embeddings[i].is_empty() || embeddings[j].is_empty() {
                distances[i][j] = f64::NAN;
            } else if i != j {
                distances[i][j] = sim
                    .distance(&embeddings[i], &embeddings[j])
                    .map_err(|e| entry.error(e))?;
            }
        }
    }
    let m = Matrix {
        similarity: entry.name().to_string(),
        tasks,
        distances,
        embed_seconds,
        embeddings,
        not_embedded: failures,
    };
    write(&m, out)?;
    Ok(m)
}

/// Evaluates the landmarks on `task`, the experiment's task number `ti` (not stored: `xnas
/// similarity` is no run), and returns their scores.
fn landmark_scores(
    pool: &mut LocalPool,
    genomes: &[Vec<u32>],
    task: &str,
    seed: u64,
    ti: usize,
) -> Vec<f64> {
    let requests = genomes
        .iter()
        .enumerate()
        .map(|(j, g)| EvalRequest {
            trial_id: j as u64,
            task: task.into(),
            genome: RVec::from(g.clone()),
            seed: derive_seed(seed, ((ti as u64) << 32) | j as u64),
            budget: None.into(),
        })
        .collect();
    let mut metrics = vec![None; genomes.len()];
    let Ok(()) = pool.run(requests, |Finished { index, result, .. }| {
        match result {
            Ok(r) if r.metric.is_finite() => metrics[index] = Some(r.metric),
            Ok(_) => tracing::warn!("landmark {index} on {task}: non-finite metric"),
            Err(e) => tracing::warn!("landmark {index} on {task} failed: {e}"),
        }
        Ok::<(), Infallible>(())
    });
    scores_of(&metrics)
}

fn write(m: &Matrix, out: &Path) -> HostResult<()> {
    let mut csv = String::from("task");
    for t in &m.tasks {
        csv.push(',');
        csv.push_str(t);
    }
    csv.push('\n');
    for (t, row) in m.tasks.iter().zip(&m.distances) {
        csv.push_str(t);
        for d in row {
            csv.push_str(&format!(",{d:.6}"));
        }
        csv.push('\n');
    }
    crate::report::files::write_atomic(&out.join("distances.csv"), csv.as_bytes())?;
    write_json(&out.join("similarity.json"), m)?;
    for (name, png) in [("heatmap.png", true), ("heatmap.svg", false)] {
        let p = out.join(name);
        heatmap(m, &p, png).map_err(|e| HostError::Run(format!("{}: {e}", p.display())))?;
    }
    Ok(())
}

/// The matrix as text, for the terminal.
pub fn table(m: &Matrix) -> String {
    let w = m.tasks.iter().map(String::len).max().unwrap_or(4).max(8);
    let mut s = format!("distances ({}; 0 = identical)\n{:w$}", m.similarity, "");
    for t in &m.tasks {
        s.push_str(&format!(" {t:>w$}"));
    }
    s.push('\n');
    for (t, row) in m.tasks.iter().zip(&m.distances) {
        s.push_str(&format!("{t:w$}"));
        for d in row {
            s.push_str(&format!(" {d:>w$.4}"));
        }
        s.push('\n');
    }
    s.push_str("seconds to embed:");
    for (t, sec) in m.tasks.iter().zip(&m.embed_seconds) {
        s.push_str(&format!(" {t} {sec:.2}"));
    }
    s.push('\n');
    for f in &m.not_embedded {
        s.push_str(&format!("not embedded: {f}\n"));
    }
    s
}

/// White (0) to dark blue (the largest distance), each cell labelled with its value.
fn heatmap(m: &Matrix, path: &Path, png: bool) -> Result<(), String> {
    crate::chart::ensure_font()?;
    let n = m.tasks.len() as u32;
    let size = (MARGIN + CELL * n + 40, MARGIN + CELL * n + 60);
    crate::report::files::replace(path, |tmp| {
        if png {
            draw_heatmap(BitMapBackend::new(tmp, size).into_drawing_area(), m)
        } else {
            draw_heatmap(SVGBackend::new(tmp, size).into_drawing_area(), m)
        }
    })
    .map_err(|e| e.to_string())
}

const CELL: u32 = 90;
const MARGIN: u32 = 150;

fn draw_heatmap<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    m: &Matrix,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let n = m.tasks.len() as u32;
    let max = m
        .distances
        .iter()
        .flatten()
        .copied()
        .filter(|d| d.is_finite())
        .fold(0.0, f64::max);
    root.fill(&WHITE).map_err(err)?;
    root.draw(&Text::new(
        format!("task distance ({})", m.similarity),
        (MARGIN as i32, 15),
        ("sans-serif", 22).into_font(),
    ))
    .map_err(err)?;
    for (i, row) in m.distances.iter().enumerate() {
        for (j, d) in row.iter().enumerate() {
            let t = if max > 0.0 && d.is_finite() {
                d / max
            } else {
                0.0
            };
            let mix = |white: f64, dark: f64| (white + (dark - white) * t) as u8;
            let colour = RGBColor(mix(255.0, 8.0), mix(255.0, 48.0), mix(255.0, 107.0));
            let (x, y) = (
                (MARGIN + CELL * j as u32) as i32,
                (MARGIN + CELL * i as u32) as i32,
            );
            root.draw(&Rectangle::new(
                [(x, y), (x + CELL as i32, y + CELL as i32)],
                colour.filled(),
            ))
            .map_err(err)?;
            let ink = if t > 0.5 { WHITE } else { BLACK };
            root.draw(&Text::new(
                if d.is_finite() {
                    format!("{d:.3}")
                } else {
                    "n/a".into()
                },
                (x + 18, y + CELL as i32 / 2 - 8),
                ("sans-serif", 16).into_font().color(&ink),
            ))
            .map_err(err)?;
        }
    }
    for (i, t) in m.tasks.iter().enumerate() {
        let mid = (MARGIN + CELL * i as u32 + CELL / 2) as i32;
        root.draw(&Text::new(
            t.clone(),
            (8, mid - 8),
            ("sans-serif", 15).into_font(),
        ))
        .map_err(err)?;
        // Column labels alternate between two lines so long names do not overlap.
        let (half_width, line) = (t.chars().count() as i32 * 4, (i % 2) as i32 * 22);
        root.draw(&Text::new(
            t.clone(),
            (mid - half_width, MARGIN as i32 - 50 + line),
            ("sans-serif", 15).into_font(),
        ))
        .map_err(err)?;
    }
    root.draw(&Text::new(
        format!("rows and columns: tasks; white = 0, darkest = {max:.4}"),
        (MARGIN as i32, (MARGIN + CELL * n + 20) as i32),
        ("sans-serif", 15).into_font(),
    ))
    .map_err(err)?;
    root.present().map_err(err)
}
