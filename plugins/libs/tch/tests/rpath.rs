//! Proof that binaries linking xnas-tch find libtorch with no LD_LIBRARY_PATH: this test re-runs
//! its own binary with LD_LIBRARY_PATH removed, and the child uses libtorch. (Cargo does not put
//! libtorch's directory on LD_LIBRARY_PATH: it lies outside the target directory.) If the rpath
//! were missing, the child would not even start: the dynamic loader would refuse it.

use std::process::Command;
use xnas_tch::tch::{Kind, Tensor};

const CHILD: &str = "XNAS_TCH_RPATH_CHILD";

#[test]
fn runs_without_ld_library_path() {
    if std::env::var_os(CHILD).is_some() {
        let sum = Tensor::from_slice(&[1f32, 2.0, 3.0]).sum(Kind::Float);
        assert_eq!(sum.double_value(&[]), 6.0);
        println!("child used libtorch from {}", xnas_tch::LIBTORCH_LIB);
        return;
    }
    let inherited = std::env::var("LD_LIBRARY_PATH").unwrap_or_default();
    assert!(
        !inherited.split(':').any(|d| d == xnas_tch::LIBTORCH_LIB),
        "the test runner put libtorch on LD_LIBRARY_PATH, so this test would prove nothing"
    );
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "runs_without_ld_library_path",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_remove("LD_LIBRARY_PATH")
        .env(CHILD, "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "child failed:\n{text}");
    assert!(
        text.contains("child used libtorch from"),
        "child did not run the test:\n{text}"
    );
    assert!(text.contains("1 passed"), "{text}");
}
