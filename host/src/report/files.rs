//! Writing report files, the same way for every command: JSON pretty-printed with a final
//! newline, CSV through the `csv` crate, numbers in Rust's shortest round-trip form, and plots
//! that may fail (no font) without failing the report.

use crate::error::{HostError, HostResult};
use serde::Serialize;
use std::path::{Path, PathBuf};

fn writing(path: &Path, e: impl std::fmt::Display) -> HostError {
    HostError::Run(format!("writing {}: {e}", path.display()))
}

/// `value` as pretty JSON and a newline.
pub fn write_json(path: &Path, value: &impl Serialize) -> HostResult<()> {
    let json = serde_json::to_string_pretty(value).map_err(|e| writing(path, e))?;
    std::fs::write(path, json + "\n").map_err(|e| HostError::io(path, e))
}

/// A CSV file: the header, then the rows.
pub fn write_csv<R, F>(path: &Path, header: &[&str], rows: R) -> HostResult<()>
where
    R: IntoIterator<Item = F>,
    F: IntoIterator,
    F::Item: AsRef<[u8]>,
{
    let mut w = csv::Writer::from_path(path).map_err(|e| writing(path, e))?;
    w.write_record(header).map_err(|e| writing(path, e))?;
    for row in rows {
        w.write_record(row).map_err(|e| writing(path, e))?;
    }
    w.flush().map_err(|e| writing(path, e))
}

/// A CSV cell for a number that may be missing (empty).
pub fn number(v: Option<f64>) -> String {
    v.map(|x| format!("{x}")).unwrap_or_default()
}

/// What a report command wrote: its summary, the files, and the first plot that could not be
/// drawn (the tables are written all the same).
#[derive(Debug, Clone)]
pub struct Written<S> {
    pub summary: S,
    pub files: Vec<PathBuf>,
    pub plot_error: Option<String>,
}

impl<S> Written<S> {
    pub fn new(summary: S) -> Self {
        Written {
            summary,
            files: Vec::new(),
            plot_error: None,
        }
    }

    /// Notes a plot: its files, or (warned about) why it was not drawn.
    pub fn plotted(&mut self, plot: Result<Vec<PathBuf>, String>) {
        match plot {
            Ok(p) => self.files.extend(p),
            Err(e) => {
                tracing::warn!("plot not written: {e}");
                self.plot_error.get_or_insert(e);
            }
        }
    }
}

/// Writes `bytes` to `path` so that a reader (or a run killed at any instant) sees the old file
/// or the new one, never a part: a temporary file beside it, flushed to disk, then renamed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> HostResult<()> {
    use std::io::Write;
    let name = path
        .file_name()
        .map_or_else(|| "file".to_string(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| HostError::io(path, e))
}
