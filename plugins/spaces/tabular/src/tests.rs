use super::*;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use xnas_core::abi_stable::std_types::ROption;
use xnas_core::{parse_params, ErrorKind, PluginKind};

/// The main test table: choices [2, 3] (6 genomes). t1 has every genome, t2 only 0-0, 0-1 and
/// 1-1, t3 only 1-2; `test_metric` is empty on some rows and `cost` on one.
const BENCH: &str = "\
task,genome,metric,test_metric,cost
t1,0-0,1.0,0.9,10
t1,0-1,2.0,1.9,20
t1,0-2,3.0,,30
t1,1-0,4.0,3.9,40
t1,1-1,5.5,5.0,50
t1,1-2,0.5,0.4,5
t2,0-0,-1.0,,1
t2,0-1,-2.0,,1
t2,1-1,-0.5,,1
t3,1-2,7.0,,
";

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write table");
        path
    }

    fn base(&self) -> String {
        self.dir.path().display().to_string()
    }

    /// Builds a space from TOML params text (table paths relative to the temp dir).
    fn space(&self, params: &str, tasks: &[&str]) -> PluginResult<TabularSpace> {
        let params: TabularParams = parse_params(params)?;
        TabularSpace::new(params, &init(tasks, &self.base()))
    }

    /// The error of loading `text` as `bad.csv` with choices [2, 3].
    fn load_error(&self, text: &str) -> PluginError {
        self.write("bad.csv", text);
        match self.space("choices = [2, 3]\ntable = \"bad.csv\"", &[]) {
            Ok(_) => panic!("loading should fail:\n{text}"),
            Err(e) => e,
        }
    }

    fn bad_path(&self) -> String {
        self.dir.path().join("bad.csv").display().to_string()
    }
}

fn init(tasks: &[&str], base_dir: &str) -> SpaceInit {
    SpaceInit {
        tasks: tasks.iter().map(|t| RString::from(*t)).collect(),
        base_dir: base_dir.into(),
        data_dir: RString::new(),
    }
}

fn request(task: &str, genome: &[u32]) -> EvalRequest {
    EvalRequest {
        trial_id: 0,
        task: task.into(),
        genome: genome.to_vec().into(),
        seed: 0,
        budget: ROption::RNone,
    }
}

fn bench(tasks: &[&str]) -> (Fixture, TabularSpace) {
    let fx = Fixture::new();
    fx.write("bench.csv", BENCH);
    let space = fx
        .space("choices = [2, 3]\ntable = \"bench.csv\"", tasks)
        .expect("bench loads");
    (fx, space)
}

fn assert_err(e: &PluginError, kind: ErrorKind, parts: &[&str]) {
    assert_eq!(e.kind, kind, "wrong kind for: {e}");
    for part in parts {
        assert!(e.message().contains(part), "`{e}` lacks `{part}`");
    }
}

// --- parameters -------------------------------------------------------------------------------

#[test]
fn params_defaults_and_checks() {
    let p: TabularParams = parse_params("choices = [4, 4, 4]\ntable = \"x.csv\"").unwrap();
    assert_eq!(p.names, ["g0", "g1", "g2"]);
    assert!(p.labels.is_none());

    let cases = [
        ("table = \"x.csv\"", "choices"),
        ("choices = [2]", "table"),
        ("choices = []\ntable = \"x.csv\"", "`choices` is empty"),
        ("choices = [2, 0]\ntable = \"x.csv\"", "`choices[1]` is 0"),
        ("choices = [2]\ntable = \"x.csv\"\nseed = 3", "seed"),
        (
            "choices = [2, 2]\nnames = [\"a\"]\ntable = \"x.csv\"",
            "`names` has 1 entries but `choices` has 2",
        ),
        (
            "choices = [2, 2]\nnames = [\"a\", \"a\"]\ntable = \"x.csv\"",
            "`names` contains `a` twice",
        ),
        (
            "choices = [2, 2]\nlabels = [[\"a\", \"b\"]]\ntable = \"x.csv\"",
            "`labels` has 1 lists",
        ),
        (
            "choices = [2, 3]\nlabels = [[\"a\", \"b\"], [\"x\", \"y\"]]\ntable = \"x.csv\"",
            "`labels[1]` (position `g1`) has 2 labels but `choices[1]` is 3",
        ),
        (
            "choices = [2]\nlabels = [[\"a\", \"b-c\"]]\ntable = \"x.csv\"",
            "`b-c`",
        ),
        (
            "choices = [2]\nlabels = [[\"a\", \"a\"]]\ntable = \"x.csv\"",
            "contains `a` twice",
        ),
        (
            "choices = [65536, 65536, 65536, 65536, 2]\ntable = \"x.csv\"",
            "2^64",
        ),
    ];
    for (text, part) in cases {
        let e = parse_params::<TabularParams>(text).expect_err(text);
        assert_err(&e, ErrorKind::INVALID_PARAMS, &[part]);
    }
}

// --- loading errors ---------------------------------------------------------------------------

#[test]
fn missing_file_names_the_path() {
    let fx = Fixture::new();
    let e = fx
        .space("choices = [2, 3]\ntable = \"nowhere.csv\"", &[])
        .unwrap_err();
    let path = fx.dir.path().join("nowhere.csv").display().to_string();
    assert_err(&e, ErrorKind::IO, &["cannot open table", &path]);
}

#[test]
fn header_errors_name_file_line_and_columns() {
    let fx = Fixture::new();
    let file = fx.bad_path();
    let at = format!("table {file} line 1");

    let e = fx.load_error("task,genome,metric,extra,other\nt,0-0,1,2,3\n");
    assert_err(&e, ErrorKind::DATA, &[&at, "`extra`", "`other`"]);

    let e = fx.load_error("task,genome,score\nt,0-0,1\n");
    assert_err(&e, ErrorKind::DATA, &[&at, "missing column `metric`"]);
    assert!(e.message().contains("`score`"), "{e}");

    let e = fx.load_error("task,genome,metric,metric\nt,0-0,1,1\n");
    assert_err(&e, ErrorKind::DATA, &[&at, "`metric` twice"]);

    let e = fx.load_error("");
    assert_err(&e, ErrorKind::DATA, &[&file, "missing columns"]);

    let e = fx.load_error("task,genome,metric\n");
    assert_err(&e, ErrorKind::DATA, &[&file, "no rows"]);
}

#[test]
fn row_errors_name_file_and_line() {
    let fx = Fixture::new();
    let file = fx.bad_path();
    let head = "task,genome,metric,test_metric,cost\nt,0-0,1,1,1\n";
    let cases: [(&str, &[&str]); 10] = [
        (
            "t,0-1-2,1,1,1\n",
            &[
                "line 3",
                "bad genome `0-1-2`",
                "has 3 positions, the space has 2",
            ],
        ),
        (
            "t,1,1,1,1\n",
            &["line 3", "has 1 positions, the space has 2"],
        ),
        (
            "t,2-0,1,1,1\n",
            &["line 3", "position 0 (`g0`) has value 2", "0..=1"],
        ),
        ("t,0-x,1,1,1\n", &["line 3", "`x` is not a number"]),
        (
            "t,0-1,abc,1,1\n",
            &["line 3", "metric `abc` is not a number"],
        ),
        (
            "t,0-1,NaN,1,1\n",
            &["line 3", "metric `NaN` is not a finite number"],
        ),
        (
            "t,0-1,1,x,1\n",
            &["line 3", "test_metric `x` is not a number"],
        ),
        ("t,0-1,1,1,-5\n", &["line 3", "cost `-5` is negative"]),
        (
            "t,0-1,1,1\n",
            &["line 3", "the row has 4 fields, the header has 5"],
        ),
        (
            "t,0-1,1,1,1\nu,0-0,1,1,1\nt,0-0,2,2,2\n",
            &[
                "line 5",
                "duplicate row for task `t` and genome `0-0` (first at line 2)",
            ],
        ),
    ];
    for (rows, parts) in cases {
        let e = fx.load_error(&format!("{head}{rows}"));
        let at = format!("table {file} line");
        assert_err(&e, ErrorKind::DATA, &[&at]);
        assert_err(&e, ErrorKind::DATA, parts);
    }
}

#[test]
fn line_numbers_are_true_for_crlf_files() {
    let fx = Fixture::new();
    for (ending, name) in [("\r\n", "CRLF"), ("\n", "LF")] {
        let text = ["task,genome,metric", "t,0-0,1", "t,0-1,2", "t,1-0,NaN", ""].join(ending);
        let e = fx.load_error(&text);
        assert_err(
            &e,
            ErrorKind::DATA,
            &["line 4", "metric `NaN` is not a finite number"],
        );
        let text = ["task,genome,metric", "t,0-0,1", "t,0-0,2", ""].join(ending);
        let e = fx.load_error(&text);
        assert!(
            e.message().contains("line 3") && e.message().contains("first at line 2"),
            "{name}: {e}"
        );
    }
}

#[test]
fn a_file_cut_in_a_row_is_refused_and_a_complete_last_row_is_fine() {
    let fx = Fixture::new();
    let head = "task,genome,metric,test_metric,cost\nt,0-0,1,1,1\n";
    for cut in [
        "t,0-1,0.5,0.4,",
        "t,0-1,0.5",
        "t,0-1,0.",
        "t,0-1,0.5,1e-",
        "t,0-",
    ] {
        let e = fx.load_error(&format!("{head}{cut}"));
        assert_err(
            &e,
            ErrorKind::DATA,
            &[&fx.bad_path(), "line 3", "ends in the middle of a row", cut],
        );
    }
    fx.write("ok.csv", &format!("{head}t,0-1,0.5,0.4,3"));
    fx.space("choices = [2, 3]\ntable = \"ok.csv\"", &[])
        .unwrap();
}

#[test]
fn unknown_experiment_task_lists_the_tables_tasks() {
    let fx = Fixture::new();
    let path = fx.write("bench.csv", BENCH).display().to_string();
    let e = fx
        .space(
            "choices = [2, 3]\ntable = \"bench.csv\"",
            &["t1", "nope", "zzz"],
        )
        .unwrap_err();
    assert_err(
        &e,
        ErrorKind::UNKNOWN_TASK,
        &["`nope`", "`zzz`", &path, "t1, t2, t3"],
    );
    assert!(!e.message().contains("`t1`"), "{e}");
}

#[test]
fn no_genome_common_to_all_tasks_is_an_error() {
    let fx = Fixture::new();
    fx.write("bench.csv", "task,genome,metric\na,0-0,1\nb,0-1,1\n");
    let e = fx
        .space("choices = [2, 3]\ntable = \"bench.csv\"", &["a", "b"])
        .unwrap_err();
    assert_err(&e, ErrorKind::DATA, &["no genome", "a, b"]);
}

#[test]
fn table_path_resolution() {
    let fx = Fixture::new();
    std::fs::create_dir(fx.dir.path().join("sub")).unwrap();
    let abs = fx.write("sub/bench.csv", BENCH);
    let space = fx
        .space("choices = [2, 3]\ntable = \"sub/bench.csv\"", &["t1"])
        .expect("relative to base_dir");
    assert_eq!(space.available_count(), 6);
    // An absolute path ignores base_dir.
    let params: TabularParams = parse_params(&format!(
        "choices = [2, 3]\ntable = {:?}",
        abs.display().to_string()
    ))
    .unwrap();
    let space = TabularSpace::new(params, &init(&["t1"], "/definitely/not/here")).unwrap();
    assert_eq!(space.available_count(), 6);
}

// --- sampling and mutation ----------------------------------------------------------------------

#[test]
fn sample_is_uniform_over_genomes_with_rows_for_every_task() {
    let (_fx, space) = bench(&["t1", "t2"]);
    assert_eq!(space.required_tasks(), ["t1", "t2"]);
    assert_eq!(space.available_count(), 3);
    let mut counts: HashMap<Vec<u32>, u32> = HashMap::new();
    for seed in 0..3000 {
        *counts.entry(space.sample(seed).unwrap()).or_default() += 1;
    }
    let keys: HashSet<Vec<u32>> = counts.keys().cloned().collect();
    let want: HashSet<Vec<u32>> = [vec![0, 0], vec![0, 1], vec![1, 1]].into();
    assert_eq!(keys, want);
    for (g, c) in &counts {
        assert!((850..1150).contains(c), "{g:?} drawn {c} times of 3000");
    }
    // Every sample evaluates on both tasks.
    for seed in 0..50 {
        let g = space.sample(seed).unwrap();
        assert!(space.evaluate(&request("t1", &g)).is_ok());
        assert!(space.evaluate(&request("t2", &g)).is_ok());
    }
}

#[test]
fn sample_is_deterministic_in_the_seed() {
    let (_fx, a) = bench(&["t1"]);
    let (_fx2, b) = bench(&["t1"]);
    let xs: Vec<Vec<u32>> = (0..100).map(|s| a.sample(s).unwrap()).collect();
    let ys: Vec<Vec<u32>> = (0..100).map(|s| b.sample(s).unwrap()).collect();
    assert_eq!(xs, ys);
    assert_eq!(xs.iter().collect::<HashSet<_>>().len(), 6, "all six drawn");
}

#[test]
fn no_experiment_tasks_means_every_table_task() {
    // In BENCH no genome has rows for t1, t2 and t3 (t3 has only 1-2, which t2 lacks).
    let fx = Fixture::new();
    fx.write("bench.csv", BENCH);
    let e = fx
        .space("choices = [2, 3]\ntable = \"bench.csv\"", &[])
        .unwrap_err();
    assert_err(&e, ErrorKind::DATA, &["no genome", "(t1, t2, t3)"]);

    fx.write("b.csv", "task,genome,metric\na,0-0,1\nb,0-0,2\na,1-1,3\n");
    let space = fx
        .space("choices = [2, 2]\ntable = \"b.csv\"", &[])
        .unwrap();
    assert_eq!(space.required_tasks(), ["a", "b"]);
    assert_eq!(space.available_count(), 1);
    assert_eq!(space.sample(9).unwrap(), vec![0, 0]);
}

fn hamming(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).filter(|(x, y)| x != y).count()
}

#[test]
fn mutate_changes_one_position_and_stays_available() {
    let (_fx, full) = bench(&["t1"]);
    let mut children = HashSet::new();
    for seed in 0..300 {
        let child = full.mutate(&[1, 1], seed).unwrap();
        assert_eq!(hamming(&child, &[1, 1]), 1, "{child:?}");
        assert!(full.canonical(&child).is_ok());
        assert_eq!(child, full.mutate(&[1, 1], seed).unwrap(), "deterministic");
        children.insert(child);
    }
    // All three single changes of 1-1: 0-1, 1-0, 1-2.
    assert_eq!(children.len(), 3);

    let (_fx, space) = bench(&["t1", "t2"]);
    let mut seen: HashMap<Vec<u32>, HashSet<Vec<u32>>> = HashMap::new();
    for parent in [[0, 0], [0, 1], [1, 1], [1, 2], [0, 2]] {
        for seed in 0..200 {
            let child = space.mutate(&parent, seed).unwrap();
            assert_eq!(hamming(&child, &parent), 1, "{parent:?} -> {child:?}");
            seen.entry(parent.to_vec()).or_default().insert(child);
        }
    }
    let set = |v: &[[u32; 2]]| v.iter().map(|g| g.to_vec()).collect::<HashSet<_>>();
    assert_eq!(seen[&vec![0, 0]], set(&[[0, 1]]));
    assert_eq!(seen[&vec![0, 1]], set(&[[0, 0], [1, 1]]));
    assert_eq!(seen[&vec![1, 1]], set(&[[0, 1]]));
    // A genome outside the available set mutates into it.
    assert_eq!(seen[&vec![1, 2]], set(&[[1, 1]]));
    assert_eq!(seen[&vec![0, 2]], set(&[[0, 0], [0, 1]]));
}

#[test]
fn an_isolated_genome_has_no_neighbour_and_mutate_says_so() {
    let fx = Fixture::new();
    fx.write(
        "iso.csv",
        "task,genome,metric\nt,0-0-0,1\nt,1-1-0,2\nt,1-1-1,3\n",
    );
    let space = fx
        .space("choices = [2, 2, 2]\ntable = \"iso.csv\"", &["t"])
        .unwrap();
    assert!(space.neighbours(&[0, 0, 0]).unwrap().is_empty());
    for seed in 0..20 {
        let e = space.mutate(&[0, 0, 0], seed).unwrap_err();
        assert!(e.message().contains("has no neighbour"), "{e}");
        assert!(e.message().contains("0-0-0"), "{e}");
    }
    assert_eq!(space.neighbours(&[1, 1, 0]).unwrap(), vec![vec![1, 1, 1]]);
    assert_eq!(space.mutate(&[1, 1, 0], 3).unwrap(), vec![1, 1, 1]);

    let fx = Fixture::new();
    fx.write("one.csv", "task,genome,metric\nt,0-1,1\n");
    let space = fx
        .space("choices = [2, 2]\ntable = \"one.csv\"", &[])
        .unwrap();
    assert!(space.mutate(&[0, 1], 1).is_err());
    assert!(space.neighbours(&[0, 1]).unwrap().is_empty());
}

#[test]
fn neighbours_are_the_available_single_changes_and_hold_every_mutation() {
    let (_fx, space) = bench(&["t1", "t2"]);
    for parent in [[0, 0], [0, 1], [1, 1], [1, 2], [0, 2]] {
        let neighbours = space.neighbours(&parent).unwrap();
        let mutations: HashSet<Vec<u32>> = (0..200)
            .map(|seed| space.mutate(&parent, seed).unwrap())
            .collect();
        let listed: HashSet<Vec<u32>> = neighbours.iter().cloned().collect();
        assert_eq!(
            listed.len(),
            neighbours.len(),
            "duplicates in {neighbours:?}"
        );
        assert_eq!(listed, mutations, "{parent:?}");
        for n in &neighbours {
            assert_eq!(hamming(n, &parent), 1);
            assert!(space.evaluate(&request("t1", n)).is_ok());
            assert!(space.evaluate(&request("t2", n)).is_ok());
        }
    }
    assert_eq!(
        space.neighbours(&[0, 3]).unwrap_err().kind,
        ErrorKind::INVALID_ARCHITECTURE
    );
}

#[test]
fn mutate_skips_single_choice_positions_and_checks_its_input() {
    let fx = Fixture::new();
    let rows: String = (0..3).map(|v| format!("t,0-{v}-0,{v}\n")).collect();
    fx.write("b.csv", &format!("task,genome,metric\n{rows}"));
    let space = fx
        .space("choices = [1, 3, 1]\ntable = \"b.csv\"", &[])
        .unwrap();
    for seed in 0..50 {
        let child = space.mutate(&[0, 1, 0], seed).unwrap();
        assert_eq!(child[0], 0);
        assert_eq!(child[2], 0);
        assert_ne!(child[1], 1);
    }
    let e = space.mutate(&[0, 3, 0], 0).unwrap_err();
    assert_err(&e, ErrorKind::INVALID_ARCHITECTURE, &["position 1 (`g1`)"]);
}

// --- canonical, parse, labels --------------------------------------------------------------------

#[test]
fn canonical_and_parse_with_numbers() {
    let (_fx, space) = bench(&["t1"]);
    let arch = space.canonical(&[1, 2]).unwrap();
    assert_eq!(arch.text.as_str(), "1-2");
    assert_eq!(arch.genome.as_slice(), &[1, 2]);
    assert_eq!(space.parse("1-2").unwrap(), vec![1, 2]);

    let e = space.canonical(&[1, 3]).unwrap_err();
    assert_err(
        &e,
        ErrorKind::INVALID_ARCHITECTURE,
        &["position 1 (`g1`) has value 3", "3 choices"],
    );
    let e = space.canonical(&[1]).unwrap_err();
    assert_err(
        &e,
        ErrorKind::INVALID_ARCHITECTURE,
        &["1 positions, the space has 2"],
    );
    let e = space.parse("1-2-0").unwrap_err();
    assert_err(&e, ErrorKind::INVALID_ARCHITECTURE, &["3 positions"]);
    let e = space.parse("1-").unwrap_err();
    assert_err(&e, ErrorKind::INVALID_ARCHITECTURE, &["position 1"]);
}

const LABELLED: &str = "\
task,genome,metric
t,a-x,1
t,a-y,2
t,b-z,3
t,1-0,4
";

fn labelled() -> (Fixture, TabularSpace) {
    let fx = Fixture::new();
    fx.write("lab.csv", LABELLED);
    let space = fx
        .space(
            "choices = [2, 3]\nnames = [\"op\", \"in\"]\n\
             labels = [[\"a\", \"b\"], [\"x\", \"y\", \"z\"]]\ntable = \"lab.csv\"",
            &[],
        )
        .expect("labelled table loads");
    (fx, space)
}

#[test]
fn labels_name_genomes_in_text_and_table() {
    let (_fx, space) = labelled();
    assert_eq!(space.canonical(&[1, 2]).unwrap().text.as_str(), "b-z");
    assert_eq!(space.parse("b-z").unwrap(), vec![1, 2]);
    assert_eq!(
        space.parse("1-2").unwrap(),
        vec![1, 2],
        "numbers still parse"
    );
    // The row written `1-0` is b-x.
    let r = space.evaluate(&request("t", &[1, 0])).unwrap();
    assert_eq!(r.metric, 4.0);
    let e = space.parse("c-x").unwrap_err();
    assert_err(
        &e,
        ErrorKind::INVALID_ARCHITECTURE,
        &["position 0 (`op`)", "`c`", "a, b"],
    );
    let e = space.evaluate(&request("t", &[0, 2])).unwrap_err();
    assert_err(&e, ErrorKind::EVALUATION, &["genome a-z is not in table"]);

    let desc = space.describe().unwrap();
    assert_eq!(desc.positions.len(), 2);
    assert_eq!(desc.positions[0].name.as_str(), "op");
    assert_eq!(desc.positions[1].choices, 3);
    assert_eq!(desc.positions[1].labels[2].as_str(), "z");
    assert_ne!(desc.positions[0].group, desc.positions[1].group);
    assert_eq!(desc.size, 4);
}

#[test]
fn label_errors_in_the_table_name_the_line() {
    let fx = Fixture::new();
    fx.write("lab.csv", "task,genome,metric\nt,a-x,1\nt,a-w,2\n");
    let e = fx
        .space(
            "choices = [2, 3]\nlabels = [[\"a\", \"b\"], [\"x\", \"y\", \"z\"]]\ntable = \"lab.csv\"",
            &[],
        )
        .unwrap_err();
    assert_err(
        &e,
        ErrorKind::DATA,
        &["line 3", "position 1 (`g1`)", "`w`", "x, y, z"],
    );
    // Labelled genomes of the wrong length.
    fx.write("lab.csv", LABELLED);
    let e = fx
        .space(
            "choices = [2, 3, 3]\nlabels = [[\"a\", \"b\"], [\"x\", \"y\", \"z\"], \
             [\"x\", \"y\", \"z\"]]\ntable = \"lab.csv\"",
            &[],
        )
        .unwrap_err();
    assert_err(
        &e,
        ErrorKind::DATA,
        &["line 2", "`a-x` has 2 positions, the space has 3"],
    );
}

// --- evaluation and description -----------------------------------------------------------------

#[test]
fn evaluate_looks_up_the_row() {
    let (fx, space) = bench(&["t1", "t2"]);
    assert!(space.has_test_metric() && space.has_cost());
    let r = space.evaluate(&request("t1", &[1, 1])).unwrap();
    assert_eq!(
        (r.metric, r.test_metric, r.cost_seconds),
        (5.5, ROption::RSome(5.0), 50.0)
    );
    let r = space.evaluate(&request("t1", &[0, 2])).unwrap();
    assert_eq!(
        (r.metric, r.test_metric, r.cost_seconds),
        (3.0, ROption::RNone, 30.0)
    );
    let r = space.evaluate(&request("t3", &[1, 2])).unwrap();
    assert_eq!((r.metric, r.cost_seconds), (7.0, 0.0), "empty cost is 0");
    let r = space.evaluate(&request("t2", &[1, 1])).unwrap();
    assert_eq!(r.metric, -0.5);

    let file = fx.dir.path().join("bench.csv").display().to_string();
    let e = space.evaluate(&request("t2", &[1, 0])).unwrap_err();
    assert_eq!(e.kind, ErrorKind::EVALUATION);
    assert_eq!(
        e.message(),
        format!("genome 1-0 is not in table {file} for task t2")
    );
    let e = space.evaluate(&request("t9", &[1, 0])).unwrap_err();
    assert_err(&e, ErrorKind::UNKNOWN_TASK, &["`t9`", "t1, t2, t3"]);
    let e = space.evaluate(&request("t1", &[2, 0])).unwrap_err();
    assert_err(&e, ErrorKind::INVALID_ARCHITECTURE, &["position 0"]);
}

#[test]
fn table_without_optional_columns() {
    let fx = Fixture::new();
    fx.write("b.csv", "genome,metric,task\n0-0, 0.25 ,t\n");
    let space = fx
        .space("choices = [2, 3]\ntable = \"b.csv\"", &["t"])
        .unwrap();
    assert!(!space.has_test_metric() && !space.has_cost());
    let r = space.evaluate(&request("t", &[0, 0])).unwrap();
    assert_eq!(
        (r.metric, r.test_metric, r.cost_seconds),
        (0.25, ROption::RNone, 0.0)
    );
}

#[test]
fn best_metric_is_the_tasks_maximum() {
    let (_fx, space) = bench(&["t1"]);
    assert_eq!(space.best_metric("t1"), Some(5.5));
    assert_eq!(space.best_metric("t2"), Some(-0.5));
    assert_eq!(space.best_metric("t3"), Some(7.0));
    assert_eq!(space.best_metric("nope"), None);
}

#[test]
fn describe_lists_positions_tasks_and_size() {
    let (_fx, space) = bench(&["t1", "t2"]);
    let d = space.describe().unwrap();
    let names: Vec<&str> = d.positions.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["g0", "g1"]);
    assert_eq!(d.positions[0].choices, 2);
    assert!(d.positions[0].labels.is_empty());
    let tasks: Vec<&str> = d.tasks.iter().map(|t| t.as_str()).collect();
    assert_eq!(tasks, ["t1", "t2", "t3"]);
    assert_eq!(d.size, 3);
}

// --- through the plugin set ---------------------------------------------------------------------

#[test]
fn registered_plugin_builds_through_the_abi() {
    let fx = Fixture::new();
    fx.write("bench.csv", BENCH);
    let set = PluginSet::from_register(register);
    let infos = set.infos();
    assert_eq!(infos.len(), 1);
    assert_eq!(infos[0].name.as_str(), "tabular");
    assert_eq!(infos[0].kind, PluginKind::SEARCH_SPACE);
    assert!(infos[0].has(capability::BENCHMARK));

    let params = "choices = [2, 3]\ntable = \"bench.csv\"";
    assert!(set
        .check_params(PluginKind::SEARCH_SPACE, "tabular", params)
        .is_ok());
    let bad = set
        .check_params(
            PluginKind::SEARCH_SPACE,
            "tabular",
            "choices = [0]\ntable = \"x\"",
        )
        .unwrap_err();
    assert_eq!(bad.kind, ErrorKind::INVALID_PARAMS);

    let space = set
        .create_space("tabular", params, &init(&["t1", "t2"], &fx.base()))
        .unwrap();
    let g = space.sample(3).unwrap();
    assert!(space.evaluate(&request("t2", &g)).is_ok());
    assert_eq!(space.best_metric("t1"), Some(5.5));
    let e = space.evaluate(&request("t2", &[1, 0])).unwrap_err();
    assert_eq!(e.kind, ErrorKind::EVALUATION);
}

// --- scale ---------------------------------------------------------------------------------------

#[test]
fn loads_a_thirty_thousand_row_table() {
    let fx = Fixture::new();
    let mut text = String::from("task,genome,metric,test_metric,cost\n");
    let tasks = ["a", "b", "c", "d", "e", "f", "g"];
    for (t, task) in tasks.iter().enumerate() {
        for i in 0..4096u32 {
            let g: Vec<String> = (0..6)
                .rev()
                .map(|k| ((i >> (2 * k)) & 3).to_string())
                .collect();
            let m = f64::from(i) * 0.001 + t as f64;
            text.push_str(&format!("{task},{},{m},{m},{}\n", g.join("-"), i % 7));
        }
    }
    fx.write("big.csv", &text);
    let space = fx
        .space("choices = [4, 4, 4, 4, 4, 4]\ntable = \"big.csv\"", &tasks)
        .unwrap();
    assert_eq!(space.available_count(), 4096);
    assert_eq!(space.best_metric("g"), Some(4.095 + 6.0));
    let r = space.evaluate(&request("c", &[3, 2, 1, 0, 3, 2])).unwrap();
    let i = 0b11_10_01_00_11_10u32;
    assert_eq!(r.metric, f64::from(i) * 0.001 + 2.0);
    assert_eq!(r.cost_seconds, f64::from(i % 7));

    // Every sampled genome is in the table for the task (speed is measured in bench/, not here).
    for seed in 0..20_000 {
        let g = space.sample(seed).unwrap();
        assert!(space.evaluate(&request("c", &g)).unwrap().metric >= 2.0);
    }
}
