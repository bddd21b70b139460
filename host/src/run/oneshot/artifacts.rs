//! What a one-shot run keeps for later runs: the optimizer's artifacts (its supernet's weights,
//! α) as files under `run_dir/artifacts/`, and, for a run that names earlier runs in
//! `tasks.source_runs`, those runs' artifacts handed to its optimizer (warm starts).

use crate::config::Experiment;
use crate::error::{HostError, HostResult};
use crate::report::write_atomic;
use std::path::Path;
use xnas_core::abi_stable::std_types::RVec;
use xnas_core::{Artifact, SourceArtifacts};

pub const DIR: &str = "artifacts";

/// Writes each artifact to `run_dir/artifacts/<name>` (atomically); a name that is not a plain
/// file name is the optimizer's error.
pub fn write(run_dir: &Path, artifacts: &[Artifact]) -> Result<Vec<String>, String> {
    let dir = run_dir.join(DIR);
    let mut names = Vec::new();
    for a in artifacts {
        let name = a.name.as_str();
        let plain = !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !plain {
            return Err(format!(
                "artifact name `{name}` is not a plain file name (letters, digits, `-`, `_`, `.`)"
            ));
        }
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        write_atomic(&dir.join(name), &a.data).map_err(|e| e.to_string())?;
        names.push(name.to_string());
    }
    Ok(names)
}

/// The artifacts of the runs in `tasks.source_runs` (runs without any are left out).
pub fn sources(exp: &Experiment) -> HostResult<Vec<SourceArtifacts>> {
    let mut out = Vec::new();
    for run in &exp.file.tasks.source_runs {
        let run_dir = exp.resolve_path(run.get_ref());
        let dir = run_dir.join(DIR);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        files.sort();
        let mut artifacts = RVec::new();
        for f in files {
            let data = std::fs::read(&f).map_err(|e| HostError::io(&f, e))?;
            artifacts.push(Artifact {
                name: f
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .as_ref()
                    .into(),
                data: data.into(),
            });
        }
        let summary = run_dir.join("summary.json");
        let task = std::fs::read_to_string(&summary)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["target"].as_str().map(str::to_string))
            .ok_or_else(|| {
                exp.error_at(
                    run.span(),
                    format!(
                        "tasks.source_runs: {} has artifacts but no summary.json naming its \
                         target: finish it with `xnas resume` first",
                        run_dir.display()
                    ),
                )
            })?;
        out.push(SourceArtifacts {
            run: run_dir.display().to_string().into(),
            task: task.into(),
            artifacts,
        });
    }
    Ok(out)
}
