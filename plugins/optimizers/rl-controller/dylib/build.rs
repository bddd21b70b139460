//! libtorch has no rpath of its own: bake its directory into this cdylib (plugins/libs/tch/src/lib.rs).
fn main() {
    let lib = std::env::var("DEP_XNAS_TCH_LIBTORCH_LIB").expect("depends on xnas-tch");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
}
