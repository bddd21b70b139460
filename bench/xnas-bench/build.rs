//! rpath to libtorch for the bench binaries (docs/libtorch.md).
fn main() {
    let lib = std::env::var("DEP_XNAS_TCH_LIBTORCH_LIB").expect("depends on xnas-tch");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
}
