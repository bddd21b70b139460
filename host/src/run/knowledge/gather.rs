//! The run's side of source knowledge: sampling and evaluating `source_samples`, gathering every
//! origin for the chosen sources, recording what each gave (or, on resume, checking the imported
//! ones still give it) and writing `sources.json`.

use super::{counts_of, counts_text, knowledge_err, load_imported, OriginKind, OriginRecord};
use crate::error::{HostError, HostResult};
use crate::report::write_json;
use crate::run::evaluate::observation;
use crate::run::progress::Progress;
use crate::run::runner::Runner;
use crate::run::{sources, SOURCE_SEED_TAG};
use crate::store::{Role, Status, TrialRecord};
use xnas_core::{derive_seed, Observation, SearchSpace};

/// Store meta key of the recorded origins.
const META_KEY: &str = "source_knowledge";

impl Runner {
    /// Gathers every origin's source knowledge for `sources` (the ranked, chosen source tasks),
    /// records it (or, on resume, checks it is what was recorded) and writes `sources.json`.
    pub(in crate::run) fn source_knowledge(
        &mut self,
        sources: &[String],
        records: &[TrialRecord],
        progress: &Progress,
    ) -> HostResult<Vec<Observation>> {
        // Imported origins first: a changed file stops a resume before anything is evaluated.
        let space_name = self.resolved.space.name().to_string();
        let imported = load_imported(
            &self.exp,
            &self.space,
            &space_name,
            sources,
            Some(&self.run_dir),
        )?;
        let stored: Option<Vec<OriginRecord>> = match self.store.meta(META_KEY)? {
            Some(text) => Some(serde_json::from_str(&text).map_err(|e| HostError::Store {
                path: self.store.path().to_path_buf(),
                message: format!("bad `{META_KEY}`: {e}"),
            })?),
            None => None,
        };
        if let Some(stored) = &stored {
            let now: Vec<OriginRecord> = imported.iter().map(|i| i.record.clone()).collect();
            check_unchanged(stored, &now)?;
        }

        let mut history = self.sampled_knowledge(sources, records, progress)?;
        let mut origins = Vec::new();
        if self.exp.file.tasks.source_samples > 0 {
            origins.push(OriginRecord {
                origin: OriginKind::Samples,
                path: None,
                resolved: None,
                counts: counts_of(&history),
                first_trial_id: None,
                fingerprint: None,
            });
        }
        for i in imported {
            if i.observations.is_empty() {
                tracing::warn!(
                    "{} gave no successful observation on the source tasks ({})",
                    i.record.describe(),
                    sources.join(", ")
                );
            }
            origins.push(i.record);
            history.extend(i.observations);
        }
        // Landmark evaluations on the chosen sources are source knowledge too (never wasted).
        let landmark_obs = landmark_source_observations(records, sources);
        if !landmark_obs.is_empty() {
            origins.push(OriginRecord {
                origin: OriginKind::Landmarks,
                path: None,
                resolved: None,
                counts: counts_of(&landmark_obs),
                first_trial_id: None,
                fingerprint: None,
            });
            history.extend(landmark_obs);
        }
        // The last word on leakage, whatever the origins did.
        if let Some(o) = history.iter().find(|o| o.task.as_str() == self.target) {
            return Err(HostError::Run(format!(
                "source knowledge holds an observation on the target task `{}` (trial {}); this is a \
                 bug in xnas: please report it",
                self.target, o.trial_id
            )));
        }
        if stored.is_none() {
            // Recorded once all sampled trials are evaluated, before the optimizer exists.
            self.store.set_meta(
                META_KEY,
                &serde_json::to_string(&origins).unwrap_or_default(),
            )?;
        }
        self.write_sources_json(sources, &origins, &history)?;
        if !history.is_empty() {
            tracing::info!(
                "source knowledge: {} observations ({})",
                history.len(),
                origins
                    .iter()
                    .map(|o| format!("{}: {}", o.describe(), o.counts.values().sum::<u64>()))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
        }
        Ok(history)
    }

    fn write_sources_json(
        &self,
        sources: &[String],
        origins: &[OriginRecord],
        history: &[Observation],
    ) -> HostResult<()> {
        if origins.is_empty() {
            return Ok(());
        }
        let json = serde_json::json!({
            "target": self.target,
            "sources": sources,
            "origins": origins,
            "totals": counts_of(history),
            "observations": history.len(),
        });
        write_json(&self.run_dir.join("sources.json"), &json)
    }

    /// Samples, persists and evaluates `source_samples` architectures per source task (once per
    /// run: on resume only what is still pending is evaluated). Returns the successful observations.
    fn sampled_knowledge(
        &mut self,
        sources: &[String],
        records: &[TrialRecord],
        progress: &Progress,
    ) -> HostResult<Vec<Observation>> {
        let per_task = self.exp.file.tasks.source_samples;
        let stored: Vec<TrialRecord> = records
            .iter()
            .filter(|r| r.spec.role == Role::Source && r.spec.batch == SAMPLED_BATCH)
            .cloned()
            .collect();
        let sampled = self.evaluate_planned(
            stored,
            |r| {
                let mut specs = Vec::new();
                for (ti, task) in sources.iter().enumerate() {
                    for j in 0..per_task {
                        let seed = derive_seed(
                            derive_seed(r.seed, SOURCE_SEED_TAG),
                            ((ti as u64) << 32) | j as u64,
                        );
                        let genome = r
                            .space
                            .sample(seed)
                            .map_err(|e| r.resolved.space.error(e))?;
                        specs.push(r.spec(SAMPLED_BATCH, Role::Source, task, genome, None));
                    }
                }
                if !specs.is_empty() {
                    tracing::info!(
                        "source knowledge: sampling {} architectures on {} source tasks",
                        specs.len(),
                        sources.len()
                    );
                }
                Ok(specs)
            },
            progress,
        )?;
        Ok(sampled
            .iter()
            .filter_map(|r| {
                let o = r.outcome.as_ref()?;
                (o.status == Status::Ok).then(|| observation(&r.spec, o))
            })
            .collect())
    }
}

/// The successful landmark evaluations on `sources` (see `run::sources`).
fn landmark_source_observations(records: &[TrialRecord], sources: &[String]) -> Vec<Observation> {
    records
        .iter()
        .filter(|r| {
            r.spec.role == Role::Source
                && r.spec.batch == sources::LANDMARK_SOURCE_BATCH
                && sources.contains(&r.spec.task)
        })
        .filter_map(|r| {
            let o = r.outcome.as_ref()?;
            (o.status == Status::Ok).then(|| observation(&r.spec, o))
        })
        .collect()
}

/// The batch of the source trials sampled as source knowledge (`source_samples`).
const SAMPLED_BATCH: u64 = 0;

/// Refuses to resume with imported origins that no longer give what the run started with.
fn check_unchanged(stored: &[OriginRecord], now: &[OriginRecord]) -> HostResult<()> {
    let imported =
        |r: &&OriginRecord| !matches!(r.origin, OriginKind::Samples | OriginKind::Landmarks);
    let then: Vec<&OriginRecord> = stored.iter().filter(imported).collect();
    let now: Vec<&OriginRecord> = now.iter().filter(imported).collect();
    for (a, b) in then.iter().zip(&now) {
        if a == b {
            continue;
        }
        let what = if a.counts != b.counts {
            format!(
                "it gave {} observations when the run started and gives {} now",
                counts_text(&a.counts),
                counts_text(&b.counts)
            )
        } else {
            format!(
                "it gives as many observations as when the run started ({}) but different ones",
                counts_text(&a.counts)
            )
        };
        return Err(knowledge_err(
            b.describe(),
            format!(
                "changed since the run started: {what}; a resumed run must be told what the \
                 interrupted one was told: restore it as it was, or start a new run"
            ),
        ));
    }
    if then.len() != now.len() {
        return Err(HostError::Run(format!(
            "cannot resume: the run recorded {} imported source-knowledge origins and its experiment \
             now names {}",
            then.len(),
            now.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{obs, record};
    use super::*;

    #[test]
    fn a_changed_origin_is_refused_on_resume() {
        let a = [obs("citeseer", 0.5), obs("pubmed", 0.6)];
        let stored = vec![record(OriginKind::File, &a)];
        check_unchanged(&stored, &stored.clone()).unwrap();
        // Sampled knowledge comes from the store itself and is not compared.
        let mut with_samples = stored.clone();
        with_samples.insert(0, record(OriginKind::Samples, &a[..1]));
        check_unchanged(&with_samples, &stored).unwrap();

        let more = [obs("citeseer", 0.5), obs("pubmed", 0.6), obs("pubmed", 0.7)];
        let e = check_unchanged(&stored, &[record(OriginKind::File, &more)])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("source file /x/meta.csv: changed since the run started"),
            "{e}"
        );
        assert!(e.contains("citeseer 1, pubmed 1 observations when the run started and gives citeseer 1, pubmed 2 now"), "{e}");

        let other = [obs("citeseer", 0.5), obs("pubmed", 0.61)];
        let e = check_unchanged(&stored, &[record(OriginKind::File, &other)])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("as many observations as when the run started"),
            "{e}"
        );
    }
}
