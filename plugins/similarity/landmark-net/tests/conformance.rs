//! `landmark-net` against the xnas testkit's similarity checks, on real image data at a tiny
//! scale (one epoch on 300 training images per task).

use xnas_core::{space_box, PluginSet};
use xnas_testkit::{check_similarity, ToySpace};

#[test]
fn landmark_net_conforms() {
    let params = "epochs = 1\nmax_train = 300\nmax_valid = 100\nrepeats = 1\nthreads = 1\n\
                  size = 16\n\
                  [tasks.digits-a]\npreset = \"digits\"\nlimit_train = 300\n\
                  [tasks.digits-b]\npreset = \"digits\"\nlimit_train = 300\nsplit_seed = 5\n\
                  [tasks.fashion]\npreset = \"fashion-mnist\"\nlimit_train = 300\n";
    let set = PluginSet::from_register(xnas_sim_landmark_net::register);
    let report = check_similarity(
        |init| {
            set.create_similarity("landmark-net", params, init)
                .into_result()
        },
        &space_box(ToySpace),
        &["digits-a", "digits-b", "fashion"],
    )
    .unwrap_or_else(|f| panic!("{f}"));
    println!("{report}");
    report.assert_passed(&["build", "embed", "distance"]);
}
