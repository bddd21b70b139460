//! Harness for the workspace tests: finds the built `xnas` binary and plugin libraries, gives each
//! test a fresh directory, and reads run directories back.
//!
//! The tests need `cargo build --workspace` first (the Makefile does it): the binary and every
//! plugin library must exist. A missing one fails the test with the command to run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `target/debug` (or whichever profile built this test).
pub fn build_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/xnas-<hash>
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_path_buf()
}

/// Path of a built artefact; fails with the command that builds it.
pub fn artefact(file: &str) -> PathBuf {
    let p = build_dir().join(file);
    assert!(
        p.exists(),
        "{} is missing: run `cargo build --workspace` first (make test does)",
        p.display()
    );
    p
}

pub fn xnas_bin() -> PathBuf {
    artefact("xnas")
}

/// Shared-library file name of a crate's cdylib (`random` → `libxnas_random.so`).
pub fn lib_file(lib: &str) -> String {
    if cfg!(target_os = "macos") {
        format!("lib{lib}.dylib")
    } else if cfg!(windows) {
        format!("{lib}.dll")
    } else {
        format!("lib{lib}.so")
    }
}

/// A test's own directory, with a `plugins/` folder to copy libraries into.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
        Sandbox { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn plugins(&self) -> PathBuf {
        self.path().join("plugins")
    }

    /// Copies a built library into `plugins/` under `as_name` (a file name).
    pub fn add_plugin(&self, lib: &str, as_name: &str) -> PathBuf {
        let dest = self.plugins().join(as_name);
        std::fs::copy(artefact(&lib_file(lib)), &dest).expect("copy plugin library");
        dest
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// `xnas` with a clean environment, run in this sandbox.
    pub fn xnas(&self) -> Command {
        let mut c = Command::new(xnas_bin());
        c.current_dir(self.path())
            .env_remove("XNAS_PLUGIN_PATH")
            .env_remove("XNAS_LOG");
        c
    }

    pub fn run(&self, args: &[&str]) -> Out {
        Out(self.xnas().args(args).output().expect("run xnas"))
    }

    /// Runs `xnas run` on the experiment `text` and expects it refused: exit 2, `want` in its
    /// error output (`case` names the case in a failure), and no run directory made.
    pub fn expect_refused(&self, case: &str, text: &str, want: &str) {
        self.write("refused.toml", text);
        let out = self.run(&["--quiet", "run", "refused.toml", "--out", "refused"]);
        out.expect_code(2);
        assert!(out.stderr().contains(want), "{case}: {}", out.stderr());
        assert!(
            !self.path().join("refused").exists(),
            "{case}: a run directory"
        );
    }

    /// Writes `text` as `exp.toml`, runs it quietly into `run/` with `workers` workers, expects
    /// success and returns the run directory.
    pub fn run_experiment(&self, text: &str, workers: usize) -> PathBuf {
        self.write("exp.toml", text);
        let workers = workers.to_string();
        self.run(&[
            "--quiet",
            "run",
            "exp.toml",
            "--out",
            "run",
            "--workers",
            &workers,
        ])
        .expect_code(0);
        self.path().join("run")
    }
}

/// A finished command with readable accessors.
pub struct Out(pub Output);

impl Out {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    /// Asserts the exit code, showing both streams when it differs.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

/// One row of `trials.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub trial_id: u64,
    pub role: String,
    pub task: String,
    pub arch: String,
    pub metric: Option<f64>,
    pub test_metric: Option<f64>,
    pub status: String,
    pub seed: u64,
}

pub fn read_trials(run_dir: &Path) -> Vec<Row> {
    let mut r = csv::Reader::from_path(run_dir.join("trials.csv")).expect("trials.csv");
    let headers = r.headers().unwrap().clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let (id, role, task, arch, metric, test, status, seed) = (
        col("trial_id"),
        col("role"),
        col("task"),
        col("arch"),
        col("metric"),
        col("test_metric"),
        col("status"),
        col("seed"),
    );
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            Row {
                trial_id: rec[id].parse().unwrap(),
                role: rec[role].to_string(),
                task: rec[task].to_string(),
                arch: rec[arch].to_string(),
                metric: rec[metric].parse().ok(),
                test_metric: rec[test].parse().ok(),
                status: rec[status].to_string(),
                seed: rec[seed].parse().unwrap(),
            }
        })
        .collect()
}

/// A JSON file, parsed; a missing or malformed file fails the test, naming it.
pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

pub fn read_summary(run_dir: &Path) -> serde_json::Value {
    read_json(&run_dir.join("summary.json"))
}

/// A key of the store's meta table in `run_dir`, `None` when it is not set.
pub fn store_meta(run_dir: &Path, key: &str) -> Option<String> {
    let conn = rusqlite::Connection::open(run_dir.join("store.sqlite")).unwrap();
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .ok()
}

/// Trials of a running search that have finished (any status but `pending`), 0 while its store
/// does not exist yet. Opened read-only and never created: creating `store.sqlite` under a run
/// that is starting would make the run refuse its own folder as an existing store.
pub fn finished_trials(store: &Path) -> i64 {
    count_finished(store, "")
}

/// As [`finished_trials`], counting only the target's trials (not source knowledge).
pub fn finished_target_trials(store: &Path) -> i64 {
    count_finished(store, " AND role = 'target'")
}

/// Starts `xnas --quiet run exp.toml --out run` in `sb` and kills it with SIGKILL once
/// `count(store)` reaches `at`, to test resuming from a crash; returns the count after the kill.
/// Fails if the run ends before that or gets nowhere within `patience`.
pub fn run_and_kill(
    sb: &Sandbox,
    at: i64,
    count: fn(&Path) -> i64,
    patience: std::time::Duration,
) -> i64 {
    let mut child = sb
        .xnas()
        .args(["--quiet", "run", "exp.toml", "--out", "run"])
        .spawn()
        .unwrap();
    let store = sb.path().join("run/store.sqlite");
    let t = std::time::Instant::now();
    while count(&store) < at {
        assert!(t.elapsed() < patience, "run made no progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "run ended before it could be killed"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    count(&store)
}

fn count_finished(store: &Path, and: &str) -> i64 {
    use rusqlite::{Connection, OpenFlags};
    let Ok(conn) = Connection::open_with_flags(store, OpenFlags::SQLITE_OPEN_READ_ONLY) else {
        return 0;
    };
    let _ = conn.busy_timeout(std::time::Duration::from_secs(10));
    conn.query_row(
        &format!("SELECT COUNT(*) FROM trials WHERE status != 'pending'{and}"),
        [],
        |r| r.get(0),
    )
    .unwrap_or(0)
}

/// The NAS-Bench-Graph data file set-up converts (`make data`); tests fail with that hint if absent.
pub fn nasbench_graph_data() -> PathBuf {
    let dir = std::env::var_os("XNAS_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/xnas/data")
        });
    let p = dir.join("nasbench-graph").join("nasbench-graph.bin");
    assert!(
        p.exists(),
        "{} is missing: run `make data` first (make test does)",
        p.display()
    );
    p
}
