//! Comparison plots, each as PNG and SVG: regret curves with confidence bands, and the average
//! rank of the variants over targets.

use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// One variant's line: (evaluations, mean, interval low, interval high); NaN bounds draw no band.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64, f64, f64)>,
}

/// Distinct colours, colour-blind friendly first (Okabe–Ito), then plotters' palette.
fn colour(i: usize) -> RGBColor {
    const OKABE_ITO: [(u8, u8, u8); 7] = [
        (0, 114, 178),
        (213, 94, 0),
        (0, 158, 115),
        (204, 121, 167),
        (230, 159, 0),
        (86, 180, 233),
        (0, 0, 0),
    ];
    match OKABE_ITO.get(i) {
        Some(&(r, g, b)) => RGBColor(r, g, b),
        None => {
            let c = Palette99::pick(i).to_rgba();
            RGBColor(c.0, c.1, c.2)
        }
    }
}

type Res<T> = Result<T, String>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

struct Chart<'a> {
    title: &'a str,
    x_desc: &'a str,
    y_desc: &'a str,
    series: &'a [Series],
    x_from: f64,
    y_range: (f64, f64),
    bands: bool,
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, c: &Chart) -> Res<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let x_max = c
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(1.0, f64::max);
    let (lo, hi) = c.y_range;
    let mut chart = ChartBuilder::on(&root)
        .caption(c.title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(46)
        .y_label_area_size(72)
        .build_cartesian_2d(c.x_from - 0.5..x_max + 0.5, lo..hi)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(c.x_desc)
        .y_desc(c.y_desc)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .label_style(("sans-serif", 15))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    if c.bands {
        for (i, s) in c.series.iter().enumerate() {
            let band: Vec<(f64, f64)> = s
                .points
                .iter()
                .filter(|p| p.0 >= c.x_from && p.2.is_finite())
                .map(|p| (p.0, p.2.clamp(lo, hi)))
                .chain(
                    s.points
                        .iter()
                        .rev()
                        .filter(|p| p.0 >= c.x_from && p.3.is_finite())
                        .map(|p| (p.0, p.3.clamp(lo, hi))),
                )
                .collect();
            if band.len() > 2 {
                chart
                    .draw_series(std::iter::once(Polygon::new(band, colour(i).mix(0.15))))
                    .map_err(err)?;
            }
        }
    }
    for (i, s) in c.series.iter().enumerate() {
        let col = colour(i);
        chart
            .draw_series(LineSeries::new(
                s.points
                    .iter()
                    .filter(|p| p.0 >= c.x_from)
                    .map(|p| (p.0, p.1.clamp(lo, hi))),
                col.stroke_width(2),
            ))
            .map_err(err)?
            .label(&s.name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], col.stroke_width(3)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Writes `<stem>.png` and `<stem>.svg`.
fn both(stem: &Path, c: &Chart) -> Res<Vec<PathBuf>> {
    crate::report::plot::ensure_font()?;
    let png = stem.with_extension("png");
    let svg = stem.with_extension("svg");
    draw(BitMapBackend::new(&png, (960, 600)).into_drawing_area(), c)
        .map_err(|e| format!("{}: {e}", png.display()))?;
    draw(SVGBackend::new(&svg, (960, 600)).into_drawing_area(), c)
        .map_err(|e| format!("{}: {e}", svg.display()))?;
    Ok(vec![png, svg])
}

/// Mean regret (×100) per variant against evaluations, with the confidence band.
pub fn regret_curves(
    stem: &Path,
    title: &str,
    series: &[Series],
    confidence: f64,
) -> Res<Vec<PathBuf>> {
    let scaled: Vec<Series> = series
        .iter()
        .map(|s| Series {
            name: s.name.clone(),
            points: s
                .points
                .iter()
                .map(|p| (p.0, p.1 * 100.0, p.2 * 100.0, p.3 * 100.0))
                .collect(),
        })
        .collect();
    // The first evaluations' regret dwarfs the rest: the axes start after 10 % of the budget so
    // the differences that matter stay visible (curves.csv has every evaluation).
    let x_max = scaled
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(1.0, f64::max);
    let from = (x_max * 0.1).round().max(1.0);
    let values = scaled.iter().flat_map(|s| {
        s.points
            .iter()
            .filter(move |p| p.0 >= from)
            .flat_map(|p| [p.1, p.2, p.3])
    });
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let pad = ((hi - lo) * 0.08).max(1e-3);
    let y_desc = format!("regret ×100 (mean, {:.0} % interval)", confidence * 100.0);
    both(
        stem,
        &Chart {
            title,
            x_desc: "target evaluations",
            y_desc: &y_desc,
            series: &scaled,
            x_from: from,
            y_range: ((lo - pad).max(0.0), hi + pad),
            bands: true,
        },
    )
}

/// Average rank (1 = best) per variant against evaluations.
pub fn average_rank(
    stem: &Path,
    title: &str,
    series: &[Series],
    variants: usize,
) -> Res<Vec<PathBuf>> {
    both(
        stem,
        &Chart {
            title,
            x_desc: "target evaluations",
            y_desc: "average rank over targets (1 = best)",
            series,
            x_from: 1.0,
            y_range: (0.8, variants as f64 + 0.2),
            bands: false,
        },
    )
}

/// Spearman's ρ against target knowledge, one curve per source-knowledge size (XferNAS Figure 3).
pub fn knowledge_curves(stem: &Path, title: &str, series: &[Series]) -> Res<Vec<PathBuf>> {
    let lo = series
        .iter()
        .flat_map(|s| s.points.iter().flat_map(|p| [p.1, p.2]))
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::min);
    both(
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
