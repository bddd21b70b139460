//! `best_so_far.png`: a run's best validation metric after each target evaluation, with the
//! benchmark's best when the space knows it.

use crate::chart;
use plotters::prelude::*;
use std::path::Path;

pub fn best_so_far_png(
    path: &Path,
    title: &str,
    curve: &[Option<f64>],
    best_possible: Option<f64>,
) -> Result<(), String> {
    chart::ensure_font()?;
    let points: Vec<(f64, f64)> = curve
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| ((i + 1) as f64, v)))
        .collect();
    let n = curve.len().max(1) as f64;
    let (mut lo, mut hi) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.1), hi.max(p.1))
        });
    if let Some(b) = best_possible {
        hi = hi.max(b);
        lo = lo.min(b);
    }
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.08).max(1e-3);
    let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(chart::err)?;
    let mut plot = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..n + 0.5, (lo - pad)..(hi + pad))
        .map_err(chart::err)?;
    plot.configure_mesh()
        .x_desc("target evaluations")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc("best validation metric so far")
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(chart::err)?;
    plot.draw_series(LineSeries::new(
        points.iter().copied(),
        BLUE.stroke_width(2),
    ))
    .map_err(chart::err)?
    .label("best so far")
    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
    if let Some(b) = best_possible {
        plot.draw_series(LineSeries::new(
            vec![(0.0, b), (n + 0.5, b)],
            RED.stroke_width(1),
        ))
        .map_err(chart::err)?
        .label("best in the benchmark")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(1)));
    }
    chart::legend(&mut plot, SeriesLabelPosition::LowerRight, 0.85, 15)?;
    root.present().map_err(chart::err)?;
    Ok(())
}
