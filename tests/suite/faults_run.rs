//! Run safety through the real binary: one process per run directory (a second gets exit 2 and
//! the holder's PID), clean stops on SIGTERM, SIGINT and SIGHUP at random points (resume then
//! gives the uninterrupted run's trials, and its seconds add up over the sessions), and a store
//! left WAL-only by `kill -9`, copied whole by `xnas export`.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use xnas_tests::*;

/// A slow toy search (panicky fixture, 3 positions × 4 choices, evolution, 2 workers).
pub fn slow_experiment(evaluations: u64, delay_ms: u64) -> String {
    format!(
        r#"[experiment]
name = "s"
seed = 21
budget = {{ evaluations = {evaluations} }}
batch_size = 4
[plugins]
files = ["plugins/libslow.so"]
[search_space]
plugin = "panicky-space"
[search_space.params]
delay_ms = {delay_ms}
[optimizer]
plugin = "evolution"
[optimizer.params]
population = 10
sample_size = 3
[tasks]
target = "t"
[executor]
workers = 2
"#
    )
}

pub fn slow_sandbox(evaluations: u64, delay_ms: u64) -> Sandbox {
    let sb = Sandbox::new();
    sb.add_plugin("fixture_panicky", "libslow.so");
    sb.write("exp.toml", &slow_experiment(evaluations, delay_ms));
    sb
}

/// `trials.csv` of the uninterrupted run (the delay changes no result).
fn reference(evaluations: u64) -> String {
    let sb = slow_sandbox(evaluations, 0);
    sb.run(&["--quiet", "run", "exp.toml", "--out", "run"])
        .expect_code(0);
    trials_csv(&sb.path().join("run"))
}

fn trials_csv(run: &Path) -> String {
    std::fs::read_to_string(run.join("trials.csv")).expect("trials.csv")
}

fn spawn(sb: &Sandbox, args: &[&str]) -> Child {
    sb.xnas()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start xnas")
}

/// Waits until `store` holds `at` finished trials; fails if `child` ends first.
fn wait_for(child: &mut Child, store: &Path, at: i64) {
    let t = Instant::now();
    while finished_trials(store) < at {
        assert!(t.elapsed() < Duration::from_secs(60), "no progress");
        assert!(child.try_wait().unwrap().is_none(), "ended too early");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn send(child: &Child, signal: &str) {
    let ok = std::process::Command::new("kill")
        .args(["-s", signal, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -s {signal}");
}

fn finish(child: Child) -> Out {
    Out(child.wait_with_output().expect("wait for xnas"))
}

/// Ids of the store's finished trials (read-only; the store is left as it is).
fn finished_ids(store: &Path) -> Vec<u64> {
    let conn =
        rusqlite::Connection::open_with_flags(store, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut stmt = conn
        .prepare("SELECT id FROM trials WHERE status != 'pending' ORDER BY id")
        .unwrap();
    let ids = stmt.query_map([], |r| r.get::<_, i64>(0)).unwrap();
    ids.map(|i| i.unwrap() as u64).collect()
}

/// A small generator of "random points", seeded from the clock (printed on failure).
struct Points(u64);

impl Points {
    fn new() -> Points {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        Points(t.as_nanos() as u64 | 1)
    }
    fn below(&mut self, n: u64) -> u64 {
        // xorshift64
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn a_second_process_on_a_run_directory_is_refused_naming_the_first() {
    let evaluations = 40;
    let expected = reference(evaluations);
    let sb = slow_sandbox(evaluations, 250);
    let store = sb.path().join("run/store.sqlite");
    let mut first = spawn(&sb, &["--quiet", "run", "exp.toml", "--out", "run"]);
    wait_for(&mut first, &store, 2);
    let holder = format!("run is in use by another xnas (PID {} on host ", first.id());
    for args in [
        &["--quiet", "resume", "run"][..],
        &["--quiet", "run", "exp.toml", "--out", "run"],
        &["report", "run"],
    ] {
        let out = sb.run(args);
        out.expect_code(2);
        assert!(out.stderr().contains(&holder), "{args:?}: {}", out.stderr());
    }
    // Killed: its lock file stays, but a dead process holds no lock.
    first.kill().unwrap();
    first.wait().unwrap();
    let at_kill = finished_ids(&store);
    assert!(sb.path().join("run/xnas.lock").exists());

    // The two-resume race: the first to lock the directory runs, the second is refused.
    let mut a = spawn(&sb, &["--quiet", "resume", "run"]);
    let lock = sb.path().join("run/xnas.lock");
    let t = Instant::now();
    while !std::fs::read_to_string(&lock)
        .unwrap_or_default()
        .starts_with(&format!("pid {}\n", a.id()))
    {
        assert!(t.elapsed() < Duration::from_secs(30), "resume never locked");
        assert!(a.try_wait().unwrap().is_none(), "resume ended too early");
        std::thread::sleep(Duration::from_millis(5));
    }
    let b = sb.run(&["--quiet", "resume", "run"]);
    b.expect_code(2);
    let err = b.stderr();
    assert!(
        err.contains(&format!(
            "run is in use by another xnas (PID {} on host ",
            a.id()
        )),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one sentence: {err}");
    finish(a).expect_code(0);
    // Nothing finished was lost or run twice, and the run is the uninterrupted one.
    let ids = finished_ids(&store);
    assert!(at_kill.iter().all(|i| ids.contains(i)));
    assert_eq!(ids, (0..evaluations).collect::<Vec<_>>());
    assert_eq!(trials_csv(&sb.path().join("run")), expected);
}

#[test]
fn each_stop_signal_at_a_random_point_then_resume_equals_an_uninterrupted_run() {
    let evaluations = 40;
    let expected = reference(evaluations);
    let mut points = Points::new();
    let seed = points.0;
    for (signal, code) in [("TERM", 143), ("INT", 130), ("HUP", 129)] {
        let sb = slow_sandbox(evaluations, 30);
        let run = sb.path().join("run");
        let store = run.join("store.sqlite");
        let at = 1 + points.below(evaluations - 8) as i64;
        let ctx = format!("SIG{signal} after {at} trials (points seed {seed})");
        let mut child = spawn(&sb, &["--quiet", "run", "exp.toml", "--out", "run"]);
        wait_for(&mut child, &store, at);
        send(&child, signal);
        let out = finish(child);
        out.expect_code(code);
        let err = out.stderr();
        assert!(
            err.contains(&format!(
                "xnas: SIG{signal} received: stopping after the work now running"
            )),
            "{ctx}: {err}"
        );
        assert!(
            err.contains(&format!("stopped by SIG{signal}: ")),
            "{ctx}: {err}"
        );
        assert!(
            err.contains("saved in run (trials.csv); continue with `xnas resume run`"),
            "{ctx}: {err}"
        );
        // Reports of what was done; no summary.json, which marks a finished run.
        let ids = finished_ids(&store);
        assert!(ids.len() as i64 >= at, "{ctx}");
        assert!(ids.len() < evaluations as usize, "{ctx}: stopped too late");
        let rows: Vec<u64> = read_trials(&run).iter().map(|r| r.trial_id).collect();
        assert_eq!(rows, ids, "{ctx}: trials.csv has every finished trial");
        assert!(!run.join("summary.json").exists(), "{ctx}");
        // The WAL was checkpointed: store.sqlite alone holds every finished trial.
        let wal = run.join("store.sqlite-wal");
        assert!(
            !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
            "{ctx}"
        );
        let alone = sb.path().join("alone");
        std::fs::create_dir(&alone).unwrap();
        std::fs::copy(&store, alone.join("store.sqlite")).unwrap();
        assert_eq!(finished_ids(&alone.join("store.sqlite")), ids, "{ctx}");

        sb.run(&["--quiet", "resume", "run"]).expect_code(0);
        assert_eq!(trials_csv(&run), expected, "{ctx}");
        assert!(run.join("summary.json").exists(), "{ctx}");
    }
}

#[test]
fn a_second_signal_stops_at_once_and_the_run_still_resumes() {
    let evaluations = 24;
    let expected = reference(evaluations);
    // Evaluations of 3 s: the first signal waits for the two running; the second does not.
    let sb = slow_sandbox(evaluations, 3000);
    let store = sb.path().join("run/store.sqlite");
    let mut child = spawn(&sb, &["--quiet", "run", "exp.toml", "--out", "run"]);
    wait_for(&mut child, &store, 2);
    let t = Instant::now();
    send(&child, "TERM");
    std::thread::sleep(Duration::from_millis(200));
    send(&child, "TERM");
    let out = finish(child);
    out.expect_code(143);
    assert!(
        t.elapsed() < Duration::from_millis(2500),
        "did not wait for the running evaluations ({:?})",
        t.elapsed()
    );
    let err = out.stderr();
    assert!(
        err.contains("xnas: SIGTERM received again: stopping at once; unfinished evaluations stay pending and `xnas resume` runs them"),
        "{err}"
    );
    let kept = finished_ids(&store);
    assert!(kept.len() >= 2, "{kept:?}");
    // The resumed run (fast now: same results) loses nothing and equals the uninterrupted one.
    sb.write("exp.toml", &slow_experiment(evaluations, 0));
    let out = sb.run(&["--quiet", "resume", "run"]);
    out.expect_code(0);
    assert!(kept.iter().all(|i| finished_ids(&store).contains(i)));
    assert_eq!(trials_csv(&sb.path().join("run")), expected);
}

/// `elapsed_s` in the run's store (its seconds so far, kept across sessions).
fn stored_elapsed(run: &Path) -> f64 {
    store_meta(run, "elapsed_s").unwrap().parse().unwrap()
}

#[test]
fn a_resumed_run_counts_the_seconds_of_every_session() {
    // `wall_seconds` (summary.json, compare's seconds per run) and time budgets must cover the
    // sessions before a stop, not only the one that finished the run.
    let sb = slow_sandbox(24, 30);
    let run = sb.path().join("run");
    let store = run.join("store.sqlite");
    let mut child = spawn(&sb, &["--quiet", "run", "exp.toml", "--out", "run"]);
    wait_for(&mut child, &store, 6);
    send(&child, "TERM");
    finish(child).expect_code(143);
    let first = stored_elapsed(&run);
    assert!(
        first > 0.05,
        "the stop kept the first session's seconds: {first}"
    );
    // Earlier sessions that took 1000 s: the resumed session adds its own seconds to them.
    rusqlite::Connection::open(&store)
        .unwrap()
        .execute(
            "UPDATE meta SET value = ?1 WHERE key = 'elapsed_s'",
            [format!("{:.6}", first + 1000.0)],
        )
        .unwrap();
    sb.run(&["--quiet", "resume", "run"]).expect_code(0);
    let wall = read_summary(&run)["wall_seconds"].as_f64().unwrap();
    assert!(
        wall > first + 1000.0 && wall < first + 1000.0 + 120.0,
        "wall_seconds {wall}, before the resume {first} + 1000"
    );
    assert!(
        (stored_elapsed(&run) - wall).abs() < 1.0,
        "meta and summary agree"
    );
}

#[test]
fn kill_9_leaves_a_wal_only_store_and_export_makes_one_file_that_resumes() {
    let evaluations = 40;
    let expected = reference(evaluations);
    let sb = slow_sandbox(evaluations, 15);
    let at_kill = run_and_kill(&sb, 12, finished_trials, Duration::from_secs(60));
    let run = sb.path().join("run");
    // After kill -9 the finished trials are in store.sqlite-wal: store.sqlite alone is not the run.
    let wal = run.join("store.sqlite-wal");
    assert!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) > 0);
    let bare = sb.path().join("bare");
    std::fs::create_dir(&bare).unwrap();
    std::fs::copy(run.join("store.sqlite"), bare.join("store.sqlite")).unwrap();
    assert!(
        finished_trials(&bare.join("store.sqlite")) < at_kill,
        "store.sqlite alone lacks what the WAL holds"
    );

    let out = sb.run(&["export", "run", "copy.sqlite"]);
    out.expect_code(0);
    assert!(out.stdout().contains("copy.sqlite: "), "{}", out.stdout());
    let again = sb.run(&["export", "run", "copy.sqlite"]);
    again.expect_code(2);
    assert!(
        again
            .stderr()
            .contains("copy.sqlite exists: give `xnas export` a new file name"),
        "{}",
        again.stderr()
    );
    // The one file is the run: moved alone into a new directory, it resumes to the end.
    let moved = sb.path().join("moved");
    std::fs::create_dir(&moved).unwrap();
    std::fs::copy(sb.path().join("copy.sqlite"), moved.join("store.sqlite")).unwrap();
    assert!(!moved.join("store.sqlite-wal").exists());
    assert_eq!(
        finished_ids(&moved.join("store.sqlite")).len() as i64,
        at_kill
    );
    sb.run(&["--quiet", "resume", "moved"]).expect_code(0);
    assert_eq!(trials_csv(&moved), expected);
    // The exported copy is also what `xnas report` reads.
    sb.run(&["report", "moved"]).expect_code(0);
}

#[test]
fn compare_stops_all_its_runs_on_one_signal_and_continues_after() {
    let sb = Sandbox::new();
    sb.add_plugin("fixture_panicky", "libslow.so");
    sb.write(
        "cmp.toml",
        r#"[experiment]
name = "s"
seed = 21
budget = { evaluations = 24 }
batch_size = 4
[plugins]
files = ["plugins/libslow.so"]
[search_space]
plugin = "panicky-space"
params = { delay_ms = 150 }
[tasks]
[executor]
workers = 2
[compare]
targets = ["t"]
seeds = 4
jobs = 2
# seeds 21 to 24 (from the experiment's seed)
[[compare.variant]]
name = "evo"
optimizer = { plugin = "evolution", params = { population = 10, sample_size = 3 } }
"#,
    );
    let mut child = spawn(&sb, &["--quiet", "compare", "cmp.toml", "--out", "cmp"]);
    // Wait until both first runs have results, then stop the comparison (its process only).
    let runs = sb.path().join("cmp/runs/t/evo");
    let t = Instant::now();
    while finished_trials(&runs.join("seed-21/store.sqlite")) < 4
        || finished_trials(&runs.join("seed-22/store.sqlite")) < 4
    {
        assert!(t.elapsed() < Duration::from_secs(120), "no progress");
        assert!(child.try_wait().unwrap().is_none(), "ended too early");
        std::thread::sleep(Duration::from_millis(10));
    }
    send(&child, "TERM");
    let out = finish(child);
    out.expect_code(143);
    let err = out.stderr();
    // None of the 4 runs finished: 2 stopped, 2 never started.
    assert!(
        err.contains("stopped by SIGTERM: 0 of 4 runs finished"),
        "{err}"
    );
    assert!(
        err.contains("continue with `xnas compare cmp.toml --out cmp`"),
        "{err}"
    );
    // Both running runs stopped cleanly (their own stop message), none finished, none started.
    for seed in [21, 22] {
        let log = std::fs::read_to_string(runs.join(format!("seed-{seed}.log"))).unwrap();
        assert!(log.contains("stopped by SIGTERM: "), "seed {seed}: {log}");
        assert!(!runs.join(format!("seed-{seed}/summary.json")).exists());
    }
    assert!(!runs.join("seed-23").exists() && !runs.join("seed-24").exists());
    let kept: Vec<Vec<u64>> = [21, 22]
        .iter()
        .map(|s| finished_ids(&runs.join(format!("seed-{s}/store.sqlite"))))
        .collect();
    // Running it again continues: every run ends, nothing finished was lost.
    sb.run(&["--quiet", "compare", "cmp.toml", "--out", "cmp"])
        .expect_code(0);
    for (seed, kept) in [21, 22].iter().zip(kept) {
        let ids = finished_ids(&runs.join(format!("seed-{seed}/store.sqlite")));
        assert_eq!(ids, (0..24).collect::<Vec<_>>());
        assert!(kept.iter().all(|i| ids.contains(i)));
    }
}
