//! Bakes libtorch's lib directory into the library's RUNPATH (see plugins/libs/tch/src/lib.rs).
fn main() {
    let lib = std::env::var("DEP_XNAS_TCH_LIBTORCH_LIB").expect("depends on xnas-tch");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
}
