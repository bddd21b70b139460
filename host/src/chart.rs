//! What every chart of the host shares (plotters): the font, the colours, the line chart with
//! confidence bands that comparisons and ablations draw, and writing a chart as PNG and SVG.
//!
//! Text needs a TrueType font: the first of a few standard locations that exists is registered
//! once (Debian: fonts-dejavu-core), or `XNAS_FONT`.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const FONT_CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
];

/// Registers the font as `sans-serif` (once per process).
pub(crate) fn ensure_font() -> Result<(), String> {
    static FONT: OnceLock<Result<(), String>> = OnceLock::new();
    FONT.get_or_init(|| {
        let candidates = std::env::var("XNAS_FONT")
            .into_iter()
            .chain(FONT_CANDIDATES.iter().map(|s| s.to_string()));
        for path in candidates {
            if let Ok(bytes) = std::fs::read(&path) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return Ok(());
                }
            }
        }
        Err(
            "no TrueType font found (install fonts-dejavu-core or set XNAS_FONT to a .ttf file)"
                .into(),
        )
    })
    .clone()
}

/// One line: (x, mean, interval low, interval high); NaN bounds draw no band.
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

pub type Res<T> = Result<T, String>;

pub(crate) fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// A line chart of several series, the x axis from `x_from`.
pub struct Chart<'a> {
    pub title: &'a str,
    pub x_desc: &'a str,
    pub y_desc: &'a str,
    pub series: &'a [Series],
    pub x_from: f64,
    pub y_range: (f64, f64),
    /// Shade each series' interval.
    pub bands: bool,
}

/// The legend box every chart draws.
pub(crate) fn legend<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
    opacity: f64,
    font_size: u32,
) -> Res<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    CT: plotters::coord::CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(opacity))
        .border_style(BLACK)
        .label_font(("sans-serif", font_size))
        .draw()
        .map_err(err)
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
    legend(&mut chart, SeriesLabelPosition::UpperRight, 0.9, 16)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Writes the chart as `<stem>.png` and `<stem>.svg`.
pub fn png_and_svg(stem: &Path, c: &Chart) -> Res<Vec<PathBuf>> {
    ensure_font()?;
    let png = stem.with_extension("png");
    let svg = stem.with_extension("svg");
    // Each written whole beside itself, then renamed: a kill or a full disk leaves the old plot.
    crate::report::files::replace(&png, |tmp| {
        draw(BitMapBackend::new(tmp, (960, 600)).into_drawing_area(), c)
    })
    .map_err(|e| e.to_string())?;
    crate::report::files::replace(&svg, |tmp| {
        draw(SVGBackend::new(tmp, (960, 600)).into_drawing_area(), c)
    })
    .map_err(|e| e.to_string())?;
    Ok(vec![png, svg])
}
