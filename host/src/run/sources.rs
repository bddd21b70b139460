//! Which source tasks a run uses: as listed, or ranked (and cut to `top_k`) by a similarity
//! plugin. Decided once and recorded in the store and in `similarity.json`, so a resumed run
//! uses exactly the same sources.

use super::Runner;
use crate::config::params_text;
use crate::error::{HostError, HostResult};
use xnas_core::{Similarity, SimilarityInit};

pub(super) fn ranked_sources(r: &mut Runner) -> HostResult<Vec<String>> {
    if let Some(stored) = r.store.meta("sources")? {
        return serde_json::from_str(&stored).map_err(|e| HostError::Store {
            path: r.store.path().to_path_buf(),
            message: format!("bad `sources`: {e}"),
        });
    }
    let listed: Vec<String> = r
        .exp
        .file
        .tasks
        .sources
        .iter()
        .map(|s| s.get_ref().clone())
        .collect();
    let chosen = match (&r.resolved.similarity, &r.exp.file.similarity) {
        (Some(entry), Some(section)) => {
            let init = SimilarityInit {
                space: r.space.clone(),
                seed: xnas_core::derive_seed(r.seed, super::SIMILARITY_SEED_TAG),
                base_dir: r.exp.base_dir.display().to_string().into(),
            };
            let err = |e| HostError::Plugin {
                name: entry.name().to_string(),
                kind: "similarity",
                origin: entry.origin.describe(),
                error: e,
            };
            let mut sim = entry
                .create_similarity(&params_text(section.params.as_ref()), &init)
                .map_err(err)?;
            let target = sim.embed(&r.target).map_err(err)?;
            let mut ranked = Vec::with_capacity(listed.len());
            for s in &listed {
                let e = sim.embed(s).map_err(err)?;
                ranked.push((s.clone(), sim.distance(&target, &e).map_err(err)?));
            }
            ranked.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
            let keep = section
                .top_k
                .as_ref()
                .map_or(ranked.len(), |k| *k.get_ref())
                .min(ranked.len());
            let json = serde_json::json!({
                "similarity": entry.name(),
                "target": r.target,
                "distances": ranked.iter().map(|(t, d)| serde_json::json!({"task": t, "distance": d})).collect::<Vec<_>>(),
                "chosen": ranked.iter().take(keep).map(|(t, _)| t).collect::<Vec<_>>(),
            });
            let path = r.run_dir.join("similarity.json");
            std::fs::write(
                &path,
                serde_json::to_string_pretty(&json).unwrap_or_default(),
            )
            .map_err(|e| HostError::io(&path, e))?;
            ranked.into_iter().take(keep).map(|(t, _)| t).collect()
        }
        _ => listed,
    };
    r.store.set_meta(
        "sources",
        &serde_json::to_string(&chosen).unwrap_or_default(),
    )?;
    Ok(chosen)
}
