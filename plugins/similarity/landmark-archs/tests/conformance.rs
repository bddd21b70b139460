//! `landmark-archs` against the xnas testkit's similarity checks on the kit's toy space: its
//! landmarks are architectures of the space, the same for a seed, and a task's embedding comes
//! from their scores (failed ones included), created through its plugin set as the host does.

use xnas_core::{space_box, PluginSet};
use xnas_testkit::{check_similarity, ToySpace};

#[test]
fn landmark_archs_conforms() {
    let set = PluginSet::from_register(xnas_sim_landmark_archs::register);
    let report = check_similarity(
        |init| {
            set.create_similarity("landmark-archs", "k = 8", init)
                .into_result()
        },
        &space_box(ToySpace),
        &["cora", "citeseer", "pubmed"],
    )
    .unwrap_or_else(|f| panic!("{f}"));
    println!("{report}");
    report.assert_passed(&["build", "landmarks", "embed", "distance"]);
}
