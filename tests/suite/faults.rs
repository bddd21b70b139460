//! Bad plugin libraries and panicking plugins: one clear sentence naming the file, a non-zero
//! exit or a failed trial, and never a crash of the host.

use xnas_tests::*;

/// `xnas plugins --plugin-dir plugins` in a sandbox whose `plugins/` holds one file `as_name`:
/// a copy of the built library `lib`, or `text` written as is.
fn listing_with(lib: Option<&str>, as_name: &str, text: Option<&str>) -> Out {
    let sb = Sandbox::new();
    match (lib, text) {
        (Some(lib), _) => {
            sb.add_plugin(lib, as_name);
        }
        (None, Some(text)) => std::fs::write(sb.plugins().join(as_name), text).unwrap(),
        (None, None) => unreachable!("a library or a text"),
    }
    sb.run(&["--plugin-dir", "plugins", "plugins"])
}

fn assert_one_sentence(err: &str, file: &str, needle: &str) {
    let line = err
        .lines()
        .find(|l| l.contains(file))
        .unwrap_or_else(|| panic!("no message naming {file}:\n{err}"));
    assert!(line.contains(needle), "{line}");
    assert!(
        line.len() < 400,
        "short message, not a layout dump ({} chars): {line}",
        line.len()
    );
    assert!(err.len() < 2000, "stderr stays short ({} bytes)", err.len());
}

/// A closed stdout (`xnas plugins | head -0`) ends the output, not the host: no panic, and the
/// command's own exit code.
#[test]
fn a_closed_stdout_is_not_a_crash() {
    let sb = Sandbox::new();
    sb.add_plugin("xnas_random", "libxnas_random.so");
    // std::io::pipe needs Rust 1.87 (the workspace's rust-version).
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = Out(sb
        .xnas()
        .args(["--plugin-dir", "plugins", "plugins"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run xnas"));
    out.expect_code(0);
    assert!(!out.stderr().contains("panicked"), "{}", out.stderr());
}

#[test]
fn plugin_built_against_another_interface_version() {
    let out = listing_with(Some("fixture_old_abi"), "libxnas_old.so", None);
    out.expect_code(2);
    assert_one_sentence(
        &out.stderr(),
        "libxnas_old.so",
        "built against plugin interface 0.0.7, but this xnas speaks 0.3.1; rebuild it against the xnas-core of this xnas (plugin interface 0.3.1)",
    );
    // The good plugins are still listed.
    assert!(out.stdout().contains("evolution"), "{}", out.stdout());
}

#[test]
fn plugin_with_a_different_interface_layout() {
    let out = listing_with(Some("fixture_bad_layout"), "libxnas_badlayout.so", None);
    out.expect_code(2);
    assert_one_sentence(
        &out.stderr(),
        "libxnas_badlayout.so",
        "interface layout does not match this xnas",
    );
}

#[test]
fn shared_library_that_is_not_a_plugin() {
    let out = listing_with(Some("fixture_not_a_plugin"), "libxnas_hello.so", None);
    out.expect_code(2);
    assert_one_sentence(&out.stderr(), "libxnas_hello.so", "not an xnas plugin");
}

#[test]
fn file_that_is_not_a_library() {
    let out = listing_with(None, "libxnas_notes.so", Some("these are my notes\n"));
    out.expect_code(2);
    assert_one_sentence(
        &out.stderr(),
        "libxnas_notes.so",
        "not a loadable shared library",
    );
}

/// An experiment on the panicky fixture space, loaded from an explicit file.
fn panicky(space_params: &str, optimizer: &str, opt_params: &str, evaluations: u64) -> String {
    format!(
        r#"[experiment]
name = "p"
seed = 5
budget = {{ evaluations = {evaluations} }}
batch_size = 4
[plugins]
files = ["plugins/libpanicky.so"]
[search_space]
plugin = "panicky-space"
[search_space.params]
{space_params}
[optimizer]
plugin = "{optimizer}"
[optimizer.params]
{opt_params}
[tasks]
target = "t"
"#
    )
}

fn panicky_sandbox(text: &str) -> Sandbox {
    let sb = Sandbox::new();
    sb.add_plugin("fixture_panicky", "libpanicky.so");
    sb.write("exp.toml", text);
    sb
}

#[test]
fn panic_in_evaluate_fails_that_trial_and_the_search_goes_on() {
    let sb = panicky_sandbox(&panicky(
        "panic_in = \"evaluate\"\non_call = 3",
        "random",
        "",
        12,
    ));
    let out = sb.run(&["--quiet", "run", "exp.toml", "--out", "run"]);
    out.expect_code(1); // finished, with a failed trial
    let rows = read_trials(&sb.path().join("run"));
    assert_eq!(rows.len(), 12);
    let failed: Vec<&Row> = rows.iter().filter(|r| r.status == "failed").collect();
    assert_eq!(failed.len(), 1, "{rows:?}");
    let csv = std::fs::read_to_string(sb.path().join("run/trials.csv")).unwrap();
    assert!(csv.contains("deliberate panic in evaluate"), "{csv}");
    assert_eq!(read_summary(&sb.path().join("run"))["failed"], 1);
}

#[test]
fn panic_in_evaluate_with_two_workers() {
    let sb = panicky_sandbox(&panicky(
        "panic_in = \"evaluate\"\non_call = 2",
        "random",
        "",
        12,
    ));
    let out = sb.run(&[
        "--quiet",
        "run",
        "exp.toml",
        "--out",
        "run",
        "--workers",
        "2",
    ]);
    out.expect_code(1);
    let rows = read_trials(&sb.path().join("run"));
    assert_eq!(rows.len(), 12);
    assert_eq!(rows.iter().filter(|r| r.status == "failed").count(), 1);
}

#[test]
fn panic_while_creating_a_plugin_is_a_clear_error() {
    let sb = panicky_sandbox(&panicky("panic_in = \"create\"", "random", "", 4));
    let out = sb.run(&["--quiet", "run", "exp.toml", "--out", "run"]);
    assert_ne!(out.code(), 0);
    assert!(
        out.0.status.code().is_some(),
        "the host exited, it did not crash"
    );
    let err = out.stderr();
    assert!(
        err.contains("panicky-space") && err.contains("panicked in create"),
        "{err}"
    );
}

#[test]
fn panic_in_ask_stops_the_run_and_keeps_what_was_done() {
    let sb = panicky_sandbox(&panicky(
        "",
        "panicky-optimizer",
        "panic_in = \"ask\"\non_call = 3",
        40,
    ));
    let out = sb.run(&["--quiet", "run", "exp.toml", "--out", "run"]);
    out.expect_code(1);
    let err = out.stderr();
    assert!(
        err.contains("panicky-optimizer") && err.contains("panicked in ask"),
        "{err}"
    );
    // Two batches were asked, evaluated and stored before the panic; `xnas report` shows them.
    sb.run(&["report", "run"]).expect_code(0);
    let rows = read_trials(&sb.path().join("run"));
    assert_eq!(rows.len(), 8);
    assert!(rows.iter().all(|r| r.status == "ok"));
}
