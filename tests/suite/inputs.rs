//! A run's inputs: data changed between a run and its resume is refused (or accepted with
//! `--accept-changed-inputs`, recorded in the run), and damaged data files are refused with a
//! message naming the file, exit 2. Real binary, real plugins, the real NAS-Bench-Graph table
//! and the real tabular example (both copied into the test's folder before they are changed).

use std::path::{Path, PathBuf};
use xnas_tests::*;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// The tabular example's experiment, reading `table` (in the sandbox), `evaluations` long.
fn tabular_experiment(table: &str, evaluations: u64) -> String {
    let text = std::fs::read_to_string(examples().join("tabular/experiment.toml")).unwrap();
    text.replace("nbg-subset.csv", table)
        .replace("evaluations = 150", &format!("evaluations = {evaluations}"))
}

fn sandbox_with_table() -> Sandbox {
    let sb = Sandbox::new();
    std::fs::copy(
        examples().join("tabular/nbg-subset.csv"),
        sb.path().join("table.csv"),
    )
    .unwrap();
    sb.write("exp.toml", &tabular_experiment("table.csv", 12));
    sb
}

fn inputs_json(run: &Path) -> serde_json::Value {
    read_json(&run.join("inputs.json"))
}

/// The NAS-Bench-Graph table without its checksum (format 1) and with it (format 2), whichever
/// format the installed file has; `change` edits the body first.
fn nbg_versions(change: impl Fn(&mut Vec<u8>)) -> (Vec<u8>, Vec<u8>) {
    let bytes = std::fs::read(nasbench_graph_data()).unwrap();
    let mut v1 = if bytes[8] == 2 {
        bytes[..bytes.len() - 32].to_vec()
    } else {
        bytes
    };
    v1[8] = 1;
    change(&mut v1);
    let mut v2 = v1.clone();
    v2[8] = 2;
    let sum = sha256(&v2);
    v2.extend_from_slice(&sum);
    (v1, v2)
}

fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

/// Byte offset of the first row of cora (key index, then valid, test, latency, parameters).
fn first_row(b: &[u8]) -> usize {
    let u32_at = |p: usize| u32::from_le_bytes(b[p..p + 4].try_into().unwrap()) as usize;
    let mut p = 12;
    p += 4 + 4 * u32_at(p);
    let ops = u32_at(p);
    p += 4;
    for _ in 0..ops {
        p += 1 + b[p] as usize;
    }
    p += 4 + 4 * u32_at(p);
    p += 4 + 4 * u32_at(p);
    p += 4;
    p += 1 + b[p] as usize;
    p + 4
}

fn nbg_sandbox(data: &[u8], evaluations: u64) -> Sandbox {
    let sb = Sandbox::new();
    std::fs::write(sb.path().join("nbg.bin"), data).unwrap();
    sb.write(
        "exp.toml",
        &crate::nbg_experiment("nbg-data", "random", evaluations, "").replace(
            "plugin = \"nasbench-graph\"",
            "plugin = \"nasbench-graph\"\nparams = { data = \"nbg.bin\" }",
        ),
    );
    sb
}

#[test]
fn a_changed_table_is_refused_on_resume_and_accepted_with_the_flag() {
    let sb = sandbox_with_table();
    let run = sb.path().join("run");
    // A finished run: the check comes before anything is replayed or evaluated, so a killed
    // one meets the same refusal (the slow fixtures of resume.rs are not needed here).
    sb.run(&["--quiet", "run", "exp.toml", "--out", "run"])
        .expect_code(0);
    let recorded = inputs_json(&run);
    let table = std::fs::canonicalize(sb.path().join("table.csv")).unwrap();
    let table = table.display().to_string();
    assert!(
        recorded["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["path"] == table.as_str() && i["sha256"].as_str().unwrap().len() == 64),
        "{recorded}"
    );
    assert!(
        recorded["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["what"]
                .as_str()
                .unwrap()
                .starts_with("plugin `evolution`")),
        "plugin libraries are fingerprinted: {recorded}"
    );

    // Same rows, one metric changed.
    let text = std::fs::read_to_string(&table).unwrap();
    std::fs::write(&table, text.replacen("0.706667", "0.806667", 1)).unwrap();
    let out = sb.run(&["--quiet", "resume", "run"]);
    out.expect_code(2);
    let err = out.stderr();
    assert!(
        err.contains("an input changed since the run started"),
        "{err}"
    );
    assert!(
        err.contains(&format!("data file {table} has other contents")),
        "{err}"
    );
    assert!(err.contains("--accept-changed-inputs"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one sentence: {err}");

    let out = sb.run(&["--quiet", "resume", "run", "--accept-changed-inputs"]);
    out.expect_code(0);
    let after = inputs_json(&run);
    let accepted = after["accepted_changes"].as_array().unwrap();
    assert_eq!(accepted.len(), 1, "{after}");
    assert!(
        accepted[0]["changes"][0].as_str().unwrap().contains(&table),
        "{after}"
    );
    assert_eq!(read_summary(&run)["evaluations"], 12);
    // The accepted state is the new baseline: a plain resume now goes through.
    sb.run(&["--quiet", "resume", "run"]).expect_code(0);
}

#[test]
fn a_changed_benchmark_file_is_refused_on_resume_and_accepted_with_the_flag() {
    let (_, v2) = nbg_versions(|_| {});
    let sb = nbg_sandbox(&v2, 10);
    sb.run(&["--quiet", "run", "exp.toml", "--out", "run"])
        .expect_code(0);
    // A regenerated file with another value in range and a valid checksum: only the
    // fingerprint can tell.
    let (_, changed) = nbg_versions(|b| {
        let at = first_row(b) + 4;
        b[at..at + 8].copy_from_slice(&0.5f64.to_le_bytes());
    });
    std::fs::write(sb.path().join("nbg.bin"), &changed).unwrap();
    let out = sb.run(&["--quiet", "resume", "run"]);
    out.expect_code(2);
    let err = out.stderr();
    assert!(err.contains("nbg.bin has other contents"), "{err}");
    sb.run(&["--quiet", "resume", "run", "--accept-changed-inputs"])
        .expect_code(0);
    assert_eq!(
        inputs_json(&sb.path().join("run"))["accepted_changes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// `xnas run` on a damaged copy of the NAS-Bench-Graph table: exit 2, one message naming it.
fn refused_benchmark(data: &[u8], needle: &str) {
    let sb = nbg_sandbox(data, 5);
    let out = sb.run(&["--quiet", "run", "exp.toml", "--out", "run"]);
    out.expect_code(2);
    let err = out.stderr();
    assert!(err.contains("nbg.bin"), "names the file: {err}");
    assert!(err.contains(needle), "{err}");
}

#[test]
fn damaged_benchmark_files_are_refused_naming_the_file() {
    // Bit flips in metric fields: caught by the checksum whatever the values become.
    let (_, v2) = nbg_versions(|_| {});
    let mut flipped = v2.clone();
    let row = first_row(&flipped);
    for r in 0..2000 {
        flipped[row + 36 * r + 4 + (r % 8)] ^= 1 << (r % 7);
    }
    refused_benchmark(&flipped, "do not match the SHA-256 it carries");
    // Without a checksum (format 1), the range checks: a huge value, an inverted (negative)
    // metric and NaN.
    for (value, needle) in [
        (1.43e308, "validation accuracy 1.43e308 is outside [0, 1]"),
        (-0.8193, "outside [0, 1]"),
        (f64::NAN, "validation accuracy NaN is outside [0, 1]"),
    ] {
        let (v1, _) = nbg_versions(|b| {
            let at = first_row(b) + 4;
            b[at..at + 8].copy_from_slice(&value.to_le_bytes());
        });
        refused_benchmark(&v1, needle);
    }
}

/// `xnas run` of the tabular example on `text` as its table: exit 2 and the message.
fn refused_table(text: &str) -> String {
    let sb = Sandbox::new();
    sb.write("table.csv", text);
    sb.write("exp.toml", &tabular_experiment("table.csv", 5));
    let out = sb.run(&["--quiet", "run", "exp.toml", "--out", "run"]);
    out.expect_code(2);
    assert!(!sb.path().join("run/store.sqlite").exists());
    out.stderr()
}

#[test]
fn damaged_tables_are_refused_naming_the_file_and_line() {
    let real = std::fs::read_to_string(examples().join("tabular/nbg-subset.csv")).unwrap();
    // Cut in the middle of a number (after its point), as a copy that stopped would leave it.
    let cut = real.find("0.695333").unwrap() + 2;
    let err = refused_table(&real[..cut]);
    assert!(err.contains("table.csv line 3"), "{err}");
    assert!(err.contains("ends in the middle of a row"), "{err}");
    // Cut right after a comma: the empty test metric was once read as 0.
    let cut = real.find("0.709667").unwrap();
    let err = refused_table(&real[..cut]);
    assert!(err.contains("line 3") && err.contains("cut short"), "{err}");
    // NaN in a CRLF file: the file and its true line.
    let crlf = real.replace('\n', "\r\n").replacen("0.695333", "NaN", 1);
    let err = refused_table(&crlf);
    assert!(
        err.contains("table.csv line 3: metric `NaN` is not a finite number"),
        "{err}"
    );
}

#[test]
fn compare_passes_accept_changed_inputs_on_to_the_runs_it_resumes() {
    let sb = sandbox_with_table();
    let experiment = tabular_experiment("table.csv", 12);
    // A comparison names its optimizers per variant.
    let (head, tail) = experiment.split_once("[optimizer]").unwrap();
    let tail = &tail[tail.find("[tasks]").unwrap()..];
    let text = format!("{head}{tail}").replace(
        "[tasks]\ntarget = \"citeseer\"",
        "[tasks]\ntarget = \"citeseer\"\n\n[compare]\ntargets = [\"citeseer\"]\nseeds = 1\n\n\
         [[compare.variant]]\nname = \"evolution\"\n\
         optimizer = { plugin = \"evolution\", params = { population = 6, sample_size = 3 } }",
    );
    sb.write("cmp.toml", &text);
    sb.run(&["--quiet", "compare", "cmp.toml", "--out", "cmp"])
        .expect_code(0);
    let run = sb.path().join("cmp/runs/citeseer/evolution/seed-0");
    assert!(run.join("summary.json").exists());
    // An interrupted run (no summary yet), then its table changes.
    std::fs::remove_file(run.join("summary.json")).unwrap();
    let table = sb.path().join("table.csv");
    let rows = std::fs::read_to_string(&table).unwrap();
    std::fs::write(&table, rows.replacen("0.706667", "0.806667", 1)).unwrap();

    let refused = sb.run(&["--quiet", "compare", "cmp.toml", "--out", "cmp"]);
    assert_ne!(refused.code(), 0, "{}", refused.stderr());
    assert!(
        refused
            .stderr()
            .contains("an input changed since the run started"),
        "{}",
        refused.stderr()
    );
    assert!(!run.join("summary.json").exists());

    sb.run(&[
        "--quiet",
        "compare",
        "cmp.toml",
        "--out",
        "cmp",
        "--accept-changed-inputs",
    ])
    .expect_code(0);
    assert!(run.join("summary.json").exists());
    let accepted = inputs_json(&run)["accepted_changes"].clone();
    assert_eq!(accepted.as_array().unwrap().len(), 1, "{accepted}");
}
