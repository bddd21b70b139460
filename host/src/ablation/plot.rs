//! The ablation's plots (XferNAS Figure 3): Spearman's ρ against target knowledge, one curve
//! per source-knowledge size; one plot per target and, with several, one of the mean.

use super::plan::Ablation;
use super::stats::{Summary, MEAN_OVER_TARGETS};
use crate::chart::{png_and_svg, Chart, Res, Series};
use crate::compare::plan::slug;
use std::path::{Path, PathBuf};

/// Draws every table of `summary` into `plots`, one result per plot.
pub fn plots(ab: &Ablation, summary: &Summary, plots: &Path) -> Vec<Res<Vec<PathBuf>>> {
    let s = &ab.section;
    let mut drawn = Vec::new();
    for t in &summary.tables {
        let series: Vec<Series> = s
            .source_knowledge
            .iter()
            .map(|&sk| Series {
                name: format!("{sk} per source task"),
                points: t
                    .cells
                    .iter()
                    .filter(|c| c.source_knowledge == sk && c.spearman.n > 0)
                    .map(|c| {
                        (
                            c.target_knowledge as f64,
                            c.spearman.mean,
                            c.spearman.lo,
                            c.spearman.hi,
                        )
                    })
                    .collect(),
            })
            .collect();
        // One target: `correlation`; several: one per target and `correlation` for the mean.
        let stem = if t.target == MEAN_OVER_TARGETS || ab.targets.len() == 1 {
            plots.join("correlation")
        } else {
            plots.join(format!("correlation-{}", slug(&t.target)))
        };
        drawn.push(knowledge_curves(
            &stem,
            &format!(
                "{}: Spearman ρ on {} held-out architectures of {}",
                ab.name, s.held_out, t.target
            ),
            &series,
        ));
    }
    drawn
}

/// Spearman's ρ against target knowledge, one curve per source-knowledge size.
fn knowledge_curves(stem: &Path, title: &str, series: &[Series]) -> Res<Vec<PathBuf>> {
    let lo = series
        .iter()
        .flat_map(|s| s.points.iter().flat_map(|p| [p.1, p.2]))
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::min);
    png_and_svg(
        stem,
        &Chart {
            title,
            x_desc: "target knowledge (evaluated target architectures)",
            y_desc: "Spearman ρ on held-out architectures",
            series,
            x_from: 0.0,
            y_range: ((lo - 0.05).max(-1.0), 1.0),
            bands: true,
        },
    )
}
