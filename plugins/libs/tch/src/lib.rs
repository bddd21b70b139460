//! # xnas-tch: the shared tch code of xnas plugins
//!
//! The only crate of the workspace that names `tch`; plugins that need libtorch depend on it
//! (and re-use `xnas_tch::tch`) rather than on tch directly, so one tch and one libtorch set-up
//! serve them all. The host never links it.
//!
//! * [`data`]: image tasks as tensors (read, split and normalised by the tch-free `xnas-data`),
//!   loaded once per process.
//! * [`device`]: `"cpu" | "cuda" | "cuda:N" | "auto"` settings, and [`init`], which loads
//!   libtorch's CUDA backend where it can (call it before using `tch` directly).
//! * [`seed`]: per-component seeds and torch's generator.
//! * [`tokens`]: the token view of any search space (vocabulary, encode/decode, decoding masks).
//! * [`matrix`]: the ABI's `Matrix` to and from `Tensor`.
//! * [`mlp`]: an MLP with seeded initialisation and an optional zero last layer.
//! * [`adam`]: Adam whose state can be saved.
//! * [`head`]: the plain head factory of the head protocol.
//! * [`layers`]: convolution building blocks (PyTorch's init, BN, ReLU–conv–BN, linear).
//! * [`train`]: training an image classifier on a task (SGD, cosine, validation, test).
//! * [`normalise`]: per-task normalisation of metrics before histories are pooled.
//! * [`probe`] and [`image_tasks`]: the probe network and the image tasks of the similarity
//!   plugins `task2vec` and `landmark-net`.
//! * [`supernet`]: the supernet engine a trainable space offers the supernet protocol with.
//!
//! ## Linking
//!
//! libtorch is found at run time through an rpath, not `LD_LIBRARY_PATH` (docs/libtorch.md):
//! this crate's build script sets it on its own test binaries and passes the directory on as
//! `DEP_XNAS_TCH_LIBTORCH_LIB`. A crate that links tch into a cdylib or binary (a plugin's
//! `dylib/` crate, a plugin's own tests) depends on this crate directly, on `xnas-build` as a
//! build-dependency, and has the build script `fn main() { xnas_build::libtorch_rpath(); }`.

pub mod adam;
pub mod data;
pub mod device;
mod error;
pub mod head;
pub mod image_tasks;
pub mod layers;
pub mod matrix;
pub mod mlp;
pub mod normalise;
pub mod probe;
pub mod seed;
pub mod snapshot;
pub mod supernet;
pub mod threads;
pub mod tokens;
pub mod train;

pub use device::init;
pub use error::TchContext;
pub use head::{HeadConfig, PlainHead, PlainHeadFactory};
pub use threads::ThreadLimit;
pub use tokens::TokenView;

/// The tch this crate is built on, for plugins (so they name one version, through this crate).
pub use tch;

/// The directory of the libtorch libraries this crate was linked against.
pub const LIBTORCH_LIB: &str = env!("XNAS_TCH_LIBTORCH_LIB");
