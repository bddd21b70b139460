use super::*;
use crate::error::{HostError, HostResult};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};

const SCHEMA_VERSION: &str = "1";

/// The SQLite store of one run directory.
pub struct Store {
    pub(super) conn: Connection,
    pub(super) path: PathBuf,
}

pub(super) fn err(path: &Path, e: rusqlite::Error) -> HostError {
    HostError::Store {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

impl Store {
    fn connect(path: &Path) -> HostResult<Connection> {
        let conn = Connection::open(path).map_err(|e| err(path, e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| err(path, e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| err(path, e))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| err(path, e))?;
        Ok(conn)
    }

    /// True when `path` is an SQLite file with no tables: a store whose creation was killed
    /// before its first commit, safe to replace.
    pub fn is_empty_shell(path: &Path) -> bool {
        Connection::open(path)
            .and_then(|c| {
                c.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| {
                    r.get::<_, i64>(0)
                })
            })
            .is_ok_and(|n| n == 0)
    }

    /// Creates a new store with its schema and `meta` entries in one transaction (a kill at any
    /// moment leaves either no store or a complete one); fails if one exists.
    pub fn create(path: &Path, meta: &[(&str, &str)]) -> HostResult<Store> {
        if path.exists() {
            return Err(HostError::Store {
                path: path.to_path_buf(),
                message: "already exists: continue it with `xnas resume` or choose another --out"
                    .into(),
            });
        }
        let mut conn = Self::connect(path)?;
        let tx = conn.transaction().map_err(|e| err(path, e))?;
        tx.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE trials (
                id INTEGER PRIMARY KEY,
                batch INTEGER NOT NULL,
                role TEXT NOT NULL,
                task TEXT NOT NULL,
                genome TEXT NOT NULL,
                canonical TEXT NOT NULL,
                arch TEXT NOT NULL,
                seed INTEGER NOT NULL,
                budget REAL,
                invalid TEXT,
                status TEXT NOT NULL,
                metric REAL,
                test_metric REAL,
                cost_s REAL,
                wall_s REAL,
                curve TEXT,
                extras TEXT,
                error TEXT
             );
             CREATE TABLE optimizer_state (batch INTEGER PRIMARY KEY, state BLOB NOT NULL);",
        )
        .map_err(|e| err(path, e))?;
        {
            let mut stmt = tx
                .prepare("INSERT INTO meta(key, value) VALUES (?1, ?2)")
                .map_err(|e| err(path, e))?;
            stmt.execute(params!["schema_version", SCHEMA_VERSION])
                .map_err(|e| err(path, e))?;
            for (k, v) in meta {
                stmt.execute(params![k, v]).map_err(|e| err(path, e))?;
            }
        }
        tx.commit().map_err(|e| err(path, e))?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Opens an existing store.
    pub fn open(path: &Path) -> HostResult<Store> {
        if !path.exists() {
            return Err(HostError::Store {
                path: path.to_path_buf(),
                message: "not found: is this a run directory made by `xnas run`?".into(),
            });
        }
        let store = Store {
            conn: Self::connect(path)?,
            path: path.to_path_buf(),
        };
        store.check_schema()?;
        Ok(store)
    }

    fn check_schema(&self) -> HostResult<()> {
        let has_meta = self
            .conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(|e| err(&self.path, e))?;
        let version = if has_meta == 1 {
            self.meta("schema_version")?
        } else {
            None
        };
        match version {
            Some(v) if v == SCHEMA_VERSION => Ok(()),
            Some(v) => Err(HostError::Store {
                path: self.path.clone(),
                message: format!(
                    "store schema {v} is not supported by this xnas (schema {SCHEMA_VERSION})"
                ),
            }),
            None => Err(HostError::Store {
                path: self.path.clone(),
                message: "not an xnas store".into(),
            }),
        }
    }

    /// Opens an existing store without writing to it (another run's store read as source
    /// knowledge): no pragma that changes the file is set.
    pub fn open_read_only(path: &Path) -> HostResult<Store> {
        if !path.exists() {
            return Err(HostError::Store {
                path: path.to_path_buf(),
                message: "not found: is this a run directory made by `xnas run`?".into(),
            });
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| err(path, e))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| err(path, e))?;
        let store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.check_schema()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn set_meta(&self, key: &str, value: &str) -> HostResult<()> {
        self.conn
            .prepare_cached("INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2")
            .and_then(|mut s| s.execute(params![key, value]))
            .map(|_| ())
            .map_err(|e| err(&self.path, e))
    }

    pub fn meta(&self, key: &str) -> HostResult<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| err(&self.path, e))
    }

    /// Persists a batch of trials as pending, in one transaction, before any is evaluated.
    pub fn insert_pending(&mut self, specs: &[TrialSpec]) -> HostResult<()> {
        let tx = self.conn.transaction().map_err(|e| err(&self.path, e))?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO trials (id, batch, role, task, genome, canonical, arch, seed, budget, invalid, status)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'pending')",
                )
                .map_err(|e| err(&self.path, e))?;
            for s in specs {
                stmt.execute(params![
                    s.id as i64,
                    s.batch as i64,
                    s.role.as_str(),
                    s.task,
                    genome_text(&s.genome),
                    genome_text(&s.canonical),
                    s.arch,
                    s.seed as i64,
                    s.budget,
                    s.invalid,
                ])
                .map_err(|e| err(&self.path, e))?;
            }
        }
        tx.commit().map_err(|e| err(&self.path, e))
    }

    /// Records one trial's outcome (its own commit, right after the evaluation).
    pub fn record_outcome(&self, id: u64, o: &Outcome) -> HostResult<()> {
        let curve = if o.curve.is_empty() {
            None
        } else {
            serde_json::to_string(&o.curve).ok()
        };
        let n = self
            .conn
            .prepare_cached(
                "UPDATE trials SET status = ?2, metric = ?3, test_metric = ?4, cost_s = ?5, wall_s = ?6,
                 curve = ?7, extras = ?8, error = ?9 WHERE id = ?1 AND status = 'pending'",
            )
            .and_then(|mut s| {
                s.execute(params![
                    id as i64,
                    o.status.as_str(),
                    o.metric.filter(|m| m.is_finite()),
                    o.test_metric.filter(|m| m.is_finite()),
                    o.cost_s,
                    o.wall_s,
                    curve,
                    if o.extras.is_empty() { None } else { Some(&o.extras) },
                    o.error,
                ])
            })
            .map_err(|e| err(&self.path, e))?;
        if n != 1 {
            return Err(HostError::Store {
                path: self.path.clone(),
                message: format!("trial {id} is not pending; refusing to record a second result"),
            });
        }
        Ok(())
    }

    /// Every trial, by id.
    pub fn trials(&self) -> HostResult<Vec<TrialRecord>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, batch, role, task, genome, canonical, arch, seed, budget, invalid, status,
                        metric, test_metric, cost_s, wall_s, curve, extras, error
                 FROM trials ORDER BY id",
            )
            .map_err(|e| err(&self.path, e))?;
        let rows = stmt
            .query_map([], |r| {
                let status: String = r.get(10)?;
                let curve: Option<String> = r.get(15)?;
                Ok((
                    TrialSpec {
                        id: r.get::<_, i64>(0)? as u64,
                        batch: r.get::<_, i64>(1)? as u64,
                        role: Role::parse(&r.get::<_, String>(2)?).unwrap_or(Role::Target),
                        task: r.get(3)?,
                        genome: parse_genome(&r.get::<_, String>(4)?).unwrap_or_default(),
                        canonical: parse_genome(&r.get::<_, String>(5)?).unwrap_or_default(),
                        arch: r.get(6)?,
                        seed: r.get::<_, i64>(7)? as u64,
                        budget: r.get(8)?,
                        invalid: r.get(9)?,
                    },
                    status,
                    Outcome {
                        status: Status::Pending,
                        metric: r.get(11)?,
                        test_metric: r.get(12)?,
                        cost_s: r.get::<_, Option<f64>>(13)?.unwrap_or(0.0),
                        wall_s: r.get::<_, Option<f64>>(14)?.unwrap_or(0.0),
                        curve: curve
                            .and_then(|c| serde_json::from_str(&c).ok())
                            .unwrap_or_default(),
                        extras: r.get::<_, Option<String>>(16)?.unwrap_or_default(),
                        error: r.get(17)?,
                    },
                ))
            })
            .map_err(|e| err(&self.path, e))?;
        let mut out = Vec::new();
        for row in rows {
            let (spec, status, mut outcome) = row.map_err(|e| err(&self.path, e))?;
            let status = Status::parse(&status).unwrap_or(Status::Pending);
            let outcome = if status == Status::Pending {
                None
            } else {
                outcome.status = status;
                Some(outcome)
            };
            out.push(TrialRecord { spec, outcome });
        }
        Ok(out)
    }

    /// Keeps the optimizer's state after a batch (only the latest is kept).
    pub fn save_optimizer_state(&mut self, batch: u64, state: &[u8]) -> HostResult<()> {
        let tx = self.conn.transaction().map_err(|e| err(&self.path, e))?;
        tx.execute("DELETE FROM optimizer_state", [])
            .map_err(|e| err(&self.path, e))?;
        tx.execute(
            "INSERT INTO optimizer_state(batch, state) VALUES (?1, ?2)",
            params![batch as i64, state],
        )
        .map_err(|e| err(&self.path, e))?;
        tx.commit().map_err(|e| err(&self.path, e))
    }

    pub fn optimizer_state(&self) -> HostResult<Option<(u64, Vec<u8>)>> {
        self.conn
            .query_row(
                "SELECT batch, state FROM optimizer_state ORDER BY batch DESC LIMIT 1",
                [],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
            )
            .optional()
            .map_err(|e| err(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(id: u64) -> TrialSpec {
        TrialSpec {
            id,
            batch: 1,
            role: Role::Target,
            task: "cora".into(),
            genome: vec![1, 2, 3],
            canonical: vec![1, 2, 3],
            arch: "1-2-3".into(),
            seed: u64::MAX - id,
            budget: None,
            invalid: None,
        }
    }

    fn ok(metric: f64) -> Outcome {
        Outcome {
            status: Status::Ok,
            metric: Some(metric),
            test_metric: Some(metric - 0.1),
            cost_s: 1.5,
            wall_s: 0.01,
            curve: vec![0.1, 0.2],
            extras: "{\"a\":1}".into(),
            error: None,
        }
    }

    #[test]
    fn round_trip_and_no_double_result() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.sqlite");
        let mut store = Store::create(&path, &[("k", "v")]).unwrap();
        assert_eq!(store.meta("k").unwrap().as_deref(), Some("v"));
        store.insert_pending(&[spec(0), spec(1)]).unwrap();
        store.record_outcome(0, &ok(0.5)).unwrap();
        let again = store.record_outcome(0, &ok(0.7)).unwrap_err().to_string();
        assert!(again.contains("not pending"), "{again}");
        drop(store);

        let store = Store::open(&path).unwrap();
        let trials = store.trials().unwrap();
        assert_eq!(trials.len(), 2);
        assert_eq!(trials[0].spec, spec(0));
        assert_eq!(trials[0].outcome, Some(ok(0.5)));
        assert_eq!(trials[1].outcome, None);
        assert_eq!(trials[1].spec.seed, u64::MAX - 1);
    }

    #[test]
    fn create_refuses_an_existing_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.sqlite");
        Store::create(&path, &[]).unwrap();
        assert!(Store::create(&path, &[])
            .err()
            .expect("must refuse")
            .to_string()
            .contains("xnas resume"));
    }
}
