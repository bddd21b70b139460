//! Similarity plugins through the real binary and real data: `landmark-archs` on NAS-Bench-Graph
//! (sources ranked by 1 − Spearman of the landmarks' recorded metrics, the target's landmark
//! evaluations counted against the budget and told to every optimizer, the chosen sources'
//! landmark results kept as source knowledge), `random` as the control, `task2vec` and
//! `landmark-net` on the image tasks of `make images`, `xnas similarity`, and bad input.

use std::collections::BTreeMap;
use xnas_core::spearman;
use xnas_tests::*;

const SOURCES: &str = r#"["citeseer", "pubmed", "photo", "computers", "proteins"]"#;

fn nbg_experiment(optimizer: &str, similarity: &str, evaluations: u64, seed: u64) -> String {
    nasbench_graph_data();
    format!(
        r#"[experiment]
name = "sim"
seed = {seed}
budget = {{ evaluations = {evaluations} }}
batch_size = 4
[search_space]
plugin = "nasbench-graph"
{optimizer}
{similarity}
[tasks]
target = "cora"
sources = {SOURCES}
source_samples = 4
"#
    )
}

const LANDMARKS: &str =
    "[similarity]\nplugin = \"landmark-archs\"\ntop_k = 2\n[similarity.params]\nk = 6\n";

#[test]
fn landmark_archs_ranks_sources_by_the_rank_correlation_of_recorded_results() {
    let sb = Sandbox::new();
    // The target's nine operations: proteins (five) has entries for too few landmarks.
    sb.write(
        "exp.toml",
        &nbg_experiment("[optimizer]\nplugin = \"random\"", LANDMARKS, 14, 1).replace(
            "plugin = \"nasbench-graph\"\n",
            "plugin = \"nasbench-graph\"\n[search_space.params]\nops = \"target\"\n",
        ),
    );
    sb.run(&["--quiet", "run", "exp.toml", "--out", "run"])
        .expect_code(0);
    let run = sb.path().join("run");
    let trials = read_trials(&run);
    let target: Vec<&Row> = trials.iter().filter(|t| t.role == "target").collect();
    assert_eq!(
        target.len(),
        14,
        "the 6 landmark evaluations on the target count against the budget of 14"
    );
    let landmarks: Vec<String> = target[..6].iter().map(|t| t.arch.clone()).collect();

    // Each source evaluated the same six architectures, in the same order.
    let mut per_task: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
    per_task.insert(
        "cora".into(),
        target[..6].iter().map(|t| t.metric).collect(),
    );
    for task in ["citeseer", "pubmed", "photo", "computers", "proteins"] {
        let rows: Vec<&Row> = trials
            .iter()
            .filter(|t| t.role == "source" && t.task == task && landmarks.contains(&t.arch))
            .collect();
        let archs: Vec<String> = rows.iter().take(6).map(|t| t.arch.clone()).collect();
        assert_eq!(archs, landmarks, "{task}");
        per_task.insert(task.into(), rows[..6].iter().map(|t| t.metric).collect());
    }

    // The recorded distances are 1 − Spearman of those results; proteins (which has no entries
    // for most of the target's operations) is ranked last, with the reason.
    let sim = read_json(&run.join("similarity.json"));
    assert_eq!(sim["similarity"], "landmark-archs");
    assert_eq!(sim["landmarks"], 6);
    let distances = sim["distances"].as_array().unwrap();
    assert_eq!(distances.len(), 5);
    assert_eq!(
        distances[4]["task"], "proteins",
        "not embedded: ranked last"
    );
    assert!(distances[4]["distance"].is_null());
    let cora: Vec<f64> = per_task["cora"].iter().map(|m| m.unwrap()).collect();
    let mut last = f64::NEG_INFINITY;
    for d in distances {
        let task = d["task"].as_str().unwrap();
        let Some(dist) = d["distance"].as_f64() else {
            assert_eq!(task, "proteins");
            assert!(
                sim["not_embedded"]["proteins"]
                    .as_str()
                    .unwrap()
                    .contains("at least 3 are needed"),
                "{sim}"
            );
            continue;
        };
        let (x, y): (Vec<f64>, Vec<f64>) = cora
            .iter()
            .zip(&per_task[task])
            .filter_map(|(a, b)| b.map(|b| (*a, b)))
            .unzip();
        let expected = 1.0 - spearman(&x, &y);
        assert!(
            (dist - expected).abs() < 1e-9,
            "{task}: {dist} vs {expected}"
        );
        assert!(dist >= last, "sorted by distance");
        last = dist;
    }
    let chosen: Vec<&str> = sim["chosen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(chosen.len(), 2);
    assert_eq!(chosen[0], distances[0]["task"]);
    assert_eq!(chosen[1], distances[1]["task"]);

    // The chosen sources' landmark results are source knowledge, next to the samples.
    let sources = read_json(&run.join("sources.json"));
    let origins = sources["origins"].as_array().unwrap();
    let lm = origins
        .iter()
        .find(|o| o["origin"] == "landmarks")
        .expect("landmarks origin");
    let counts = lm["counts"].as_object().unwrap();
    assert_eq!(counts.len(), 2, "{lm}");
    for c in &chosen {
        assert_eq!(counts[*c], 6, "{lm}");
    }
}

#[test]
fn every_optimizer_is_told_the_landmark_results_first() {
    for (name, section) in [
        ("random", "[optimizer]\nplugin = \"random\""),
        ("evolution", "[optimizer]\nplugin = \"evolution\"\n[optimizer.params]\npopulation = 4\nsample_size = 2"),
        ("nao", "[optimizer]\nplugin = \"nao\"\n[optimizer.params]\nepochs_first = 5\nepochs = 2"),
        ("rl-controller", "[optimizer]\nplugin = \"rl-controller\""),
        (
            "xfer(nao)",
            "[optimizer]\nplugin = \"nao\"\n[optimizer.params]\nepochs_first = 5\nepochs = 2\n[transfer]\nplugin = \"xfer\"",
        ),
    ] {
        let sb = Sandbox::new();
        sb.write("exp.toml", &nbg_experiment(section, LANDMARKS, 12, 4));
        let out = sb.run(&["-v", "--quiet", "run", "exp.toml", "--out", "run"]);
        out.expect_code(0);
        let trials = read_trials(&sb.path().join("run"));
        let target = trials.iter().filter(|t| t.role == "target").count();
        assert_eq!(target, 12, "{name}");
        // Resuming the finished run replays the landmark batch (told, not asked) and the search.
        sb.run(&["--quiet", "resume", "run"]).expect_code(0);
        assert_eq!(read_trials(&sb.path().join("run")), trials, "{name}");
    }
}

#[test]
fn same_seed_same_sources_and_trials_whatever_the_workers() {
    let sb = Sandbox::new();
    sb.write(
        "exp.toml",
        &nbg_experiment("[optimizer]\nplugin = \"evolution\"", LANDMARKS, 12, 9),
    );
    sb.run(&[
        "--quiet",
        "run",
        "exp.toml",
        "--out",
        "one",
        "--workers",
        "1",
    ])
    .expect_code(0);
    sb.run(&[
        "--quiet",
        "run",
        "exp.toml",
        "--out",
        "two",
        "--workers",
        "2",
    ])
    .expect_code(0);
    assert_eq!(
        read_trials(&sb.path().join("one")),
        read_trials(&sb.path().join("two"))
    );
    assert_eq!(
        read_json(&sb.path().join("one/similarity.json")),
        read_json(&sb.path().join("two/similarity.json"))
    );
}

#[test]
fn random_similarity_keeps_k_random_sources_that_change_with_the_seed() {
    let mut choices = std::collections::BTreeSet::new();
    for seed in 0..4 {
        let sb = Sandbox::new();
        sb.write(
            "exp.toml",
            &nbg_experiment(
                "[optimizer]\nplugin = \"random\"",
                "[similarity]\nplugin = \"random\"\ntop_k = 2",
                4,
                seed,
            ),
        );
        sb.run(&["--quiet", "run", "exp.toml", "--out", "run"])
            .expect_code(0);
        let sim = read_json(&sb.path().join("run/similarity.json"));
        let chosen: Vec<String> = sim["chosen"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        assert_eq!(chosen.len(), 2);
        // No landmarks: the whole budget goes to the search.
        let trials = read_trials(&sb.path().join("run"));
        assert_eq!(trials.iter().filter(|t| t.role == "target").count(), 4);
        let sampled: std::collections::BTreeSet<&str> = trials
            .iter()
            .filter(|t| t.role == "source")
            .map(|t| t.task.as_str())
            .collect();
        assert_eq!(
            sampled,
            chosen.iter().map(String::as_str).collect(),
            "only the chosen sources are sampled"
        );
        choices.insert(chosen);
    }
    assert!(choices.len() >= 2, "four seeds drew {choices:?}");
}

#[test]
fn landmarks_beyond_the_budget_are_refused() {
    let sb = Sandbox::new();
    sb.write(
        "exp.toml",
        &nbg_experiment("[optimizer]\nplugin = \"random\"", LANDMARKS, 5, 0),
    );
    let out = sb.run(&["--quiet", "run", "exp.toml", "--out", "run"]);
    out.expect_code(2);
    assert!(
        out.stderr().contains("6 landmark architectures") && out.stderr().contains("lower its `k`"),
        "{}",
        out.stderr()
    );
}

#[test]
#[allow(clippy::needless_range_loop)] // a matrix's symmetry reads clearest by index
fn similarity_command_writes_the_matrix_and_heat_map() {
    let sb = Sandbox::new();
    // With the target's nine operations, proteins (five) has entries for too few landmarks.
    sb.write(
        "exp.toml",
        &nbg_experiment("[optimizer]\nplugin = \"random\"", LANDMARKS, 20, 0).replace(
            "plugin = \"nasbench-graph\"\n",
            "plugin = \"nasbench-graph\"\n[search_space.params]\nops = \"target\"\n",
        ),
    );
    let out = sb.run(&["similarity", "exp.toml", "--out", "sim"]);
    out.expect_code(0);
    assert!(
        out.stdout().contains("distances (landmark-archs"),
        "{}",
        out.stdout()
    );
    assert!(
        out.stdout().contains("not embedded: proteins"),
        "{}",
        out.stdout()
    );
    let m = read_json(&sb.path().join("sim/similarity.json"));
    let tasks = m["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 6);
    let d = m["distances"].as_array().unwrap();
    for i in 0..5 {
        assert_eq!(d[i][i].as_f64(), Some(0.0));
        for j in 0..5 {
            assert_eq!(d[i][j], d[j][i]);
            assert!((0.0..=2.0).contains(&d[i][j].as_f64().unwrap()));
        }
        assert!(d[i][5].is_null(), "proteins has no distance");
    }
    let png = std::fs::read(sb.path().join("sim/heatmap.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let csv = std::fs::read_to_string(sb.path().join("sim/distances.csv")).unwrap();
    assert!(csv.starts_with("task,cora,citeseer,"), "{csv}");

    // One process writes an output folder at a time: while another holds its lock, a second
    // `similarity` into it is refused with exit 2 and leaves what is there untouched.
    let lock = sb.path().join("sim/xnas.lock");
    // One process (the shell becomes `sleep`, keeping the locked descriptor): killed, it frees
    // the lock.
    let mut holder = std::process::Command::new("sh")
        .args(["-c", "exec 9>>\"$0\" && flock 9 && exec sleep 30"])
        .arg(&lock)
        .spawn()
        .unwrap();
    let held = || {
        !std::process::Command::new("flock")
            .args(["-n", lock.to_str().unwrap(), "true"])
            .status()
            .unwrap()
            .success()
    };
    while !held() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = sb.run(&["similarity", "exp.toml", "--out", "sim"]);
    let _ = holder.kill();
    let _ = holder.wait();
    out.expect_code(2);
    assert!(
        out.stderr().contains("is in use by another xnas"),
        "{}",
        out.stderr()
    );
    assert_eq!(read_json(&sb.path().join("sim/similarity.json")), m);

    // Without a [similarity] section the command says what to add.
    sb.write(
        "plain.toml",
        &nbg_experiment("[optimizer]\nplugin = \"random\"", "", 20, 0),
    );
    let out = sb.run(&["similarity", "plain.toml"]);
    out.expect_code(2);
    assert!(
        out.stderr().contains("has no [similarity] section"),
        "{}",
        out.stderr()
    );
}

/// Small, fast Task2Vec settings; the probe is kept in the sandbox.
fn image_experiment(similarity: &str) -> String {
    format!(
        r#"[experiment]
name = "img"
seed = 0
budget = {{ evaluations = 2 }}
[search_space]
plugin = "nasnet"
[search_space.params]
ops = "enas"
cells = 1
filters = 4
epochs = 1
threads = 1
[search_space.params.tasks.mnist-5k]
preset = "mnist-5k"
limit_train = 800
[search_space.params.tasks.fashion-mnist]
preset = "fashion-mnist"
limit_train = 800
[search_space.params.tasks.digits]
preset = "digits"
[optimizer]
plugin = "random"
{similarity}
[tasks]
target = "mnist-5k"
sources = ["fashion-mnist", "digits"]
"#
    )
}

const TASK2VEC: &str = r#"[similarity]
plugin = "task2vec"
top_k = 1
[similarity.params]
probe = { preset = "fashion-mnist", limit_train = 3000 }
probe_samples = 3000
probe_epochs = 1
probe_dir = "probes"
max_samples = 300
fisher_samples = 640
threads = 1
"#;

#[test]
#[allow(clippy::needless_range_loop)] // a matrix's symmetry reads clearest by index
fn task2vec_embeds_real_image_tasks_with_one_saved_probe() {
    let sb = Sandbox::new();
    sb.write("exp.toml", &image_experiment(TASK2VEC));
    let first = sb.run(&["-v", "similarity", "exp.toml", "--out", "a"]);
    first.expect_code(0);
    assert!(
        first
            .stderr()
            .contains("task2vec: training the probe on 3000 images"),
        "{}",
        first.stderr()
    );
    let probes: Vec<_> = std::fs::read_dir(sb.path().join("probes"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(probes.iter().any(|p| p.ends_with(".ot")), "{probes:?}");
    let a = read_json(&sb.path().join("a/similarity.json"));
    let d = a["distances"].as_array().unwrap();
    for i in 0..3 {
        assert_eq!(d[i][i].as_f64(), Some(0.0));
        for j in 0..3 {
            assert_eq!(d[i][j], d[j][i]);
            if i != j {
                let x = d[i][j].as_f64().unwrap();
                assert!(x > 0.0 && x < 1.0, "d_sym in (0, 1): {x}");
            }
        }
    }
    // One value per probe filter: 32 + 64 + 64 + 128 conv filters and as many BN scales.
    for e in a["embeddings"].as_array().unwrap() {
        assert_eq!(e.as_array().unwrap().len(), 2 * (32 + 64 + 64 + 128));
    }

    // The second time the saved probe is reused, and the same seed gives the same matrix.
    let second = sb.run(&["-v", "similarity", "exp.toml", "--out", "b"]);
    second.expect_code(0);
    assert!(
        second.stderr().contains("probe loaded"),
        "{}",
        second.stderr()
    );
    let b = read_json(&sb.path().join("b/similarity.json"));
    assert_eq!(a["distances"], b["distances"]);

    // In a run it ranks the sources and keeps the nearest; the space trains the target's cells.
    sb.run(&["--quiet", "run", "exp.toml", "--out", "run"])
        .expect_code(0);
    let sim = read_json(&sb.path().join("run/similarity.json"));
    let nearest = if d[0][1].as_f64() <= d[0][2].as_f64() {
        "fashion-mnist"
    } else {
        "digits"
    };
    assert_eq!(sim["chosen"], serde_json::json!([nearest]), "{sim}");
}

#[test]
fn landmark_net_scores_task_difficulty_normalised_for_chance() {
    let sb = Sandbox::new();
    sb.write(
        "exp.toml",
        &image_experiment(
            "[similarity]\nplugin = \"landmark-net\"\n[similarity.params]\nepochs = 1\nmax_train = 600\nmax_valid = 300\nrepeats = 2\nthreads = 1\n",
        ),
    );
    let out = sb.run(&["similarity", "exp.toml", "--out", "sim"]);
    out.expect_code(0);
    let m = read_json(&sb.path().join("sim/similarity.json"));
    let e = m["embeddings"].as_array().unwrap();
    let dcn: Vec<f64> = e.iter().map(|v| v[0].as_f64().unwrap()).collect();
    for x in &dcn {
        assert!(
            *x > 0.0 && *x <= 1.0,
            "a trained network beats chance: {dcn:?}"
        );
    }
    let d = m["distances"].as_array().unwrap();
    assert!((d[0][1].as_f64().unwrap() - (dcn[0] - dcn[1]).abs()).abs() < 1e-6);
}

#[test]
fn bad_similarity_settings_name_the_problem() {
    let sb = Sandbox::new();
    for (plugin, params, expect) in [
        (
            "task2vec",
            "channels = 2",
            "`channels = 2`: the probe takes 1 (grey) or 3",
        ),
        (
            "task2vec",
            "probe_epochs = 0",
            "`probe_epochs = 0`: expected at least 1",
        ),
        (
            "task2vec",
            "probe_layers = 3",
            "unknown field `probe_layers`",
        ),
        (
            "landmark-net",
            "learning_rate = 0.0",
            "`learning_rate = 0`: expected a positive",
        ),
        (
            "landmark-archs",
            "k = 2",
            "`k = 2`: a rank correlation needs at least 3",
        ),
    ] {
        let text = image_experiment(&format!(
            "[similarity]\nplugin = \"{plugin}\"\n[similarity.params]\n{params}\n"
        ));
        let line = text
            .lines()
            .position(|l| l == params)
            .expect("the key's line")
            + 1;
        sb.write("exp.toml", &text);
        let out = sb.run(&["similarity", "exp.toml"]);
        out.expect_code(2);
        assert!(out.stderr().contains(expect), "{params}: {}", out.stderr());
        // `xnas validate` refuses the same, at the key's line.
        let out = sb.run(&["validate", "exp.toml"]);
        out.expect_code(2);
        let e = out.stderr();
        assert!(e.contains(expect), "{params}: {e}");
        assert!(
            e.starts_with(&format!("error: exp.toml:{line}:1:")),
            "{params}: {e}"
        );
    }
    // A task with no dataset anywhere is named, with the table to add.
    let text = image_experiment("[similarity]\nplugin = \"task2vec\"\n").replace(
        r#"sources = ["fashion-mnist", "digits"]"#,
        r#"sources = ["fashion-mnist", "no-such-task"]"#,
    );
    sb.write("exp.toml", &text);
    let out = sb.run(&["validate", "exp.toml"]);
    out.expect_code(2);
    assert!(out.stderr().contains("no-such-task"), "{}", out.stderr());
}

/// `landmark-archs` on a trainable space: the landmarks are NASNet cells trained on each image
/// task, the target's count against the budget and the chosen source's join the source knowledge.
#[test]
fn landmark_archs_trains_its_landmarks_on_a_trainable_space() {
    let sb = Sandbox::new();
    let text = image_experiment(
        "[similarity]\nplugin = \"landmark-archs\"\ntop_k = 1\n[similarity.params]\nk = 3\n",
    )
    .replace("evaluations = 2", "evaluations = 4")
    .replace(
        "[search_space.params.tasks.digits]\npreset = \"digits\"",
        "[search_space.params.tasks.digits]\npreset = \"digits\"\nlimit_train = 400",
    );
    let run = sb.run_experiment(&text, 2);
    let trials = read_trials(&run);
    let target: Vec<&Row> = trials.iter().filter(|t| t.role == "target").collect();
    assert_eq!(target.len(), 4, "3 landmarks + 1 searched");
    for t in &target[..3] {
        let m = t
            .metric
            .expect("a trained landmark has a validation accuracy");
        assert!(m > 0.0 && m <= 1.0, "{m}");
    }
    let sim = read_json(&run.join("similarity.json"));
    assert_eq!(sim["landmarks"], 3);
    let chosen = sim["chosen"][0].as_str().unwrap().to_string();
    let sources = read_json(&run.join("sources.json"));
    let lm = sources["origins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["origin"] == "landmarks")
        .expect("landmarks origin");
    assert_eq!(lm["counts"][chosen.as_str()], 3, "{lm}");
}
