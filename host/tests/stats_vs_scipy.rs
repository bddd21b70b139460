//! Cross-checks `xnas_host::stats` against scipy.
//!
//! The datasets are generated here (deterministically), sent as JSON to a `python3` that imports
//! the scipy installed by `make scipy` (found through `XNAS_SCIPY_PATH`, then
//! `$XNAS_CACHE/pip/scipy`, then `~/.cache/xnas/pip/scipy`), and scipy's answers come back as
//! JSON. A missing scipy is a failure, not a skip.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use xnas_host::stats::{ranks, spearman, t_interval, wilcoxon_signed_rank, WilcoxonMethod};

/// Relative tolerance for everything compared.
const RTOL: f64 = 1e-9;

const SCIPY_SCRIPT: &str = r#"
import json, sys
import numpy as np
import scipy
from scipy import stats

def f(v):
    v = float(v)
    return None if v != v else v

req = json.load(sys.stdin)
out = {"scipy_version": scipy.__version__}
if "t_interval" in req:
    res = []
    for c in req["t_interval"]:
        x = np.asarray(c["x"], dtype=float)
        m = np.mean(x)
        lo, hi = stats.t.interval(c["confidence"], len(x) - 1, loc=m, scale=stats.sem(x))
        res.append({"name": c["name"], "mean": f(m), "lo": f(lo), "hi": f(hi)})
    out["t_interval"] = res
if "wilcoxon" in req:
    res = []
    for c in req["wilcoxon"]:
        x = np.asarray(c["x"], dtype=float)
        y = np.asarray(c["y"], dtype=float)
        r = stats.wilcoxon(x, y)
        d = x - y
        nz = np.abs(d[d != 0])
        res.append({"name": c["name"], "statistic": f(r.statistic), "pvalue": f(r.pvalue),
                    "n_zero": int(np.count_nonzero(d == 0)),
                    "has_ties": bool(len(np.unique(nz)) < len(nz))})
    out["wilcoxon"] = res
if "spearman" in req:
    out["spearman"] = [{"name": c["name"], "statistic": f(stats.spearmanr(c["a"], c["b"]).statistic)}
                       for c in req["spearman"]]
if "ranks" in req:
    out["ranks"] = [{"name": c["name"], "ranks": [f(v) for v in stats.rankdata(c["x"])]}
                    for c in req["ranks"]]
json.dump(out, sys.stdout)
"#;

// --- scipy -------------------------------------------------------------------------------------

fn scipy_dir() -> PathBuf {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("XNAS_SCIPY_PATH").filter(|p| !p.is_empty()) {
        candidates.push(p.into());
    }
    if let Some(c) = std::env::var_os("XNAS_CACHE").filter(|p| !p.is_empty()) {
        candidates.push(PathBuf::from(c).join("pip/scipy"));
    }
    if let Some(h) = std::env::var_os("HOME").filter(|p| !p.is_empty()) {
        candidates.push(PathBuf::from(h).join(".cache/xnas/pip/scipy"));
    }
    candidates
        .iter()
        .find(|c| c.join("scipy").is_dir())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "scipy not found (looked in {candidates:?}); run `make scipy` (or `make test`) \
                 to install it, or point XNAS_SCIPY_PATH at a folder holding the scipy package"
            )
        })
}

/// Sends `request` to the scipy script; returns its answer.
fn ask_scipy(request: &Value) -> Value {
    let dir = scipy_dir();
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(SCIPY_SCRIPT)
        .env("PYTHONPATH", &dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start python3 (needed with scipy from {dir:?}): {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .expect("write the request to python3");
    let out = child.wait_with_output().expect("wait for python3");
    assert!(
        out.status.success(),
        "python3 with scipy from {dir:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "scipy script printed no JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    eprintln!("compared with scipy {}", answer["scipy_version"]);
    answer
}

/// scipy's answers for one group, with the dataset names checked to line up with the request.
fn answers<'a>(answer: &'a Value, group: &str, names: &[&str]) -> &'a Vec<Value> {
    let list = answer[group]
        .as_array()
        .unwrap_or_else(|| panic!("no `{group}` in scipy's answer: {answer}"));
    let got: Vec<&str> = list.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(got, names, "scipy answered other `{group}` datasets");
    list
}

/// A JSON number, or NaN for null (the script writes NaN as null).
fn num(v: &Value) -> f64 {
    if v.is_null() {
        f64::NAN
    } else {
        v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
    }
}

/// `|got - want| <= RTOL * scale`, with `scale` at least `|want|`; NaN only matches NaN.
fn close(got: f64, want: f64, scale: f64) -> bool {
    if want.is_nan() || got.is_nan() {
        return want.is_nan() && got.is_nan();
    }
    got == want || (got - want).abs() <= RTOL * scale.max(want.abs())
}

fn check(failures: &mut Vec<String>, dataset: &str, what: &str, got: f64, want: f64, scale: f64) {
    if !close(got, want, scale) {
        failures.push(format!(
            "{dataset}: {what}: rust {got:e} vs scipy {want:e} (diff {:e})",
            (got - want).abs()
        ));
    }
}

fn report(group: &str, failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} {group} dataset check(s) disagree with scipy:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

// --- data --------------------------------------------------------------------------------------

/// Regret-like values, uniform in [lo, hi).
fn uniform(rng: &mut ChaCha8Rng, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..n).map(|_| lo + (hi - lo) * rng.gen::<f64>()).collect()
}

/// One grid unit: regrets on a grid of 2^-14 (≈ 6.1e-5) subtract exactly, so ties and zeros in
/// the differences are exact and both sides see them.
const UNIT: f64 = 1.0 / 16384.0;

/// Pairs `(x, y)` of grid regrets whose differences `x - y` are exactly `diffs` grid units.
fn pairs_with_diffs(rng: &mut ChaCha8Rng, diffs: &[i64]) -> (Vec<f64>, Vec<f64>) {
    let x: Vec<f64> = diffs
        .iter()
        .map(|_| rng.gen_range(300..900) as f64 * UNIT)
        .collect();
    let y = x
        .iter()
        .zip(diffs)
        .map(|(x, d)| x - *d as f64 * UNIT)
        .collect();
    (x, y)
}

/// Continuous pairs: `x` a plain variant's regrets, `y = x · factor` a transfer variant's.
fn scaled_pairs(
    rng: &mut ChaCha8Rng,
    n: usize,
    factor_lo: f64,
    factor_hi: f64,
) -> (Vec<f64>, Vec<f64>) {
    let x = uniform(rng, n, 0.002, 0.05);
    let y = x
        .iter()
        .map(|x| x * (factor_lo + (factor_hi - factor_lo) * rng.gen::<f64>()))
        .collect();
    (x, y)
}

// --- tests -------------------------------------------------------------------------------------

#[test]
fn t_interval_matches_scipy() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x7_1e7a1);
    let mut cases = Vec::new();
    for n in [2usize, 10, 30] {
        let xs = uniform(&mut rng, n, 0.004, 0.03);
        for confidence in [0.95, 0.9] {
            cases.push((format!("n{n}_c{confidence}"), xs.clone(), confidence));
        }
    }
    let request = json!({ "t_interval": cases.iter()
        .map(|(name, x, c)| json!({ "name": name, "x": x, "confidence": c }))
        .collect::<Vec<_>>() });
    let answer = ask_scipy(&request);
    let names: Vec<&str> = cases.iter().map(|c| c.0.as_str()).collect();
    let mut failures = Vec::new();
    for ((name, xs, confidence), want) in cases.iter().zip(answers(&answer, "t_interval", &names)) {
        let got = t_interval(xs, *confidence);
        assert_eq!(got.n, xs.len(), "{name}: n");
        let (m, lo, hi) = (num(&want["mean"]), num(&want["lo"]), num(&want["hi"]));
        let width = hi - lo;
        check(&mut failures, name, "mean", got.mean, m, 0.0);
        check(&mut failures, name, "lo", got.lo, lo, width);
        check(&mut failures, name, "hi", got.hi, hi, width);
        check(
            &mut failures,
            name,
            "half width",
            got.hi - got.mean,
            hi - m,
            0.0,
        );
    }
    report("t_interval", failures);
}

struct WilcoxonCase {
    name: &'static str,
    x: Vec<f64>,
    y: Vec<f64>,
    method: WilcoxonMethod,
    zeros: usize,
    ties: bool,
}

#[test]
fn wilcoxon_matches_scipy() {
    use WilcoxonMethod::{Exact, Normal};
    let mut rng = ChaCha8Rng::seed_from_u64(0x3_11c0);
    let mut cases = Vec::new();
    let mut case = |name, (x, y): (Vec<f64>, Vec<f64>), method, zeros, ties| {
        cases.push(WilcoxonCase {
            name,
            x,
            y,
            method,
            zeros,
            ties,
        })
    };

    // No zeros, no ties, at most 50 pairs: exact null distribution.
    case(
        "exact_n8",
        scaled_pairs(&mut rng, 8, 0.5, 1.3),
        Exact,
        0,
        false,
    );
    case(
        "exact_n10",
        scaled_pairs(&mut rng, 10, 0.6, 1.2),
        Exact,
        0,
        false,
    );
    let (x, y) = scaled_pairs(&mut rng, 10, 0.6, 1.2);
    case("exact_n10_swapped", (y.clone(), x.clone()), Exact, 0, false);
    case("exact_n10_unswapped", (x, y), Exact, 0, false);
    case(
        "exact_n50",
        scaled_pairs(&mut rng, 50, 0.7, 1.2),
        Exact,
        0,
        false,
    );
    // All differences one way: p = 2 / 2^12.
    case(
        "one_direction_n12",
        scaled_pairs(&mut rng, 12, 0.3, 0.9),
        Exact,
        0,
        false,
    );

    // Zeros or ties with at most 13 pairs (zeros counted): scipy's exhaustive permutation test.
    let diffs = [5, -3, 0, 7, 7, -2, 0, 11, -5, 9, 4, 13];
    case(
        "zeros_ties_n12",
        pairs_with_diffs(&mut rng, &diffs),
        Exact,
        2,
        true,
    );
    let diffs = [6, -1, 0, 9, -4, 12, 3, 10, -8, 2, 14, 5, 0];
    case(
        "zeros_n13",
        pairs_with_diffs(&mut rng, &diffs),
        Exact,
        2,
        false,
    );
    let diffs = [3, -3, 6, 8, -1, 8, 12, 5, -6, 14];
    case(
        "ties_n10",
        pairs_with_diffs(&mut rng, &diffs),
        Exact,
        0,
        true,
    );

    // Zeros or ties beyond 13 pairs: normal approximation (tie-corrected variance).
    let diffs = [
        6, -1, 0, 9, -4, 12, 3, 10, -8, 2, 14, 5, 0, 17, -11, 21, 0, 7, 15, -13,
    ];
    case(
        "zeros_n20",
        pairs_with_diffs(&mut rng, &diffs),
        Normal,
        3,
        false,
    );
    let diffs: Vec<i64> = (0..30)
        .map(|_| [-1, 1][rng.gen_range(0..2)] * rng.gen_range(1..9) + rng.gen_range(0..6))
        .map(|d| if d == 0 { 2 } else { d })
        .collect();
    case(
        "ties_n30",
        pairs_with_diffs(&mut rng, &diffs),
        Normal,
        0,
        true,
    );
    let diffs: Vec<i64> = (0..40).map(|_| rng.gen_range(1..12)).collect();
    case(
        "ties_one_direction_n40",
        pairs_with_diffs(&mut rng, &diffs),
        Normal,
        0,
        true,
    );

    // More than 50 pairs (zeros counted): normal approximation.
    let (x, mut y) = scaled_pairs(&mut rng, 52, 0.6, 1.25);
    for i in [3, 17, 30, 44] {
        y[i] = x[i];
    }
    case("zeros_n52", (x, y), Normal, 4, false);
    case(
        "normal_n60",
        scaled_pairs(&mut rng, 60, 0.7, 1.2),
        Normal,
        0,
        false,
    );
    let diffs: Vec<i64> = (0..70).map(|_| rng.gen_range(-20..30)).collect();
    let zeros = diffs.iter().filter(|&&d| d == 0).count();
    case(
        "zeros_ties_n70",
        pairs_with_diffs(&mut rng, &diffs),
        Normal,
        zeros,
        true,
    );
    // All differences one way, n = 80: p ≈ 1e-14.
    case(
        "one_direction_n80",
        scaled_pairs(&mut rng, 80, 1.05, 1.6),
        Normal,
        0,
        false,
    );

    let request = json!({ "wilcoxon": cases.iter()
        .map(|c| json!({ "name": c.name, "x": c.x, "y": c.y }))
        .collect::<Vec<_>>() });
    let answer = ask_scipy(&request);
    let names: Vec<&str> = cases.iter().map(|c| c.name).collect();
    let mut failures = Vec::new();
    for (c, want) in cases.iter().zip(answers(&answer, "wilcoxon", &names)) {
        // The dataset has the shape it was built for (else it tests another branch).
        assert_eq!(
            want["n_zero"].as_u64(),
            Some(c.zeros as u64),
            "{}: zeros",
            c.name
        );
        assert_eq!(want["has_ties"].as_bool(), Some(c.ties), "{}: ties", c.name);
        let got = wilcoxon_signed_rank(&c.x, &c.y)
            .unwrap_or_else(|| panic!("{}: no result from the rust test", c.name));
        assert_eq!(got.method, c.method, "{}: method", c.name);
        assert_eq!(got.n, c.x.len() - c.zeros, "{}: n", c.name);
        check(
            &mut failures,
            c.name,
            "statistic",
            got.statistic,
            num(&want["statistic"]),
            0.0,
        );
        check(
            &mut failures,
            c.name,
            "p-value",
            got.p_value,
            num(&want["pvalue"]),
            0.0,
        );
    }
    report("wilcoxon", failures);

    let by_name = |n: &str| {
        let c = cases.iter().find(|c| c.name == n).unwrap();
        wilcoxon_signed_rank(&c.x, &c.y).unwrap()
    };
    assert_eq!(by_name("one_direction_n12").p_value, 2.0 / 4096.0);
    assert_eq!(by_name("one_direction_n12").statistic, 0.0);
    assert!(by_name("one_direction_n80").p_value < 1e-12);
    assert_eq!(by_name("exact_n10_swapped"), by_name("exact_n10_unswapped"));
}

#[test]
fn spearman_matches_scipy() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5_9ea4);
    let mut cases: Vec<(&str, Vec<f64>, Vec<f64>)> = Vec::new();

    let a = uniform(&mut rng, 25, 0.002, 0.05);
    let b = a.iter().map(|v| v + 0.01 * rng.gen::<f64>()).collect();
    cases.push(("no_ties_n25", a, b));

    // Coarse grids: many ties on both sides.
    let a: Vec<f64> = (0..40)
        .map(|_| rng.gen_range(0..8) as f64 * 0.0025)
        .collect();
    let b = a
        .iter()
        .map(|v| ((v / 0.0025) as i64 + rng.gen_range(-2..3)) as f64 * 0.005)
        .collect();
    cases.push(("ties_both_n40", a, b));

    let a = uniform(&mut rng, 30, 0.002, 0.05);
    let b = a
        .iter()
        .map(|v| 0.06 - v + 0.015 * rng.gen::<f64>())
        .collect();
    cases.push(("negative_n30", a, b));

    let a: Vec<f64> = (0..15).map(|_| rng.gen_range(0..5) as f64 * 0.01).collect();
    let b = a
        .iter()
        .map(|v| 0.05 - v + 0.02 * rng.gen::<f64>())
        .collect();
    cases.push(("ties_one_side_negative_n15", a, b));

    let a = uniform(&mut rng, 12, 0.002, 0.05);
    let b = uniform(&mut rng, 12, 0.002, 0.05);
    cases.push(("independent_n12", a, b));

    let request = json!({ "spearman": cases.iter()
        .map(|(name, a, b)| json!({ "name": name, "a": a, "b": b }))
        .collect::<Vec<_>>() });
    let answer = ask_scipy(&request);
    let names: Vec<&str> = cases.iter().map(|c| c.0).collect();
    let mut failures = Vec::new();
    for ((name, a, b), want) in cases.iter().zip(answers(&answer, "spearman", &names)) {
        let want = num(&want["statistic"]);
        check(&mut failures, name, "rho", spearman(a, b), want, 0.0);
        if name.contains("negative") {
            assert!(
                want < -0.5,
                "{name}: the dataset should correlate negatively ({want})"
            );
        }
    }
    report("spearman", failures);
}

#[test]
fn ranks_match_scipy() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x4a_4c5);
    let cases: Vec<(&str, Vec<f64>)> = vec![
        (
            "ties_n20",
            (0..20)
                .map(|_| rng.gen_range(0..7) as f64 * 0.0025)
                .collect(),
        ),
        ("no_ties_n7", uniform(&mut rng, 7, 0.002, 0.05)),
        ("all_equal_n5", vec![0.0123; 5]),
        ("signed_zeros", vec![0.0, -0.0, 0.01, -0.01, 0.0]),
        ("single", vec![0.0123]),
    ];
    let request = json!({ "ranks": cases.iter()
        .map(|(name, x)| json!({ "name": name, "x": x }))
        .collect::<Vec<_>>() });
    let answer = ask_scipy(&request);
    let names: Vec<&str> = cases.iter().map(|c| c.0).collect();
    let mut failures = Vec::new();
    for ((name, x), want) in cases.iter().zip(answers(&answer, "ranks", &names)) {
        let want: Vec<f64> = want["ranks"].as_array().unwrap().iter().map(num).collect();
        let got = ranks(x);
        if got != want {
            failures.push(format!("{name}: rust {got:?} vs scipy {want:?}"));
        }
    }
    report("ranks", failures);
}
