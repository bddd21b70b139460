//! `nasbench-graph` against the xnas testkit's search-space checks, on the real converted data
//! file (it fails, never skips, when the file is missing: run `make data`).

use xnas_core::abi_stable::std_types::RString;
use xnas_core::SpaceInit;
use xnas_space_nasbench_graph::{default_data_path, NasBenchGraph, NasBenchGraphParams, OpsMode};

fn space(tasks: &[&str], ops: OpsMode) -> NasBenchGraph {
    let path = default_data_path("");
    assert!(
        path.is_file(),
        "NAS-Bench-Graph data file {} is missing: run `make data` (see \
         plugins/spaces/nasbench-graph/README.md)",
        path.display()
    );
    let params = NasBenchGraphParams {
        data: Some(path.display().to_string()),
        ops,
    };
    let init = SpaceInit {
        tasks: tasks.iter().map(|&t| RString::from(t)).collect(),
        base_dir: RString::new(),
        data_dir: RString::new(),
    };
    NasBenchGraph::new(params, &init).expect("space loads")
}

#[test]
fn nasbench_graph_conforms() {
    // All ops; isomorphic genomes (symmetric variants) share one canonical form and metric.
    let s = space(&["cora", "citeseer"], OpsMode::Auto);
    let report = xnas_testkit::check_space(&s, &["cora", "citeseer"]).unwrap();
    println!("{report}");
    report.assert_passed(&[
        "canonical/refuses",
        "mutate",
        "neighbours",
        "symmetric_variants",
        "evaluate",
    ]);
    // Proteins' op subset: sampling, mutation and canonical stay inside it.
    let s = space(&["proteins", "cora"], OpsMode::Auto);
    xnas_testkit::check_space(&s, &["proteins", "cora"]).unwrap();
}

#[test]
fn neighbours_are_the_other_architectures_one_gene_away() {
    use std::collections::HashSet;
    use xnas_core::SearchSpace;
    let s = space(&["proteins", "cora"], OpsMode::Auto);
    let desc = s.describe().unwrap();
    for seed in 0..40 {
        let parent = s.sample(seed).unwrap();
        let own = s.canonical(&parent).unwrap().genome.to_vec();
        let listed = s.neighbours(&parent).unwrap();
        // Exactly the distinct canonical forms of the single-gene changes the experiment can
        // evaluate (on every task), other than the parent's.
        let mut expected = HashSet::new();
        for (p, pos) in desc.positions.iter().enumerate() {
            for v in 0..pos.choices {
                let mut child = parent.clone();
                child[p] = v;
                if let Ok(a) = s.canonical(&child) {
                    if a.genome.as_slice() != own.as_slice() {
                        expected.insert(a.genome.to_vec());
                    }
                }
            }
        }
        let got: HashSet<Vec<u32>> = listed.iter().cloned().collect();
        assert_eq!(got.len(), listed.len(), "duplicates");
        assert_eq!(got, expected, "{parent:?}");
        for m in 0..30 {
            assert!(got.contains(&s.mutate(&parent, m).unwrap()));
        }
    }
}
