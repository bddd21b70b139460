//! Writing report files, the same way for every command: JSON pretty-printed with a final
//! newline, CSV through the `csv` crate, numbers in Rust's shortest round-trip form, and plots
//! that may fail (no font) without failing the report. Every file is written whole to a
//! temporary file beside it, then renamed over the old one ([`replace`]): a full disk or a kill
//! while writing leaves the previous report in place, never a truncated one.

use crate::error::{HostError, HostResult};
use serde::Serialize;
use std::path::{Path, PathBuf};

fn writing(path: &Path, e: impl std::fmt::Display) -> HostError {
    HostError::Run(format!("writing {}: {e}", path.display()))
}

/// Writes `path` by `write(tmp)` into a temporary file `tmp` in the same folder (same
/// extension, for writers that go by it), synced, then renamed to `path`. On any failure the
/// temporary file is removed and `path` is left as it was.
pub fn replace<E: std::fmt::Display>(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), E>,
) -> HostResult<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()));
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::Builder::new()
        // As any new file (the umask applies), not the temporary file's private 0600.
        .permissions(std::fs::Permissions::from_mode(0o666))
        .prefix(&format!(".{}.", name.unwrap_or_default()))
        .suffix(ext.as_deref().unwrap_or(""))
        .tempfile_in(dir)
        .map_err(|e| writing(path, e))?;
    write(tmp.path()).map_err(|e| writing(path, e))?;
    tmp.as_file().sync_all().map_err(|e| writing(path, e))?;
    tmp.persist(path).map_err(|e| writing(path, e.error))?;
    Ok(())
}

/// `value` as pretty JSON and a newline.
pub fn write_json(path: &Path, value: &impl Serialize) -> HostResult<()> {
    let json = serde_json::to_string_pretty(value).map_err(|e| writing(path, e))?;
    replace(path, |tmp| std::fs::write(tmp, json + "\n"))
}

/// A CSV file: the header, then the rows.
pub fn write_csv<R, F>(path: &Path, header: &[&str], rows: R) -> HostResult<()>
where
    R: IntoIterator<Item = F>,
    F: IntoIterator,
    F::Item: AsRef<[u8]>,
{
    replace(path, |tmp| -> Result<(), csv::Error> {
        let mut w = csv::Writer::from_path(tmp)?;
        w.write_record(header)?;
        for row in rows {
            w.write_record(row)?;
        }
        Ok(w.flush()?)
    })
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
/// or the new one, never a part ([`replace`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> HostResult<()> {
    replace(path, |tmp| std::fs::write(tmp, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trials.csv");
        write_csv(&path, &["a", "b"], [["1", "2"]]).unwrap();
        let before = std::fs::read_to_string(&path).unwrap();
        // A write that fails half-way (as on a full disk).
        let err = replace(&path, |tmp| {
            std::fs::write(tmp, "a,b\n1,")?;
            Err(std::io::Error::other("No space left on device"))
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("trials.csv") && err.contains("No space left"),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "the temporary file is gone: {names:?}");
    }
}
