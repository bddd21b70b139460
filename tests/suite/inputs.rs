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
    serde_json::from_str(&std::fs::read_to_string(run.join("inputs.json")).unwrap()).unwrap()
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

/// SHA-256 by the standard's definition (FIPS 180-4), so the test does not share the
/// implementation it checks.
fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, c) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let mut s = h;
        for i in 0..64 {
            let s1 = s[4].rotate_right(6) ^ s[4].rotate_right(11) ^ s[4].rotate_right(25);
            let ch = (s[4] & s[5]) ^ (!s[4] & s[6]);
            let t1 = s[7]
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = s[0].rotate_right(2) ^ s[0].rotate_right(13) ^ s[0].rotate_right(22);
            let maj = (s[0] & s[1]) ^ (s[0] & s[2]) ^ (s[1] & s[2]);
            let t2 = s0.wrapping_add(maj);
            s = [
                t1.wrapping_add(t2),
                s[0],
                s[1],
                s[2],
                s[3].wrapping_add(t1),
                s[4],
                s[5],
                s[6],
            ];
        }
        for (x, y) in h.iter_mut().zip(s) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (i, x) in h.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&x.to_be_bytes());
    }
    out
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
fn sample_sha256_matches_the_standard() {
    let hex: String = sha256(b"abc").iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
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
