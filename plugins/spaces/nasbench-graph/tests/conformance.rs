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
        "symmetric_variants",
        "evaluate",
    ]);
    // Proteins' op subset: sampling, mutation and canonical stay inside it.
    let s = space(&["proteins", "cora"], OpsMode::Auto);
    xnas_testkit::check_space(&s, &["proteins", "cora"]).unwrap();
}
