//! libtorch's lib directory as an rpath of this cdylib, so the host can load it without LD_LIBRARY_PATH (docs/libtorch.md).
fn main() {
    let lib = std::env::var("DEP_XNAS_TCH_LIBTORCH_LIB").expect("depends on xnas-tch");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
}
