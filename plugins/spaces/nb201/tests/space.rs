//! The `nb201` space without training: every cell's text round trip, the conformance kit, mutation,
//! restricted op lists, and the message of every bad input (text, genome, parameters, data).

use std::collections::HashSet;
use xnas_core::abi_stable::std_types::{RNone, RString};
use xnas_core::{parse_params, ErrorKind, EvalRequest, SearchSpace, SpaceInit};
use xnas_space_nb201::cell::{Cell, EDGES, NODES};
use xnas_space_nb201::Nb201;

fn init(tasks: &[&str], data_dir: &str) -> SpaceInit {
    SpaceInit {
        tasks: tasks.iter().map(|&t| RString::from(t)).collect(),
        base_dir: ".".into(),
        data_dir: data_dir.into(),
    }
}

const DIGITS: &str = "[tasks.digits]\npreset = \"digits\"\n";

fn space(params: &str) -> Nb201 {
    Nb201::new(parse_params(params).unwrap(), &init(&["digits"], "")).unwrap()
}

fn error(params: &str, tasks: &[&str], data_dir: &str) -> String {
    match parse_params(params).and_then(|p| Nb201::new(p, &init(tasks, data_dir))) {
        Ok(_) => panic!("`{params}` was accepted"),
        Err(e) => e.message().to_string(),
    }
}

#[test]
fn every_cell_round_trips_through_its_text_and_there_are_15625() {
    let s = space(DIGITS);
    let desc = s.describe().unwrap();
    assert_eq!(desc.size, 15_625);
    assert_eq!(desc.positions.len(), EDGES);
    let names: Vec<&str> = desc.positions.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2"]);
    assert_eq!(
        desc.positions[0]
            .labels
            .iter()
            .map(|l| l.as_str())
            .collect::<Vec<_>>(),
        [
            "none",
            "skip_connect",
            "nor_conv_1x1",
            "nor_conv_3x3",
            "avg_pool_3x3"
        ]
    );
    let mut texts = HashSet::new();
    for code in 0..15_625u32 {
        let genome: Vec<u32> = (0..EDGES as u32).map(|e| code / 5u32.pow(e) % 5).collect();
        let arch = s.canonical(&genome).unwrap();
        assert_eq!(arch.genome.as_slice(), genome, "its own canonical form");
        assert_eq!(s.parse(&arch.text).unwrap(), genome, "{}", arch.text);
        assert!(texts.insert(arch.text.to_string()), "{}", arch.text);
    }
    assert_eq!(texts.len(), 15_625);
}

/// Each node's `|op~j|` entries in every order (1 · 2 · 6 = 12 texts) parse to the same cell.
#[test]
fn text_parses_whatever_the_order_of_a_nodes_inputs() {
    let s = space(DIGITS);
    let genome = vec![3, 0, 1, 2, 4, 3];
    let text = s.canonical(&genome).unwrap().text.to_string();
    assert_eq!(
        text,
        "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|"
    );
    let nodes: Vec<Vec<String>> = text
        .split('+')
        .map(|n| n.trim_matches('|').split('|').map(str::to_string).collect())
        .collect();
    fn permutations(v: &[String]) -> Vec<Vec<String>> {
        if v.len() <= 1 {
            return vec![v.to_vec()];
        }
        let mut out = Vec::new();
        for i in 0..v.len() {
            let mut rest = v.to_vec();
            let first = rest.remove(i);
            for mut p in permutations(&rest) {
                p.insert(0, first.clone());
                out.push(p);
            }
        }
        out
    }
    let mut seen = 0;
    for b in permutations(&nodes[1]) {
        for c in permutations(&nodes[2]) {
            let t = format!("|{}|+|{}|+|{}|", nodes[0][0], b.join("|"), c.join("|"));
            assert_eq!(s.parse(&t).unwrap(), genome, "{t}");
            seen += 1;
        }
    }
    assert_eq!(seen, 12);
    assert_eq!(NODES, 4);
}

#[test]
fn conforms_to_the_testkit() {
    let s = space(DIGITS);
    let report = xnas_testkit::check_space(&s, &["digits"]).unwrap_or_else(|f| panic!("{f}"));
    println!("{report}");
    report.assert_passed(&[
        "parse",
        "mutate",
        "neighbours",
        "canonical/refuses",
        "describe/size",
    ]);
}

#[test]
fn neighbours_are_every_other_op_on_one_edge() {
    let s = space(DIGITS);
    let ops = s.ops().len();
    for seed in 0..20 {
        let parent = s.sample(seed).unwrap();
        let neighbours = s.neighbours(&parent).unwrap();
        assert_eq!(neighbours.len(), EDGES * (ops - 1));
        let distinct: HashSet<&Vec<u32>> = neighbours.iter().collect();
        assert_eq!(distinct.len(), neighbours.len());
        for n in &neighbours {
            assert_eq!((0..EDGES).filter(|&e| parent[e] != n[e]).count(), 1);
        }
        for m in 0..50 {
            assert!(neighbours.contains(&s.mutate(&parent, m).unwrap()));
        }
    }
}

#[test]
fn mutation_changes_exactly_one_edge() {
    let s = space(DIGITS);
    let mut edges = HashSet::new();
    for seed in 0..200 {
        let parent = s.sample(seed).unwrap();
        let child = s.mutate(&parent, seed).unwrap();
        let changed: Vec<usize> = (0..EDGES).filter(|&e| parent[e] != child[e]).collect();
        assert_eq!(changed.len(), 1, "{parent:?} → {child:?}");
        edges.insert(changed[0]);
        assert_eq!(
            s.mutate(&parent, seed).unwrap(),
            child,
            "a function of its seed"
        );
    }
    assert_eq!(edges.len(), EDGES, "every edge gets mutated");
}

#[test]
fn a_restricted_op_list_indexes_its_own_ops() {
    let s = space(&format!(
        "ops = [\"nor_conv_3x3\", \"skip_connect\", \"none\"]\n{DIGITS}"
    ));
    assert_eq!(s.describe().unwrap().size, 729);
    let text = s.canonical(&[0, 2, 1, 0, 0, 2]).unwrap().text.to_string();
    assert_eq!(
        text,
        "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|nor_conv_3x3~0|nor_conv_3x3~1|none~2|"
    );
    assert_eq!(s.parse(&text).unwrap(), [0, 2, 1, 0, 0, 2]);
    let e = s
        .parse("|avg_pool_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|")
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::INVALID_ARCHITECTURE);
    assert!(
        e.message().contains(
            "op `avg_pool_3x3` is not one of this space's ops (nor_conv_3x3, skip_connect, none)"
        ),
        "{e}"
    );
    let e = s.canonical(&[0, 0, 0, 0, 0, 3]).unwrap_err();
    assert!(
        e.message()
            .contains("gene 5 (edge 3<-2) is 3, but this space has 3 ops"),
        "{e}"
    );
}

#[test]
fn disconnected_cells_are_valid_architectures() {
    let s = space(DIGITS);
    let none = s.canonical(&[0; EDGES]).unwrap();
    assert_eq!(
        none.text.as_str(),
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    );
    assert!(!Cell::parse(&none.text).unwrap().output_connected());
}

#[test]
fn bad_texts_say_what_is_wrong() {
    let s = space(DIGITS);
    for (text, needle) in [
        ("", "expected 3 nodes joined by `+`"),
        ("|none~0|+|none~0|none~1|", "expected 3 nodes joined by `+`"),
        (
            "|none~0|+|none~0|none~1|+|none~0|none~1|",
            "node 3 `|none~0|none~1|`: expected 3 inputs",
        ),
        (
            "none~0+|none~0|none~1|+|none~0|none~1|none~2|",
            "node 1 `none~0`: expected `|op~input|…|` between bars",
        ),
        (
            "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|",
            "node 1: unknown op `conv`; known: none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3",
        ),
        (
            "|none0|+|none~0|none~1|+|none~0|none~1|none~2|",
            "node 1: `none0` is not `op~input`",
        ),
        (
            "|none~x|+|none~0|none~1|+|none~0|none~1|none~2|",
            "node 1: input `x` of `none~x` is not a node number",
        ),
        (
            "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|",
            "node 1: input 1 is not an earlier node (0..1)",
        ),
        (
            "|none~0|+|none~0|none~0|+|none~0|none~1|none~2|",
            "node 2: input 0 is listed twice",
        ),
    ] {
        let e = s.parse(text).unwrap_err();
        assert_eq!(e.kind, ErrorKind::INVALID_ARCHITECTURE, "{text}");
        assert!(e.message().contains(needle), "`{text}`: {e}");
    }
}

#[test]
fn bad_genomes_say_what_is_wrong() {
    let s = space(DIGITS);
    for (genome, needle) in [
        (
            vec![0; 5],
            "a NAS-Bench-201 genome has 6 genes (one op per edge), not 5",
        ),
        (vec![0; 7], "not 7"),
        (
            vec![0, 5, 0, 0, 0, 0],
            "gene 1 (edge 2<-0) is 5, but this space has 5 ops (0..5)",
        ),
    ] {
        for e in [
            s.canonical(&genome).unwrap_err(),
            s.mutate(&genome, 1).unwrap_err(),
        ] {
            assert_eq!(e.kind, ErrorKind::INVALID_ARCHITECTURE);
            assert!(e.message().contains(needle), "{genome:?}: {e}");
        }
        let req = EvalRequest {
            trial_id: 0,
            task: "digits".into(),
            genome: genome.clone().into(),
            seed: 1,
            budget: RNone,
        };
        let e = s.evaluate(&req).unwrap_err();
        assert!(e.message().contains(needle), "{e}");
    }
}

#[test]
fn bad_parameters_name_their_key() {
    for (params, needle) in [
        (
            "ops = [\"none\", \"sep_conv_3x3\"]",
            "`ops`: unknown op `sep_conv_3x3`; known: none, skip_connect",
        ),
        (
            "ops = [\"none\", \"none\"]",
            "`ops`: `none` is listed twice",
        ),
        (
            "ops = [\"nor_conv_3x3\"]",
            "`ops`: 1 op(s) listed: list at least two",
        ),
        ("ops = []", "`ops`: 0 op(s) listed"),
        ("cells = 0", "`cells = 0`: expected 1 ..= 1024"),
        ("channels = 0", "`channels = 0`: expected 1 ..= 16384"),
        (
            "channels = 100000",
            "`channels = 100000`: expected 1 ..= 16384",
        ),
        (
            "batch_size = 1",
            "`batch_size = 1`: expected at least 2 (batch norm)",
        ),
        (
            "learning_rate = 0.0",
            "`learning_rate = 0`: expected a positive number",
        ),
        ("momentum = 1.0", "`momentum = 1`: expected 0 ≤ m < 1"),
        ("momentum = 0.0", "`nesterov = true` with `momentum = 0`"),
        (
            "weight_decay = -1.0",
            "`weight_decay = -1`: expected a finite number ≥ 0",
        ),
        ("device = \"tpu\"", "device"),
    ] {
        let e = error(params, &[], "");
        assert!(e.contains(needle), "`{params}`: {e}");
    }
    let e = parse_params::<xnas_space_nb201::params::Nb201Params>("filters = 8").unwrap_err();
    assert!(e.message().contains("filters"), "{e}");
}

#[test]
fn missing_task_data_is_named() {
    // A task the experiment names without a dataset table.
    let e = error(DIGITS, &["svhn"], "");
    assert!(
        e.contains("task `svhn` has no dataset: add a `[search_space.params.tasks.svhn]` table")
            && e.contains("datasets are given for digits"),
        "{e}"
    );
    // A preset whose files are not in the data directory.
    let empty = tempfile::tempdir().unwrap();
    let e = error(DIGITS, &["digits"], &empty.path().display().to_string());
    assert!(
        e.contains("dataset of task `digits`") && e.contains("make images"),
        "{e}"
    );
    // A file that does not exist.
    let e = error(
        "[tasks.mine]\nformat = \"idx\"\ntrain_images = \"nowhere/images.gz\"\ntrain_labels = \"nowhere/labels.gz\"\n",
        &["mine"],
        "",
    );
    assert!(e.contains("nowhere/images.gz"), "{e}");
    // Evaluating on a task that has no dataset.
    let s = space(DIGITS);
    let req = EvalRequest {
        trial_id: 0,
        task: "cifar10".into(),
        genome: vec![3; EDGES].into(),
        seed: 1,
        budget: RNone,
    };
    let e = s.evaluate(&req).unwrap_err();
    assert_eq!(e.kind, ErrorKind::UNKNOWN_TASK);
    assert!(e.message().contains("task `cifar10` has no dataset"), "{e}");
}
