//! A one-shot search in the store: each epoch's report (JSON, one row per epoch) and the latest
//! checkpoint of the optimizer (its file in the run directory, how far the search got), both
//! written in one transaction, so the store never names a checkpoint its epochs do not match.
//! The table is made on first use: stores of black-box runs stay as they were.

use super::sqlite::err;
use super::Store;
use crate::error::{HostError, HostResult};
use rusqlite::params;
use serde::{Deserialize, Serialize};

const CHECKPOINT_KEY: &str = "one_shot_checkpoint";

/// The latest checkpoint of a one-shot search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchCheckpoint {
    /// The state file, relative to the run directory.
    pub file: String,
    /// Checkpoints written so far (names the next file).
    pub seq: u64,
    /// Length of the state file, checked when it is read back.
    pub bytes: u64,
    /// Seconds the search has run, over every session.
    pub search_seconds: f64,
    /// Epochs ended.
    pub epochs: u64,
    /// Why the search ended (`finished`, `epochs`, `seconds`), once it has.
    pub done: Option<String>,
}

impl Store {
    /// Records a checkpoint and, when it ends an epoch, that epoch's report, in one transaction.
    pub fn record_checkpoint(
        &mut self,
        cp: &SearchCheckpoint,
        epoch: Option<(u64, &str)>,
    ) -> HostResult<()> {
        let path = self.path.clone();
        let value = serde_json::to_string(cp).map_err(|e| HostError::Store {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let tx = self.conn.transaction().map_err(|e| err(&path, e))?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS one_shot_epochs (epoch INTEGER PRIMARY KEY, report TEXT NOT NULL);",
        )
        .map_err(|e| err(&path, e))?;
        if let Some((epoch, report)) = epoch {
            tx.execute(
                "INSERT OR REPLACE INTO one_shot_epochs(epoch, report) VALUES (?1, ?2)",
                params![epoch as i64, report],
            )
            .map_err(|e| err(&path, e))?;
        }
        tx.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
            params![CHECKPOINT_KEY, value],
        )
        .map_err(|e| err(&path, e))?;
        tx.commit().map_err(|e| err(&path, e))
    }

    /// The latest checkpoint of a one-shot search, if the run is one and has one.
    pub fn search_checkpoint(&self) -> HostResult<Option<SearchCheckpoint>> {
        let Some(text) = self.meta(CHECKPOINT_KEY)? else {
            return Ok(None);
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| HostError::Store {
                path: self.path.clone(),
                message: format!("the one-shot checkpoint record is damaged ({e})"),
            })
    }

    /// Every recorded epoch report (JSON), by epoch; none for a black-box run.
    pub fn epoch_reports(&self) -> HostResult<Vec<String>> {
        let has_table: i64 = self
            .conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'one_shot_epochs'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| err(&self.path, e))?;
        if has_table == 0 {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare("SELECT report FROM one_shot_epochs ORDER BY epoch")
            .map_err(|e| err(&self.path, e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| err(&self.path, e))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| err(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_and_epochs_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::create(&dir.path().join("store.sqlite"), &[]).unwrap();
        assert_eq!(store.search_checkpoint().unwrap(), None);
        assert!(store.epoch_reports().unwrap().is_empty());
        let mut cp = SearchCheckpoint {
            file: "checkpoints/1.state".into(),
            seq: 1,
            bytes: 10,
            search_seconds: 1.5,
            epochs: 1,
            done: None,
        };
        store
            .record_checkpoint(&cp, Some((0, "{\"a\":0}")))
            .unwrap();
        cp.seq = 2;
        cp.done = Some("seconds".into());
        store.record_checkpoint(&cp, None).unwrap();
        assert_eq!(store.search_checkpoint().unwrap(), Some(cp));
        assert_eq!(store.epoch_reports().unwrap(), vec!["{\"a\":0}"]);
    }
}
