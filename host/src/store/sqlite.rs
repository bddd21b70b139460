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

    /// True when `path` holds nothing a user could lose: an empty shell, or a store with no
    /// trial at all (a start that failed before its first trial). A file that cannot be read is
    /// not replaceable: it may be a damaged store worth saving.
    pub fn is_replaceable(path: &Path) -> bool {
        Self::is_empty_shell(path)
            || Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
                .and_then(|c| {
                    c.query_row("SELECT COUNT(*) FROM trials", [], |r| r.get::<_, i64>(0))
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

    /// Every trial, by id. A value that cannot be read back as what the store writes is an
    /// error naming its trial and column (never a default: a damaged row must not pass as data).
    pub fn trials(&self) -> HostResult<Vec<TrialRecord>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, batch, role, task, genome, canonical, arch, seed, budget, invalid, status,
                        metric, test_metric, cost_s, wall_s, curve, extras, error
                 FROM trials ORDER BY id",
            )
            .map_err(|e| err(&self.path, e))?;
        let mut rows = stmt.query([]).map_err(|e| err(&self.path, e))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(|e| err(&self.path, e))? {
            let id = r.get::<_, i64>(0).map_err(|e| self.damaged_cell(None, e))?;
            let row = Cells {
                store: self,
                row: r,
                id,
            };
            let spec = TrialSpec {
                id: id as u64,
                batch: row.get::<i64>(1)? as u64,
                role: row.parse(2, "`source` or `target`", Role::parse)?,
                task: row.get(3)?,
                genome: row.parse(4, "a genome (numbers joined by `-`)", parse_genome)?,
                canonical: row.parse(5, "a genome (numbers joined by `-`)", parse_genome)?,
                arch: row.get(6)?,
                seed: row.get::<i64>(7)? as u64,
                budget: row.get(8)?,
                invalid: row.get(9)?,
            };
            let status = row.parse(10, "`pending`, `ok` or `failed`", Status::parse)?;
            let curve = match row.get::<Option<String>>(15)? {
                None => Vec::new(),
                // Non-finite points were written as JSON `null`.
                Some(c) => serde_json::from_str::<Vec<Option<f64>>>(&c)
                    .map(|v| v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
                    .map_err(|e| {
                        row.damaged(
                            15,
                            format!("`{}` is not a JSON list of numbers ({e})", clip(&c)),
                        )
                    })?,
            };
            let outcome = (status != Status::Pending).then_some(());
            let outcome = match outcome {
                None => None,
                Some(()) => Some(Outcome {
                    status,
                    metric: row.get(11)?,
                    test_metric: row.get(12)?,
                    cost_s: row.get::<Option<f64>>(13)?.unwrap_or(0.0),
                    wall_s: row.get::<Option<f64>>(14)?.unwrap_or(0.0),
                    curve,
                    extras: row.get::<Option<String>>(16)?.unwrap_or_default(),
                    error: row.get(17)?,
                }),
            };
            out.push(TrialRecord { spec, outcome });
        }
        Ok(out)
    }

    /// A meta value parsed as `T`; one that does not parse is damage, named with its key.
    pub fn meta_parsed<T: std::str::FromStr>(&self, key: &str, what: &str) -> HostResult<Option<T>>
    where
        T::Err: std::fmt::Display,
    {
        match self.meta(key)? {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|e| HostError::Damaged {
                path: self.path.clone(),
                message: format!("meta `{key}` = `{}` is not {what} ({e})", clip(&v)),
            }),
        }
    }

    /// Writes every committed transaction from the WAL (`store.sqlite-wal`) into `store.sqlite`
    /// and empties the WAL, so the file alone holds the run. Called whenever a run stops.
    pub fn checkpoint(&self) -> HostResult<()> {
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .map_err(|e| err(&self.path, e))?;
        if busy != 0 {
            tracing::warn!(
                "{}: another process reads the store, so its WAL was not fully checkpointed",
                self.path.display()
            );
        }
        Ok(())
    }

    /// Writes the whole store, WAL included, into one self-contained SQLite file `to` (`VACUUM
    /// INTO`: a consistent snapshot even while a run writes). `to` must not exist.
    pub fn export(&self, to: &Path) -> HostResult<()> {
        let target = to
            .to_str()
            .ok_or_else(|| HostError::Usage(format!("{}: not a UTF-8 path", to.display())))?;
        self.conn
            .execute("VACUUM INTO ?1", params![target])
            .map_err(|e| HostError::Store {
                path: self.path.clone(),
                message: format!("exporting to {}: {e}", to.display()),
            })?;
        Ok(())
    }

    /// A trial's cell that cannot be read as the store writes it.
    fn damaged_cell(&self, id: Option<i64>, e: rusqlite::Error) -> HostError {
        let message = match (id, &e) {
            (Some(id), rusqlite::Error::InvalidColumnType(_, name, ty)) => {
                format!("trial {id}, column `{name}`: holds a value of type {ty}")
            }
            (Some(id), _) => format!("trial {id}: {e}"),
            (None, _) => format!("a trial's id: {e}"),
        };
        HostError::Damaged {
            path: self.path.clone(),
            message,
        }
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

/// One row of `trials` being read, with what names it in errors.
struct Cells<'a> {
    store: &'a Store,
    row: &'a rusqlite::Row<'a>,
    id: i64,
}

const COLUMNS: [&str; 18] = [
    "id",
    "batch",
    "role",
    "task",
    "genome",
    "canonical",
    "arch",
    "seed",
    "budget",
    "invalid",
    "status",
    "metric",
    "test_metric",
    "cost_s",
    "wall_s",
    "curve",
    "extras",
    "error",
];

impl Cells<'_> {
    fn get<T: rusqlite::types::FromSql>(&self, i: usize) -> HostResult<T> {
        self.row
            .get(i)
            .map_err(|e| self.store.damaged_cell(Some(self.id), e))
    }

    /// A text cell read by `parse`; `what` says what it should be.
    fn parse<T>(&self, i: usize, what: &str, parse: impl Fn(&str) -> Option<T>) -> HostResult<T> {
        let text: String = self.get(i)?;
        parse(&text).ok_or_else(|| self.damaged(i, format!("`{}` is not {what}", clip(&text))))
    }

    fn damaged(&self, i: usize, message: String) -> HostError {
        HostError::Damaged {
            path: self.store.path.clone(),
            message: format!("trial {}, column `{}`: {message}", self.id, COLUMNS[i]),
        }
    }
}

/// A stored value as quoted in a message: at most 60 characters.
fn clip(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
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
