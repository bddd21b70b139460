//! `tabular` against the xnas testkit's search-space checks, on tables written here: numbers and
//! labels as text, tasks with holes (sampling and mutation stay inside the genomes every task
//! has), and a task whose genomes have no single-change neighbours (mutate refuses them and
//! neighbours is empty).

use std::path::Path;
use xnas_core::abi_stable::std_types::RString;
use xnas_core::{parse_params, SpaceInit};
use xnas_space_tabular::TabularSpace;

const CHOICES: [u32; 3] = [3, 4, 2];

/// Every genome of `CHOICES` on task `a`; task `b` lacks genomes with `g0 = 2, g1 = 3` and those
/// with `g0 = 0, g2 = 1`; task `c` has three genomes, no two of them one change apart.
fn table() -> String {
    let mut csv = String::from("task,genome,metric,test_metric,cost\n");
    for g0 in 0..CHOICES[0] {
        for g1 in 0..CHOICES[1] {
            for g2 in 0..CHOICES[2] {
                let text = format!("{g0}-{g1}-{g2}");
                let m = f64::from(g0) + 0.5 * f64::from(g1) - f64::from(g2);
                csv += &format!("a,{text},{m},{},{}\n", m - 0.1, 10 + g1);
                let hole = (g0 == 2 && g1 == 3) || (g0 == 0 && g2 == 1);
                if !hole {
                    csv += &format!("b,{text},{},,1.5\n", -m);
                }
            }
        }
    }
    csv += "c,0-0-0,0.1,,\nc,1-2-0,0.2,,\nc,2-3-1,0.3,,\n";
    csv
}

fn space(dir: &Path, params: &str, tasks: &[&str]) -> TabularSpace {
    let init = SpaceInit {
        tasks: tasks.iter().map(|&t| RString::from(t)).collect(),
        base_dir: dir.display().to_string().into(),
        data_dir: RString::new(),
    };
    TabularSpace::new(parse_params(params).unwrap(), &init).unwrap()
}

#[test]
fn tabular_conforms() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bench.csv"), table()).unwrap();
    let numbers = "choices = [3, 4, 2]\ntable = \"bench.csv\"";
    let labelled = "choices = [3, 4, 2]\nnames = [\"op\", \"width\", \"skip\"]\n\
                    labels = [[\"conv\", \"pool\", \"id\"], [\"w8\", \"w16\", \"w32\", \"w64\"], \
                    [\"no\", \"yes\"]]\ntable = \"bench.csv\"";
    for params in [numbers, labelled] {
        let s = space(dir.path(), params, &["a", "b"]);
        let report = xnas_testkit::check_space(&s, &["a", "b"])
            .unwrap_or_else(|f| panic!("with `{params}`: {f}"));
        println!("{report}");
        assert!(report.has_passed("evaluate"), "{report}");
        report.assert_passed(&["mutate", "neighbours"]);
    }
    // Isolated genomes: mutate refuses each, and neighbours lists none.
    let s = space(dir.path(), numbers, &["c"]);
    let report = xnas_testkit::check_space(&s, &["c"]).unwrap();
    assert!(
        report.skipped().iter().any(|(c, _)| *c == "mutate"),
        "{report}"
    );
    report.assert_passed(&["neighbours"]);
}
