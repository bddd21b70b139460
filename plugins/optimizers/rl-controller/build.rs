//! libtorch has no rpath of its own: bake its directory into this crate's test and example
//! binaries (plugins/libs/tch/src/lib.rs; the cdylib crate in dylib/ does the same for the plugin).
fn main() {
    let lib = std::env::var("DEP_XNAS_TCH_LIBTORCH_LIB").expect("depends on xnas-tch");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
}
