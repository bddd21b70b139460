//! The checkpoint of a one-shot search: the optimizer's state (its supernet's weights, moments,
//! iterator positions and RNG included, through the protocol's `save_state`) written to
//! `checkpoints/search-<n>.state` in the run directory atomically (temporary file, flush,
//! rename), then named in the store in the same transaction as the epoch it ends. The previous
//! file is removed only after that commit, so a kill at any instant leaves the store naming a
//! complete file that matches its epochs; resuming loads it and goes on exactly.

use super::epochs::EpochRecord;
use crate::error::{HostError, HostResult};
use crate::plugins::PluginEntry;
use crate::report::write_atomic;
use crate::store::{SearchCheckpoint, Store};
use std::path::{Path, PathBuf};
use std::time::Instant;
use xnas_core::{OneShot, OneShotBox};

const DIR: &str = "checkpoints";

/// A one-shot search in progress: the optimizer, where its latest checkpoint is, and the clock.
pub struct OneShotSearch {
    pub optimizer: OneShotBox,
    /// The optimizer plugin, for its errors.
    pub entry: PluginEntry,
    pub checkpoint: SearchCheckpoint,
    seconds_before: f64,
    session: Instant,
}

impl OneShotSearch {
    /// Continues from the checkpoint the store names, if any (and removes checkpoint files the
    /// store does not name: left by a kill between writing one and recording it).
    pub fn open(
        mut optimizer: OneShotBox,
        entry: PluginEntry,
        store: &Store,
        run_dir: &Path,
    ) -> HostResult<OneShotSearch> {
        let checkpoint = match store.search_checkpoint()? {
            Some(cp) => {
                let path = run_dir.join(&cp.file);
                let blob = std::fs::read(&path).map_err(|e| HostError::io(&path, e))?;
                if blob.len() as u64 != cp.bytes {
                    return Err(HostError::Store {
                        path: path.clone(),
                        message: format!(
                            "the checkpoint has {} bytes, the store recorded {}: the run \
                             directory was changed since; start the run afresh",
                            blob.len(),
                            cp.bytes
                        ),
                    });
                }
                optimizer.load_state(&blob).map_err(|e| entry.error(e))?;
                cp
            }
            None => SearchCheckpoint {
                file: String::new(),
                seq: 0,
                bytes: 0,
                search_seconds: 0.0,
                epochs: 0,
                done: None,
            },
        };
        remove_others(run_dir, &checkpoint.file);
        Ok(OneShotSearch {
            optimizer,
            entry,
            seconds_before: checkpoint.search_seconds,
            checkpoint,
            session: Instant::now(),
        })
    }

    /// Seconds of search over every session (up to the last checkpoint of earlier ones).
    pub fn seconds(&self) -> f64 {
        self.seconds_before + self.session.elapsed().as_secs_f64()
    }

    /// Saves the optimizer's state now: at an epoch's end with that epoch's record, with `done`
    /// once the search is over, or at any other step (the state holds the position in the
    /// epoch). This is the one checkpoint step of a one-shot run.
    pub fn save(
        &mut self,
        store: &mut Store,
        run_dir: &Path,
        epoch: Option<&EpochRecord>,
        done: Option<&str>,
    ) -> HostResult<()> {
        let blob = self
            .optimizer
            .save_state()
            .map_err(|e| self.entry.error(e))?;
        let seq = self.checkpoint.seq + 1;
        let file = format!("{DIR}/search-{seq:06}.state");
        let dir = run_dir.join(DIR);
        std::fs::create_dir_all(&dir).map_err(|e| HostError::io(&dir, e))?;
        write_atomic(&run_dir.join(&file), &blob)?;
        let next = SearchCheckpoint {
            file,
            seq,
            bytes: blob.len() as u64,
            search_seconds: self.seconds(),
            epochs: self.checkpoint.epochs + u64::from(epoch.is_some()),
            done: done.map(str::to_string),
        };
        let report = epoch
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| HostError::Run(format!("an epoch report: {e}")))?;
        store.record_checkpoint(
            &next,
            report.as_deref().map(|r| (self.checkpoint.epochs, r)),
        )?;
        let old = std::mem::replace(&mut self.checkpoint, next);
        if !old.file.is_empty() {
            let _ = std::fs::remove_file(run_dir.join(&old.file));
        }
        Ok(())
    }
}

/// Removes the checkpoint files other than `keep` (relative to the run directory).
fn remove_others(run_dir: &Path, keep: &str) {
    let keep: PathBuf = run_dir.join(keep);
    let Ok(entries) = std::fs::read_dir(run_dir.join(DIR)) else {
        return;
    };
    for e in entries.flatten() {
        if e.path() != keep {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
