//! libtorch's lib directory as an rpath of this crate's cdylib (docs/libtorch.md).
fn main() {
    xnas_build::libtorch_rpath();
}
