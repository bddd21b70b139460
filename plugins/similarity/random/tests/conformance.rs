//! `random` against the xnas testkit's similarity checks, created through its plugin set as the
//! host creates it.

use xnas_core::{space_box, PluginSet};
use xnas_testkit::{check_similarity, ToySpace};

#[test]
fn random_conforms() {
    let set = PluginSet::from_register(xnas_sim_random::register);
    let report = check_similarity(
        |init| set.create_similarity("random", "", init).into_result(),
        &space_box(ToySpace),
        &["cora", "citeseer", "pubmed"],
    )
    .unwrap_or_else(|f| panic!("{f}"));
    println!("{report}");
    report.assert_passed(&["build", "embed", "distance"]);
}
