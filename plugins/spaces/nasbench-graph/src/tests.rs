//! Tests against the real converted file. They fail (never skip) when it is missing: run
//! `make data`, or `PYTHONPATH=<pip dir> python3 plugins/spaces/nasbench-graph/convert.py --out
//! ~/.cache/xnas/data/nasbench-graph`.

use super::*;
use std::collections::HashSet;
use std::time::Instant;
use xnas_core::{parse_params, ErrorKind};

/// The data file the tests read (`$XNAS_DATA_DIR` or `~/.cache/xnas/data`), which must exist.
fn data_file() -> PathBuf {
    let path = default_data_path("");
    assert!(
        path.is_file(),
        "NAS-Bench-Graph data file {} is missing: the nasbench-graph tests need it. Run `make data`, \
         or `pip install --target ~/.cache/xnas/pip nas-bench-graph==1.4.0 numpy && \
         PYTHONPATH=~/.cache/xnas/pip python3 plugins/spaces/nasbench-graph/convert.py --out {}`",
        path.display(),
        path.parent().unwrap().display()
    );
    path
}

fn init(tasks: &[&str]) -> SpaceInit {
    SpaceInit {
        tasks: tasks.iter().map(|&t| RString::from(t)).collect(),
        base_dir: RString::new(),
        data_dir: RString::new(),
    }
}

fn params(ops: OpsMode) -> NasBenchGraphParams {
    NasBenchGraphParams {
        data: Some(data_file().to_string_lossy().into_owned()),
        ops,
    }
}

fn space(tasks: &[&str], ops: OpsMode) -> NasBenchGraph {
    NasBenchGraph::new(params(ops), &init(tasks)).expect("space loads")
}

fn request(task: &str, genome: &[u32]) -> EvalRequest {
    EvalRequest {
        trial_id: 7,
        task: task.into(),
        genome: genome.to_vec().into(),
        seed: 1,
        budget: None.into(),
    }
}

fn err_of<T: std::fmt::Debug>(r: PluginResult<T>) -> PluginError {
    r.expect_err("expected an error")
}

/// gat gcn gin cheb sage arma graph fc skip
const GAT: u32 = 0;
const GCN: u32 = 1;
const GIN: u32 = 2;
const SAGE: u32 = 4;
const ARMA: u32 = 5;
const FC: u32 = 7;
const SKIP: u32 = 8;

#[test]
fn counts_match_the_benchmark() {
    let s = space(&[], OpsMode::Auto);
    assert_eq!(s.ops_mode(), OpsMode::All);
    assert_eq!(s.available_len(), 26_206);
    let d = s.describe().unwrap();
    assert_eq!(d.size, 26_206);
    let tasks: Vec<&str> = d.tasks.iter().map(|t| t.as_str()).collect();
    assert_eq!(tasks, TASKS.to_vec());
    for t in &TASKS[..8] {
        assert_eq!(s.entries(t), Some(26_206), "{t}");
    }
    assert_eq!(s.entries("proteins"), Some(2_021));
    assert_eq!(s.entries("mnist"), None);

    let names: Vec<&str> = d.positions.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["link", "op1", "op2", "op3", "op4"]);
    assert!(d.positions.iter().all(|p| p.choices == 9));
    assert_eq!(d.positions[0].group.as_str(), "link");
    assert_eq!(d.positions[0].labels[3].as_str(), "0-0-1-2");
    assert_eq!(d.positions[2].group.as_str(), "op");
    assert_eq!(d.positions[2].labels[8].as_str(), "skip");

    // Every genome but the 9 all-skip ones is valid; the canonical forms number 26,206.
    let mut valid = 0;
    let mut keys = HashSet::new();
    for gi in 0..data::N_GENOMES {
        if let Ok(a) = s.canonical(&index_genome(gi)) {
            valid += 1;
            keys.insert(a.genome.to_vec());
        }
    }
    assert_eq!(valid, 59_049 - 9);
    assert_eq!(keys.len(), 26_206);
}

/// Values read from the package's pickles with Python (nas-bench-graph 1.4.0):
/// `light_read(task)[Arch(link_list[l], ops).valid_hash()]`.
#[test]
fn known_lookups_match_the_pickles() {
    let s = space(&["cora", "arxiv", "photo"], OpsMode::Auto);
    // cora, link 0-0-1-2, gcn,gat,skip,sage -> key 68014: 0-1-1-2|skip,gat,gcn,sage.
    let g = [3, GCN, GAT, SKIP, SAGE];
    let a = s.canonical(&g).unwrap();
    assert_eq!(a.genome.to_vec(), vec![6, SKIP, GAT, GCN, SAGE]);
    assert_eq!(a.text.as_str(), "0-1-1-2|skip,gat,gcn,sage");
    let r = s.evaluate(&request("cora", &g)).unwrap();
    assert_eq!(r.metric, 0.7913333333333333);
    assert_eq!(r.test_metric, RSome(0.806));
    assert_eq!(r.cost_seconds, 0.0);
    assert!(r.curve.is_empty());
    assert_eq!(
        r.extras.as_str(),
        "{\"latency_s\":0.003498077392578125,\"params_m\":1.001223}"
    );
    // arxiv, 0-0-0-0 gcn,gat,sage,gin -> key 124.
    let r = s
        .evaluate(&request("arxiv", &[0, GCN, GAT, SAGE, GIN]))
        .unwrap();
    assert_eq!(r.metric, 0.6836666666666668);
    assert_eq!(r.test_metric, RSome(0.6755892983286355));
    // photo, 0-1-2-3 skip,skip,gcn,gcn -> key 88811.
    let r = s
        .evaluate(&request("photo", &[8, SKIP, SKIP, GCN, GCN]))
        .unwrap();
    assert_eq!(r.metric, 0.9223333333333334);
    assert_eq!(r.test_metric, RSome(0.9142091152815013));

    let p = space(&["proteins"], OpsMode::Auto);
    // proteins, 0-1-2-3 skip,sage,arma,fc -> key 88457 (already canonical).
    let g = [8, SKIP, SAGE, ARMA, FC];
    assert_eq!(p.canonical(&g).unwrap().genome.to_vec(), g.to_vec());
    let r = p.evaluate(&request("proteins", &g)).unwrap();
    assert_eq!(r.metric, 0.8483333333333333);
    assert_eq!(r.test_metric, RSome(0.7751819302866655));

    // Best valid metric per dataset (max over the whole table).
    assert_eq!(s.best_metric("cora"), Some(0.8193333333333334));
    assert_eq!(s.best_metric("arxiv"), Some(0.7366666666666667));
    assert_eq!(s.best_metric("photo"), Some(0.9406666666666667));
    assert_eq!(p.best_metric("proteins"), Some(0.8533333333333334));
    assert_eq!(s.best_metric("mnist"), None);
}

#[test]
fn isomorphic_genomes_share_a_canonical_form() {
    let s = space(&["cora"], OpsMode::Auto);
    // Four parallel branches: their order does not matter.
    let a = [0, GCN, GAT, SAGE, GIN];
    let b = [0, GAT, GCN, GIN, SAGE];
    let ca = s.canonical(&a).unwrap();
    assert_eq!(ca, s.canonical(&b).unwrap());
    assert_eq!(ca.text.as_str(), "0-0-0-0|gat,gcn,gin,sage");
    assert_eq!(
        s.evaluate(&request("cora", &a)).unwrap(),
        s.evaluate(&request("cora", &b)).unwrap()
    );

    let variants = s.symmetric_variants(&a).unwrap();
    assert_eq!(
        variants.len(),
        23,
        "4! orders of 4 distinct branches, minus itself"
    );
    assert!(variants.contains(&b.to_vec()));
    assert!(!variants.contains(&a.to_vec()));
    for v in &variants {
        assert_eq!(s.canonical(v).unwrap(), ca);
    }
    // A genome with no other form has no variants; all-skip has none and is an error.
    let solo = s.symmetric_variants(&[8, GAT, GCN, GIN, SAGE]).unwrap();
    for v in &solo {
        assert_eq!(
            s.canonical(v).unwrap(),
            s.canonical(&[8, GAT, GCN, GIN, SAGE]).unwrap()
        );
    }
    assert_eq!(
        s.symmetric_variants(&[0, SKIP, SKIP, SKIP, SKIP])
            .unwrap_err()
            .kind,
        ErrorKind::INVALID_ARCHITECTURE
    );
}

#[test]
fn sample_is_deterministic_canonical_and_spread() {
    let s = space(&["cora", "citeseer"], OpsMode::Auto);
    let mut seen = HashSet::new();
    for seed in 0..500u64 {
        let g = s.sample(seed).unwrap();
        assert_eq!(g, s.sample(seed).unwrap());
        assert_eq!(s.canonical(&g).unwrap().genome.to_vec(), g);
        seen.insert(g);
    }
    // 500 uniform draws from 26,206 repeat about 5 times on average.
    assert!(seen.len() > 480, "{} distinct of 500", seen.len());
}

#[test]
fn mutate_changes_the_canonical_architecture() {
    for (tasks, ops) in [
        (&["cora"][..], OpsMode::Auto),
        (&["proteins"][..], OpsMode::Auto),
    ] {
        let s = space(tasks, ops);
        let proteins = s.ops_mode() == OpsMode::Proteins;
        for seed in 0..300u64 {
            let parent = s.sample(seed).unwrap();
            let child = s.mutate(&parent, seed ^ 0xABCD).unwrap();
            assert_eq!(child, s.mutate(&parent, seed ^ 0xABCD).unwrap());
            assert_ne!(child, parent);
            assert_eq!(s.canonical(&child).unwrap().genome.to_vec(), child);
            if proteins {
                assert!(
                    child[1..].iter().all(|o| PROTEINS_OPS.contains(o)),
                    "{child:?}"
                );
                s.evaluate(&request("proteins", &child)).unwrap();
            }
        }
        // Every available architecture has a neighbour (no dead ends), even non-canonical input.
        for k in 0..s.data.keys.len() {
            if s.is_available[k] {
                let g = s.data.key_genome[k];
                s.mutate(&g, k as u64).unwrap();
            }
        }
        s.mutate(&[3, GCN, GAT, SKIP, SAGE], 5).unwrap();
    }
    let s = space(&[], OpsMode::Auto);
    assert_eq!(
        s.mutate(&[0, 1, 2], 0).unwrap_err().kind,
        ErrorKind::INVALID_ARCHITECTURE
    );
}

#[test]
fn parse_inverts_canonical() {
    let s = space(&[], OpsMode::Auto);
    for k in 0..s.data.keys.len() {
        let a = s.arch_of_key(k);
        assert_eq!(s.parse(a.text.as_str()).unwrap(), a.genome.to_vec());
    }
    // Non-canonical text parses to the genome as written.
    assert_eq!(
        s.parse(" 0-0-1-2 | gcn, gat, skip, sage ").unwrap(),
        vec![3, GCN, GAT, SKIP, SAGE]
    );
    for (text, needle) in [
        ("0-0-1-2", "LINK|OP,OP,OP,OP"),
        ("0-2-1-0|gcn,gat,skip,sage", "link pattern `0-2-1-0`"),
        ("0-0-1-2|gcn,gat,skip", "expected 4 ops, found 3"),
        ("0-0-1-2|gcn,gat,skip,conv", "op 4 `conv`"),
        ("0-0-0-0|skip,skip,skip,skip", "every op is skip"),
    ] {
        let e = s.parse(text).unwrap_err();
        assert_eq!(e.kind, ErrorKind::INVALID_ARCHITECTURE);
        assert!(e.message().contains(needle), "{text}: {e}");
    }
}

#[test]
fn canonical_names_the_bad_gene() {
    let s = space(&[], OpsMode::Auto);
    let e = s.canonical(&[0, 1, 2, 3]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::INVALID_ARCHITECTURE);
    assert!(e.message().contains("5 genes"), "{e}");
    let e = s.canonical(&[0, 1, 9, 3, 4]).unwrap_err();
    assert!(e.message().contains("gene `op2`"), "{e}");
    assert!(e.message().contains("gat, gcn"), "{e}");
    let e = s.canonical(&[12, 1, 2, 3, 4]).unwrap_err();
    assert!(e.message().contains("gene `link`"), "{e}");
    assert!(e.message().contains("0-1-2-3"), "{e}");
}

#[test]
fn proteins_mode() {
    let auto = space(&["cora", "proteins"], OpsMode::Auto);
    assert_eq!(auto.ops_mode(), OpsMode::Proteins);
    assert_eq!(auto.available_len(), 2_021);
    assert_eq!(auto.describe().unwrap().size, 2_021);
    assert_eq!(auto.describe().unwrap().positions[1].choices, 9);
    // Forced proteins ops without the proteins task: the same 2,021 (the subset is exactly
    // the proteins table).
    let forced = space(&["cora"], OpsMode::Proteins);
    assert_eq!(forced.available_len(), 2_021);
    // `all` with proteins in the experiment still only samples what proteins has.
    let all = space(&["proteins"], OpsMode::All);
    assert_eq!(all.ops_mode(), OpsMode::All);
    assert_eq!(all.available_len(), 2_021);
    let plain = space(&["cora"], OpsMode::All);
    assert_eq!(plain.available_len(), 26_206);

    for seed in 0..300 {
        let g = auto.sample(seed).unwrap();
        assert!(g[1..].iter().all(|o| PROTEINS_OPS.contains(o)), "{g:?}");
        auto.evaluate(&request("proteins", &g)).unwrap();
        auto.evaluate(&request("cora", &g)).unwrap();
    }
    // An architecture with a non-proteins op has no proteins entry.
    let e = auto
        .evaluate(&request("proteins", &[0, GAT, GCN, GCN, GCN]))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::EVALUATION);
    assert!(e.message().contains("0-0-0-0|gat,gcn,gcn,gcn"), "{e}");
    assert!(e.message().contains("proteins"), "{e}");
    // The best metric is over what the experiment can reach.
    assert!(auto.best_metric("cora").unwrap() <= plain.best_metric("cora").unwrap());
}

#[test]
fn evaluate_errors() {
    let s = space(&[], OpsMode::Auto);
    let e = s.evaluate(&request("mnist", &[0, 1, 1, 1, 1])).unwrap_err();
    assert_eq!(e.kind, ErrorKind::UNKNOWN_TASK);
    assert!(
        e.message().contains("mnist") && e.message().contains("computers"),
        "{e}"
    );
    let e = s
        .evaluate(&request("cora", &[0, SKIP, SKIP, SKIP, SKIP]))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::EVALUATION);
    assert!(e.message().contains("0-0-0-0|skip,skip,skip,skip"), "{e}");
    let e = s.evaluate(&request("cora", &[0, 1, 1, 1, 10])).unwrap_err();
    assert_eq!(e.kind, ErrorKind::INVALID_ARCHITECTURE);
}

#[test]
fn missing_data_names_the_path_and_make_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut i = init(&["cora"]);
    i.data_dir = dir.path().to_string_lossy().as_ref().into();
    let e = err_of(NasBenchGraph::new(NasBenchGraphParams::default(), &i));
    assert_eq!(e.kind, ErrorKind::IO);
    let want = dir.path().join("nasbench-graph").join("nasbench-graph.bin");
    assert!(e.message().contains(&want.display().to_string()), "{e}");
    assert!(e.message().contains("make data"), "{e}");

    // Relative `data` is resolved against the experiment directory.
    i.base_dir = dir.path().to_string_lossy().as_ref().into();
    let p = NasBenchGraphParams {
        data: Some("sub/nbg.bin".into()),
        ops: OpsMode::Auto,
    };
    let e = err_of(NasBenchGraph::new(p, &i));
    let want = dir.path().join("sub/nbg.bin");
    assert!(e.message().contains(&want.display().to_string()), "{e}");
}

#[test]
fn relative_data_path_loads() {
    let file = data_file();
    let mut i = init(&["cora"]);
    i.base_dir = file.parent().unwrap().to_string_lossy().as_ref().into();
    let p = NasBenchGraphParams {
        data: Some("nasbench-graph.bin".into()),
        ops: OpsMode::Auto,
    };
    let s = NasBenchGraph::new(p, &i).unwrap();
    assert_eq!(s.data_path(), file.as_path());
}

#[test]
fn unknown_task_is_refused_up_front() {
    let e = err_of(NasBenchGraph::new(
        params(OpsMode::Auto),
        &init(&["cora", "Cora2"]),
    ));
    assert_eq!(e.kind, ErrorKind::UNKNOWN_TASK);
    assert!(e.message().contains("`Cora2`"), "{e}");
    assert!(e.message().contains(&TASKS.join(", ")), "{e}");
}

#[test]
fn malformed_files_are_data_errors_naming_the_file() {
    // Structure checks, on the version without a checksum (which would catch all of these first).
    let (bytes, _) = both_versions();
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated.bin",
            bytes[..bytes.len() / 2].to_vec(),
            "truncated",
        ),
        ("short.bin", bytes[..5].to_vec(), "truncated"),
        ("magic.bin", b"PK\x03\x04 not ours at all".to_vec(), "magic"),
        (
            "trailing.bin",
            [&bytes[..], b"x"].concat(),
            "after the end marker",
        ),
        (
            "version.bin",
            {
                let mut b = bytes.clone();
                b[8] = 3;
                b
            },
            "format version 3",
        ),
    ];
    for (name, content, needle) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let p = NasBenchGraphParams {
            data: Some(path.to_string_lossy().into_owned()),
            ops: OpsMode::Auto,
        };
        let e = err_of(NasBenchGraph::new(p, &init(&[])));
        assert_eq!(e.kind, ErrorKind::DATA, "{name}: {e}");
        assert!(
            e.message().contains(&path.display().to_string()),
            "{name}: {e}"
        );
        assert!(e.message().contains(needle), "{name}: {e}");
    }
}

/// The data file's bytes as version 1 (no checksum) and as version 2 (with its SHA-256), whichever
/// version the installed file is.
fn both_versions() -> (Vec<u8>, Vec<u8>) {
    let bytes = std::fs::read(data_file()).unwrap();
    let mut v1 = if bytes[8] == 2 {
        bytes[..bytes.len() - data::CHECKSUM_LEN].to_vec()
    } else {
        bytes
    };
    v1[8] = 1;
    let mut v2 = v1.clone();
    v2[8] = 2;
    let sum = data::checksum(&v2);
    v2.extend_from_slice(&sum);
    (v1, v2)
}

/// Byte offset of the first row of the first task (cora): its key index, then valid, test,
/// latency and parameters (f64 each).
fn first_row(bytes: &[u8]) -> usize {
    let u32_at = |p: usize| u32::from_le_bytes(bytes[p..p + 4].try_into().unwrap()) as usize;
    let mut p = 8 + 4;
    p += 4 + 4 * u32_at(p); // links
    let ops = u32_at(p);
    p += 4;
    for _ in 0..ops {
        p += 1 + bytes[p] as usize;
    }
    p += 4 + 4 * u32_at(p); // keys
    p += 4 + 4 * u32_at(p); // canonical map
    p += 4; // tasks
    p += 1 + bytes[p] as usize; // name
    p + 4 // row count
}

fn load_error(dir: &std::path::Path, name: &str, content: &[u8]) -> PluginError {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    let p = NasBenchGraphParams {
        data: Some(path.to_string_lossy().into_owned()),
        ops: OpsMode::Auto,
    };
    let e = err_of(NasBenchGraph::new(p, &init(&["cora"])));
    assert_eq!(e.kind, ErrorKind::DATA, "{name}: {e}");
    assert!(
        e.message().contains(&path.display().to_string()),
        "{name}: {e}"
    );
    e
}

#[test]
fn both_format_versions_load_and_a_flipped_bit_breaks_the_checksum() {
    let (v1, v2) = both_versions();
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [("v1.bin", &v1), ("v2.bin", &v2)] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let p = NasBenchGraphParams {
            data: Some(path.to_string_lossy().into_owned()),
            ops: OpsMode::Auto,
        };
        NasBenchGraph::new(p, &init(&["cora"])).unwrap();
    }
    // One low mantissa bit of a validation accuracy: still in range, caught by the checksum.
    let at = first_row(&v2) + 4;
    let mut flipped = v2.clone();
    flipped[at] ^= 1;
    let e = load_error(dir.path(), "flipped.bin", &flipped);
    assert!(e.message().contains("SHA-256"), "{e}");
    assert!(e.message().contains("make data"), "{e}");
}

#[test]
fn metrics_outside_the_benchmark_range_are_refused() {
    let (v1, _) = both_versions();
    let dir = tempfile::tempdir().unwrap();
    let row = first_row(&v1);
    let cases: [(&str, usize, f64, &str); 5] = [
        (
            "huge.bin",
            4,
            1.43e308,
            "validation accuracy 1.43e308 is outside [0, 1]",
        ),
        (
            "negative.bin",
            12,
            -0.5,
            "test accuracy -5e-1 is outside [0, 1]",
        ),
        (
            "nan.bin",
            4,
            f64::NAN,
            "validation accuracy NaN is outside [0, 1]",
        ),
        ("percent.bin", 4, 81.9, "outside [0, 1]"),
        (
            "latency.bin",
            20,
            f64::INFINITY,
            "latency inf is not a finite number",
        ),
    ];
    for (name, field, value, needle) in cases {
        let mut bytes = v1.clone();
        bytes[row + field..row + field + 8].copy_from_slice(&value.to_le_bytes());
        let e = load_error(dir.path(), name, &bytes);
        assert!(e.message().contains(needle), "{name}: {e}");
        assert!(e.message().contains("task cora"), "{name}: {e}");
    }
}

#[test]
fn params_parse_and_refuse_unknown_keys() {
    let p: NasBenchGraphParams = parse_params("ops = \"proteins\"\ndata = \"x.bin\"").unwrap();
    assert_eq!(p.ops, OpsMode::Proteins);
    assert_eq!(p.data.as_deref(), Some("x.bin"));
    let p: NasBenchGraphParams = parse_params("").unwrap();
    assert_eq!(p.ops, OpsMode::Auto);
    assert!(p.data.is_none());
    let e = parse_params::<NasBenchGraphParams>("opz = \"all\"").unwrap_err();
    assert!(e.message().contains("opz"), "{e}");
    let e = parse_params::<NasBenchGraphParams>("ops = \"some\"").unwrap_err();
    assert!(e.message().contains("some"), "{e}");
}

#[test]
fn registers_with_its_capabilities() {
    let infos = PluginSet::from_register(register).infos();
    assert_eq!(infos.len(), 1);
    let i = &infos[0];
    assert_eq!(i.name.as_str(), "nasbench-graph");
    for c in [
        capability::BENCHMARK,
        capability::TEST_METRIC,
        capability::SYMMETRIES,
    ] {
        assert!(i.has(c), "{c}");
    }
}

/// Prints load time and lookup throughput (`cargo test --release -p xnas-space-nasbench-graph
/// timing -- --nocapture` for meaningful numbers).
#[test]
fn timing() {
    let t = Instant::now();
    let d = Data::load(&data_file()).unwrap();
    let read = t.elapsed();
    assert_eq!(d.keys.len(), 26_206);
    let t = Instant::now();
    let s = space(&TASKS, OpsMode::Auto);
    let load = t.elapsed();
    let genomes: Vec<Vec<u32>> = (0..1000).map(|i| s.sample(i).unwrap()).collect();
    let t = Instant::now();
    let mut sum = 0.0;
    let n = 100_000;
    for i in 0..n {
        let r = s
            .evaluate(&request(TASKS[i % 9], &genomes[i % genomes.len()]))
            .unwrap();
        sum += r.metric;
    }
    let per = t.elapsed().as_secs_f64() / n as f64;
    assert!(sum > 0.0);
    println!(
        "nasbench-graph: file read and checked in {:.1} ms; space with all 9 tasks created in \
         {:.1} ms; evaluate {:.2} us/lookup",
        read.as_secs_f64() * 1e3,
        load.as_secs_f64() * 1e3,
        per * 1e6
    );
}

#[test]
fn target_mode_lets_sources_not_shrink_the_search() {
    // Leave-one-task-out with proteins among the sources: the target's table decides.
    let t = space(&["cora", "citeseer", "proteins"], OpsMode::Target);
    assert_eq!(t.ops_mode(), OpsMode::All);
    assert_eq!(t.available_len(), 26_206);
    // With proteins as the target, its ops and table decide.
    let p = space(&["proteins", "cora"], OpsMode::Target);
    assert_eq!(p.ops_mode(), OpsMode::Proteins);
    assert_eq!(p.available_len(), 2_021);
}

#[test]
fn canonical_refuses_what_the_experiment_cannot_evaluate() {
    let p = space(&["proteins"], OpsMode::Auto);
    let e = p.canonical(&[8, GAT, GCN, GIN, SAGE]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::INVALID_ARCHITECTURE);
    assert!(e.message.contains("outside proteins"), "{}", e.message);
    assert!(p.canonical(&[8, GCN, SAGE, GCN, SAGE]).is_ok());
}
