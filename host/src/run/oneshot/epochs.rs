//! A one-shot search's epochs as a person reads them: each epoch's report as the store keeps it
//! ([`EpochRecord`]), `alpha.csv` (the mixing weights, softmax of α, of every edge after every
//! epoch, with that epoch's genotype), `epochs.csv` (losses, accuracies, α entropy, skip count)
//! and `alpha-<cell>.png/.svg` (each op's mean weight over a cell's edges, epoch by epoch). All
//! are rebuilt from the store, so `xnas report` redoes them.

use crate::chart::{self, Chart, Series};
use crate::error::{HostError, HostResult};
use crate::report::{number, write_csv};
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use xnas_core::{EpochReport, SupernetLayout};

/// The store's meta key of the layout (so reports need no plugin).
pub(super) const LAYOUT_KEY: &str = "one_shot_layout";

/// The edges and op names a search's mixing weights are indexed by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayoutView {
    pub ops: Vec<String>,
    pub edges: Vec<EdgeView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeView {
    pub cell: String,
    pub node: u32,
    pub input: u32,
}

impl LayoutView {
    pub fn of(layout: &SupernetLayout) -> LayoutView {
        LayoutView {
            ops: layout.ops.iter().map(|o| o.to_string()).collect(),
            edges: layout
                .edges
                .iter()
                .map(|e| EdgeView {
                    cell: e.cell.to_string(),
                    node: e.node,
                    input: e.input,
                })
                .collect(),
        }
    }

    /// The cell kinds, in layout order.
    fn cells(&self) -> Vec<&str> {
        let mut cells: Vec<&str> = Vec::new();
        for e in &self.edges {
            if !cells.contains(&e.cell.as_str()) {
                cells.push(&e.cell);
            }
        }
        cells
    }
}

/// One ended epoch as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: u32,
    pub stage: u32,
    pub train_loss: f64,
    pub train_accuracy: f64,
    /// None where the method did not evaluate the α split this epoch.
    pub valid_loss: Option<f64>,
    pub valid_accuracy: Option<f64>,
    pub entropy: f64,
    pub skip_count: u32,
    pub genotype: String,
    pub genome: Vec<u32>,
    /// Op indices of each edge's columns.
    pub candidates: Vec<Vec<u32>>,
    /// Mixing weights, rows = edges, row-major.
    pub mix: Vec<f32>,
    /// Search seconds when the epoch ended.
    pub seconds: f64,
}

impl EpochRecord {
    pub fn new(r: &EpochReport, seconds: f64) -> EpochRecord {
        let valid = (r.valid.examples > 0).then_some(r.valid);
        EpochRecord {
            epoch: r.epoch,
            stage: r.stage,
            train_loss: r.train.loss,
            train_accuracy: r.train.accuracy,
            valid_loss: valid.map(|v| v.loss),
            valid_accuracy: valid.map(|v| v.accuracy),
            entropy: r.entropy,
            skip_count: r.skip_count,
            genotype: r.genotype.text.to_string(),
            genome: r.genotype.genome.to_vec(),
            candidates: r.candidates.iter().map(|c| c.to_vec()).collect(),
            mix: r.mix.data.to_vec(),
            seconds,
        }
    }

    /// The weight of layout op `op` on edge `edge`; None where it is not a candidate there.
    fn weight(&self, edge: usize, op: usize) -> Option<f32> {
        let candidates = self.candidates.get(edge)?;
        let col = candidates.iter().position(|&c| c as usize == op)?;
        self.mix.get(edge * candidates.len() + col).copied()
    }

    /// The progress line of this epoch.
    pub fn line(&self, epochs: Option<u64>) -> String {
        let of = epochs.map_or(String::new(), |n| format!("/{n}"));
        let valid = match (self.valid_loss, self.valid_accuracy) {
            (Some(l), Some(a)) => format!("valid loss {l:.4} acc {a:.3}"),
            _ => "valid —".to_string(),
        };
        format!(
            "epoch {}{of} (stage {}): train loss {:.4} acc {:.3}, {valid}, α entropy {:.3}, \
             skips {}, {:.1} s",
            self.epoch + 1,
            self.stage,
            self.train_loss,
            self.train_accuracy,
            self.entropy,
            self.skip_count,
            self.seconds
        )
    }
}

/// The run's layout and epoch records from its store; None for a black-box run.
pub fn stored(store: &Store) -> HostResult<Option<(LayoutView, Vec<EpochRecord>)>> {
    let Some(text) = store.meta(LAYOUT_KEY)? else {
        return Ok(None);
    };
    let damaged = |what: &str, e: serde_json::Error| HostError::Store {
        path: store.path().to_path_buf(),
        message: format!("the one-shot {what} record is damaged ({e})"),
    };
    let layout: LayoutView = serde_json::from_str(&text).map_err(|e| damaged("layout", e))?;
    let records = store
        .epoch_reports()?
        .iter()
        .map(|r| serde_json::from_str(r).map_err(|e| damaged("epoch", e)))
        .collect::<HostResult<Vec<EpochRecord>>>()?;
    Ok(Some((layout, records)))
}

/// Writes `alpha.csv`, `epochs.csv` and (when `plots`) the α plots into `run_dir`; a plot that
/// cannot be drawn is warned about, not an error.
pub fn write_files(
    run_dir: &Path,
    layout: &LayoutView,
    records: &[EpochRecord],
    plots: bool,
) -> HostResult<()> {
    write_alpha_csv(&run_dir.join("alpha.csv"), layout, records)?;
    write_epochs_csv(&run_dir.join("epochs.csv"), records)?;
    if plots {
        if let Err(e) = plot(run_dir, layout, records) {
            tracing::warn!("α plots not written: {e}");
        }
    }
    Ok(())
}

/// One row per (epoch, edge): where the edge is, then its weight on every op of the layout
/// (empty where the op is not a candidate of that edge), then the epoch's genotype.
fn write_alpha_csv(path: &Path, layout: &LayoutView, records: &[EpochRecord]) -> HostResult<()> {
    let mut header = vec!["epoch", "stage", "edge", "cell", "node", "input"];
    header.extend(layout.ops.iter().map(String::as_str));
    header.push("genotype");
    let rows = records.iter().flat_map(|r| {
        layout.edges.iter().enumerate().map(move |(i, e)| {
            let mut row = vec![
                r.epoch.to_string(),
                r.stage.to_string(),
                i.to_string(),
                e.cell.clone(),
                e.node.to_string(),
                e.input.to_string(),
            ];
            row.extend((0..layout.ops.len()).map(|op| number(r.weight(i, op).map(f64::from))));
            row.push(r.genotype.clone());
            row
        })
    });
    write_csv(path, &header, rows)
}

fn write_epochs_csv(path: &Path, records: &[EpochRecord]) -> HostResult<()> {
    let header = [
        "epoch",
        "stage",
        "train_loss",
        "train_accuracy",
        "valid_loss",
        "valid_accuracy",
        "alpha_entropy",
        "skip_count",
        "search_seconds",
        "genotype",
    ];
    let rows = records.iter().map(|r| {
        [
            r.epoch.to_string(),
            r.stage.to_string(),
            format!("{}", r.train_loss),
            format!("{}", r.train_accuracy),
            number(r.valid_loss),
            number(r.valid_accuracy),
            format!("{}", r.entropy),
            r.skip_count.to_string(),
            format!("{:.3}", r.seconds),
            r.genotype.clone(),
        ]
    });
    write_csv(path, &header, rows)
}

/// `alpha-<cell>.png/.svg`: per op, its mean weight over the cell's edges (0 where pruned).
fn plot(run_dir: &Path, layout: &LayoutView, records: &[EpochRecord]) -> chart::Res<Vec<PathBuf>> {
    let mut files = Vec::new();
    if records.is_empty() {
        return Ok(files);
    }
    for cell in layout.cells() {
        let edges: Vec<usize> = (0..layout.edges.len())
            .filter(|&i| layout.edges[i].cell == cell)
            .collect();
        let series: Vec<Series> = layout
            .ops
            .iter()
            .enumerate()
            .map(|(op, name)| Series {
                name: name.clone(),
                points: records
                    .iter()
                    .map(|r| {
                        let sum: f64 = edges
                            .iter()
                            .map(|&e| f64::from(r.weight(e, op).unwrap_or(0.0)))
                            .sum();
                        let mean = sum / edges.len().max(1) as f64;
                        (f64::from(r.epoch + 1), mean, f64::NAN, f64::NAN)
                    })
                    .collect(),
            })
            .collect();
        let top = series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .fold(0.0, f64::max);
        let title = format!("α of the {cell} cell: mean mixing weight of each op");
        let stem = run_dir.join(format!("alpha-{cell}"));
        files.extend(chart::png_and_svg(
            &stem,
            &Chart {
                title: &title,
                x_desc: "epoch",
                y_desc: "mean softmax(α) over the cell's edges",
                series: &series,
                x_from: 1.0,
                y_range: (0.0, (top * 1.1).max(1e-3)),
                bands: false,
            },
        )?);
    }
    Ok(files)
}
