//! libtorch's lib directory as an rpath of this crate's test and example binaries (docs/libtorch.md).
fn main() {
    let lib = std::env::var("DEP_XNAS_TCH_LIBTORCH_LIB").expect("depends on xnas-tch");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
}
