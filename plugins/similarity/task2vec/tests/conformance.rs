//! `task2vec` against the xnas testkit's similarity checks, on real image data at a tiny scale
//! (a probe trained one epoch on 300 digits images, kept in a temporary folder).

use xnas_core::{space_box, PluginSet};
use xnas_testkit::{check_similarity, ToySpace};

#[test]
fn task2vec_conforms() {
    let probes = tempfile::tempdir().unwrap();
    let params = format!(
        "probe = {{ preset = \"digits\" }}\nprobe_samples = 300\nprobe_epochs = 1\n\
         probe_dir = \"{}\"\nmax_samples = 200\nclassifier_epochs = 2\nfisher_samples = 128\n\
         threads = 1\nsize = 16\n\
         [tasks.digits-a]\npreset = \"digits\"\nlimit_train = 300\n\
         [tasks.digits-b]\npreset = \"digits\"\nlimit_train = 300\nsplit_seed = 5\n\
         [tasks.fashion]\npreset = \"fashion-mnist\"\nlimit_train = 300\n",
        probes.path().display()
    );
    let set = PluginSet::from_register(xnas_sim_task2vec::register);
    let report = check_similarity(
        |init| {
            set.create_similarity("task2vec", &params, init)
                .into_result()
        },
        &space_box(ToySpace),
        &["digits-a", "digits-b", "fashion"],
    )
    .unwrap_or_else(|f| panic!("{f}"));
    println!("{report}");
    report.assert_passed(&["build", "embed", "distance"]);
}
