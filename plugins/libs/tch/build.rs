//! Makes libtorch findable at run time without LD_LIBRARY_PATH (docs/libtorch.md).
//!
//! libtorch's shared libraries carry no path of their own, and `cargo:rustc-link-arg` reaches only
//! the linked targets of the package that prints it. So this script:
//! * bakes libtorch's lib directory into this crate's own test and example binaries (RUNPATH);
//! * passes the directory on as `DEP_XNAS_TCH_LIBTORCH_LIB` (via `links`) so each plugin's cdylib
//!   crate can do the same in its own one-line build.rs (`xnas_build::libtorch_rpath()`);
//! * compiles the directory in (`XNAS_TCH_LIBTORCH_LIB`) so `device` can load libtorch_cuda on
//!   demand: the linker's `--as-needed` drops it, which is what lets the CPU-only light install run.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // Set by torch-sys's build script, from LIBTORCH (or LIBTORCH_LIB / LIBTORCH_USE_PYTORCH).
    let lib = std::env::var("DEP_TCH_LIBTORCH_LIB")
        .expect("torch-sys did not report libtorch's lib directory (DEP_TCH_LIBTORCH_LIB)");
    xnas_build::rpath(&lib);
    println!("cargo:libtorch_lib={lib}");
    println!("cargo:rustc-env=XNAS_TCH_LIBTORCH_LIB={lib}");
}
