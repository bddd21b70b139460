//! Transfer architectures of warm-started DARTS (Grobelnik & Vanschoren, "Warm-starting DARTS
//! using meta-learning"). Transfer architecture search (TAS, `pdarts` with
//! `transfer_search = true`) runs P-DARTS on a source task without its final discretisation:
//! what it keeps is the reduced DAG λ, the candidate ops left on every edge after the last
//! stage, and the learned transfer architecture λ̂, λ with that stage's α and supernet weights.
//! A run keeps them as artifacts ([`LAMBDA`], [`LAMBDA_HAT`] naming [`WEIGHTS`]); `ws-darts`
//! reads them from a source run and searches the target restricted to λ's ops.

use serde::{Deserialize, Serialize};
use xnas_core::{Artifact, PluginError, PluginResult, SourceArtifacts, SupernetLayout};

/// λ: the reduced DAG.
pub const LAMBDA: &str = "lambda.json";
/// λ̂: λ with α, naming the weights artifact.
pub const LAMBDA_HAT: &str = "lambda_hat.json";
/// The supernet weights by name (`Stage::artifacts` writes them).
pub const WEIGHTS: &str = "supernet.weights";
/// The format of [`TransferArch`]'s JSON.
pub const FORMAT: u32 = 1;

/// One layout edge by its names, so a transfer architecture says which layout it was made for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeName {
    pub cell: String,
    pub node: u32,
    pub input: u32,
}

/// λ (and, with `alpha` and `weights`, λ̂) as a run keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransferArch {
    pub format: u32,
    /// The task TAS searched.
    pub task: String,
    /// The space's candidate ops and edges (its supernet layout), in layout order.
    pub ops: Vec<String>,
    pub edges: Vec<EdgeName>,
    /// The last stage's search network: cells and initial channels.
    pub cells: u32,
    pub channels: u32,
    /// The op indices kept on each edge (layout order): the columns of `alpha`.
    pub candidates: Vec<Vec<u32>>,
    /// λ̂: α per edge over `candidates`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<Vec<Vec<f64>>>,
    /// λ̂: the artifact holding the supernet weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<String>,
    /// λ_meta: every task the search shared its weights and α over (`task` among them); empty
    /// for a search of one task.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub meta_tasks: Vec<String>,
}

impl TransferArch {
    /// λ of a search over `layout` whose last stage (`cells`, `channels`) kept `candidates`.
    pub fn new(
        layout: &SupernetLayout,
        task: &str,
        (cells, channels): (u32, u32),
        candidates: &[Vec<u32>],
    ) -> Self {
        TransferArch {
            format: FORMAT,
            task: task.to_string(),
            ops: layout.ops.iter().map(|o| o.to_string()).collect(),
            edges: layout
                .edges
                .iter()
                .map(|e| EdgeName {
                    cell: e.cell.to_string(),
                    node: e.node,
                    input: e.input,
                })
                .collect(),
            cells,
            channels,
            candidates: candidates.to_vec(),
            alpha: None,
            weights: None,
            meta_tasks: Vec::new(),
        }
    }

    /// λ̂: λ with α (flat, rows of `candidates[e].len()`) and the weights artifact's name.
    pub fn with_alpha(&self, alpha: &[f64]) -> Self {
        let cols = self.candidates.first().map_or(1, Vec::len).max(1);
        TransferArch {
            alpha: Some(alpha.chunks(cols).map(<[f64]>::to_vec).collect()),
            weights: Some(WEIGHTS.to_string()),
            ..self.clone()
        }
    }

    /// The artifacts `lambda.json` and `lambda_hat.json` (λ̂'s weights are `supernet.weights`,
    /// kept alongside).
    pub fn artifacts(&self, alpha: &[f64]) -> PluginResult<Vec<Artifact>> {
        let json = |t: &TransferArch| {
            serde_json::to_vec_pretty(t)
                .map_err(|e| PluginError::other(format!("transfer architecture as JSON: {e}")))
        };
        Ok(vec![
            Artifact {
                name: LAMBDA.into(),
                data: json(self)?.into(),
            },
            Artifact {
                name: LAMBDA_HAT.into(),
                data: json(&self.with_alpha(alpha))?.into(),
            },
        ])
    }

    /// Reads λ (`hat`: λ̂) from a source run's artifacts and checks it against `layout`. Every
    /// refusal is one sentence naming the run.
    pub fn read(
        source: &SourceArtifacts,
        hat: bool,
        layout: &SupernetLayout,
    ) -> PluginResult<Self> {
        let name = if hat { LAMBDA_HAT } else { LAMBDA };
        Self::read_named(
            source,
            name,
            hat,
            layout,
            "make one with `pdarts` and `transfer_search = true` on that task, or name another run",
        )
    }

    /// [`TransferArch::read`] of the artifact `name` (BASE's meta-network is one with α and
    /// weights); `missing` says what to do when the run lacks it.
    pub fn read_named(
        source: &SourceArtifacts,
        name: &str,
        hat: bool,
        layout: &SupernetLayout,
        missing: &str,
    ) -> PluginResult<Self> {
        let run = source.run.as_str();
        let bad = |m: String| PluginError::data(format!("source run {run}: {m}"));
        let data = artifact(source, name).ok_or_else(|| {
            bad(format!(
                "it has no transfer architecture (artifacts/{name}): {missing}"
            ))
        })?;
        let t: TransferArch = serde_json::from_slice(data).map_err(|e| {
            bad(format!(
                "artifacts/{name} is not a transfer architecture ({e})"
            ))
        })?;
        if t.format != FORMAT {
            return Err(bad(format!(
                "artifacts/{name} has format {}, this xnas reads {FORMAT}",
                t.format
            )));
        }
        t.check(layout, hat).map_err(bad)?;
        if hat {
            let weights = t.weights.as_deref().unwrap_or(WEIGHTS);
            if artifact(source, weights).is_none() {
                return Err(bad(format!(
                    "λ̂ names artifacts/{weights}, which the run lacks"
                )));
            }
        }
        Ok(t)
    }

    /// Why this transfer architecture does not fit `layout` (another space or op set), or
    /// cannot be a restriction of it.
    pub fn check(&self, layout: &SupernetLayout, hat: bool) -> Result<(), String> {
        let ops: Vec<&str> = layout.ops.iter().map(|o| o.as_str()).collect();
        if self.ops != ops {
            return Err(format!(
                "its transfer architecture was searched over the ops [{}], and this space's \
                 supernet has [{}]: use a source searched with the same [search_space] op set",
                self.ops.join(", "),
                ops.join(", ")
            ));
        }
        let edges = TransferArch::new(layout, "", (0, 0), &[]).edges;
        if self.edges != edges {
            return Err(format!(
                "its transfer architecture has {} edges of another cell than this space's \
                 supernet ({} edges): use a source searched in the same space and cell",
                self.edges.len(),
                edges.len()
            ));
        }
        if self.candidates.len() != edges.len() {
            return Err(format!(
                "its transfer architecture lists ops for {} edges, the layout has {}",
                self.candidates.len(),
                edges.len()
            ));
        }
        let cols = self.candidates[0].len();
        for (e, row) in self.candidates.iter().enumerate() {
            if row.is_empty() || row.len() != cols {
                return Err(format!(
                    "its transfer architecture keeps {} ops on edge {e} and {cols} on edge 0: \
                     every edge keeps the same number, at least one",
                    row.len()
                ));
            }
            if let Some(&op) = row.iter().find(|&&op| op as usize >= ops.len()) {
                return Err(format!(
                    "its transfer architecture names op {op} on edge {e}; the layout has {}",
                    ops.len()
                ));
            }
            if (1..row.len()).any(|k| row[..k].contains(&row[k])) {
                return Err(format!(
                    "its transfer architecture lists an op twice on edge {e}: {row:?}"
                ));
            }
        }
        if self.cells == 0 || self.channels == 0 {
            return Err(
                "its transfer architecture has a search network of 0 cells or channels".to_string(),
            );
        }
        if hat {
            let alpha = self.alpha.as_ref().ok_or("λ̂ has no α")?;
            if alpha.len() != edges.len() || alpha.iter().any(|r| r.len() != cols) {
                return Err(format!("λ̂'s α is not {} rows of {cols}", edges.len()));
            }
            if alpha.iter().flatten().any(|a| !a.is_finite()) {
                return Err("λ̂'s α has a value that is not finite".to_string());
            }
        }
        Ok(())
    }

    /// λ̂'s α as one flat vector (rows in layout edge order); empty for λ.
    pub fn flat_alpha(&self) -> Vec<f64> {
        self.alpha.iter().flatten().flatten().copied().collect()
    }
}

/// A source run's artifact by name.
pub fn artifact<'a>(source: &'a SourceArtifacts, name: &str) -> Option<&'a [u8]> {
    source
        .artifacts
        .iter()
        .find(|a| a.name.as_str() == name)
        .map(|a| a.data.as_slice())
}

/// Starts a freshly built stage from a source run's learned architecture (λ̂, a meta-network):
/// α set to `arch`'s, then the weights transferred (`Stage::transfer_weights`). Returns the
/// names of the stage's tensors that did not load, other than the per-task classifiers and those
/// `fresh_ok` accepts, for the caller to refuse in its own words; `what` names α in messages.
pub fn start_from(
    stage: &mut crate::Stage,
    source: &SourceArtifacts,
    arch: &TransferArch,
    what: &str,
    fresh_ok: impl Fn(&str) -> bool,
) -> PluginResult<Vec<String>> {
    let run = source.run.as_str();
    stage
        .set_alpha(arch.flat_alpha())
        .map_err(|e| PluginError::data(format!("source run {run}: {what}: {}", e.message())))?;
    let name = arch.weights.as_deref().unwrap_or(WEIGHTS);
    let weights = artifact(source, name).unwrap_or_default();
    let report = stage.transfer_weights(weights).map_err(|e| {
        PluginError::data(format!(
            "source run {run}: artifacts/{name}: {}",
            e.message()
        ))
    })?;
    Ok(report
        .kept
        .iter()
        .map(|n| n.to_string())
        .filter(|n| !is_task_head(n) && !fresh_ok(n))
        .collect())
}

/// Whether a weight left as initialised by a warm start is a per-task classifier, which a
/// transfer re-initialises anyway: the supernets in this repository name them `classifier.*`
/// (`nasnet`) and `classifiers.*` (`nb201`).
pub fn is_task_head(name: &str) -> bool {
    name.split('.')
        .next()
        .is_some_and(|first| first.starts_with("classifier"))
}

#[cfg(test)]
#[path = "transfer_tests.rs"]
mod tests;
