//! # xnas-build: the one way a tch crate finds libtorch at run time
//!
//! libtorch's shared libraries carry no path of their own, and a build script's
//! `cargo:rustc-link-arg` reaches only the linked targets (cdylib, tests, examples, benches, bins)
//! of the package that prints it, never its dependents. So every crate that links tch into a
//! binary or a cdylib names `xnas-tch` as a direct dependency (whose `links` metadata hands its
//! build script libtorch's lib directory as `DEP_XNAS_TCH_LIBTORCH_LIB`), this crate as a
//! build-dependency, and has a one-line build script:
//!
//! ```text
//! // build.rs
//! fn main() {
//!     xnas_build::libtorch_rpath();
//! }
//! ```
//!
//! docs/libtorch.md explains the whole mechanism.

/// Bakes libtorch's lib directory (from xnas-tch's build metadata) into every linked target of
/// the calling package as a RUNPATH, so the plugin or binary runs without `LD_LIBRARY_PATH`.
///
/// Panics, failing the build with what to add, when the package does not depend on `xnas-tch`
/// directly (`DEP_*` variables reach direct dependents only).
pub fn libtorch_rpath() {
    let lib = std::env::var("DEP_XNAS_TCH_LIBTORCH_LIB").unwrap_or_else(|_| {
        panic!(
            "DEP_XNAS_TCH_LIBTORCH_LIB is not set: add `xnas-tch` to this package's [dependencies] \
             (directly: its build metadata gives libtorch's lib directory; see docs/libtorch.md)"
        )
    });
    rpath(&lib);
}

/// Adds `dir` to the RUNPATH of every linked target of the calling package.
pub fn rpath(dir: &str) {
    println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
}
