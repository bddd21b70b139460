//! A damaged store is read loudly: every stored value that cannot be read back as written fails
//! `resume` and `report` with exit 2, naming the store, the trial (or meta key) and the column,
//! instead of reading a default; a row that contradicts itself is blamed on the store, not on
//! the optimizer. The failed command changes nothing in the store.

use crate::faults_run::slow_sandbox;
use xnas_tests::*;

/// A finished run of 12 trials, damaged by `sql`; then `xnas <args>` on it.
fn damaged(sql: &str, args: &[&str]) -> Out {
    let sb = slow_sandbox(12, 0);
    sb.run(&["--quiet", "run", "exp.toml", "--out", "run"])
        .expect_code(0);
    let store = sb.path().join("run/store.sqlite");
    {
        let conn = rusqlite::Connection::open(&store).unwrap();
        conn.execute_batch(sql).unwrap();
    }
    let before = finished_trials(&store);
    let csv = std::fs::read_to_string(sb.path().join("run/trials.csv")).unwrap();
    let out = sb.run(args);
    out.expect_code(2);
    // Nothing was lost, nothing rewritten.
    assert_eq!(finished_trials(&store), before);
    assert_eq!(
        std::fs::read_to_string(sb.path().join("run/trials.csv")).unwrap(),
        csv
    );
    out
}

fn expect_damage(sql: &str, detail: &str) {
    for args in [&["--quiet", "resume", "run"][..], &["report", "run"]] {
        let out = damaged(sql, args);
        let err = out.stderr();
        assert!(
            err.starts_with("error: store ") && err.contains("run/store.sqlite is damaged: "),
            "{args:?}: {err}"
        );
        assert!(err.contains(detail), "{args:?}: {err}");
        assert!(
            err.contains("restore the run from a copy (see `xnas export`) or start it again"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "one sentence: {err}");
    }
}

#[test]
fn an_unknown_role_is_damage_not_a_target_trial() {
    expect_damage(
        "UPDATE trials SET role = 'tagret' WHERE id = 3",
        "trial 3, column `role`: `tagret` is not `source` or `target`",
    );
}

#[test]
fn an_unparsable_genome_is_damage_not_an_empty_one() {
    expect_damage(
        "UPDATE trials SET genome = '1-x-2' WHERE id = 4",
        "trial 4, column `genome`: `1-x-2` is not a genome (numbers joined by `-`)",
    );
}

#[test]
fn bad_curve_json_is_damage_not_an_empty_curve() {
    expect_damage(
        "UPDATE trials SET curve = '[0.1,' WHERE id = 5",
        "trial 5, column `curve`: `[0.1,` is not a JSON list of numbers",
    );
}

#[test]
fn an_unknown_status_is_damage_not_pending() {
    expect_damage(
        "UPDATE trials SET status = 'done' WHERE id = 6",
        "trial 6, column `status`: `done` is not `pending`, `ok` or `failed`",
    );
}

#[test]
fn a_metric_that_is_not_a_number_is_damage() {
    expect_damage(
        "UPDATE trials SET metric = 'high' WHERE id = 2",
        "trial 2, column `metric`: holds a value of type Text",
    );
}

#[test]
fn bad_plugin_dirs_are_damage_not_an_empty_list() {
    expect_damage(
        "UPDATE meta SET value = 'plugins' WHERE key = 'plugin_dirs'",
        "meta `plugin_dirs` = `plugins` is not a JSON list of directories",
    );
}

#[test]
fn a_bad_elapsed_time_is_damage_not_zero() {
    // Read as 0 it would restart a time budget.
    expect_damage(
        "INSERT OR REPLACE INTO meta(key, value) VALUES ('elapsed_s', 'soon')",
        "meta `elapsed_s` = `soon` is not a number of seconds",
    );
}

#[test]
fn a_row_that_contradicts_itself_is_blamed_on_the_store_not_the_optimizer() {
    // Trial 7's proposal changed, its canonical form and text not: replaying it, evolution
    // proposes what the run had, which the row no longer says.
    let out = damaged(
        "UPDATE trials SET genome = CASE genome WHEN '0-0-0' THEN '1-1-1' ELSE '0-0-0' END WHERE id = 7",
        &["--quiet", "resume", "run"],
    );
    let err = out.stderr();
    assert!(
        err.contains("run/store.sqlite is damaged: trial 7's genome "),
        "{err}"
    );
    assert!(err.contains("gives the architecture"), "{err}");
    assert!(err.contains("the optimizer is not at fault"), "{err}");
    assert!(!err.contains("not deterministic"), "{err}");
    // A damaged seed is found the same way.
    let out = damaged(
        "UPDATE trials SET genome = CASE genome WHEN '0-0-0' THEN '1-1-1' ELSE '0-0-0' END, \
         canonical = CASE genome WHEN '0-0-0' THEN '1-1-1' ELSE '0-0-0' END, \
         arch = CASE genome WHEN '0-0-0' THEN '1-1-1' ELSE '0-0-0' END, seed = 7 WHERE id = 7",
        &["--quiet", "resume", "run"],
    );
    let err = out.stderr();
    assert!(
        err.contains("trial 7's seed 7 is not the seed its id gives"),
        "{err}"
    );
}
