//! # xnas-core: the stable plugin interface of xnas
//!
//! Everything that crosses the boundary between the `xnas` host and a plugin library lives here.
//! The crate has two layers:
//!
//! * **ABI layer** ([`abi`]): `#[repr(C)]` data types and `#[sabi_trait]` objects from
//!   [`abi_stable`], plus the versioned root module [`PluginModRef`] every plugin library exports.
//!   Only these types cross a dynamic-library boundary.
//! * **Author layer** ([`SearchSpace`], [`Optimizer`], [`HeadFactory`], [`Head`], [`Transfer`],
//!   [`Similarity`]): ordinary Rust traits a plugin author implements. [`PluginSet`] wraps each
//!   implementation in a guard that turns panics into [`PluginError`]s, so a plugin's panic never
//!   aborts the host, and the [`export_plugins!`] macro exports the root module.
//!
//! The host holds ABI objects ([`SpaceBox`], [`OptimizerBox`], ...) and uses them through the same
//! author traits, so plugin code and host code speak one vocabulary.
//!
//! The separate crate `xnas-testkit` (`core/testkit`) offers conformance checks for a plugin's
//! own tests: `check_space` and `check_optimizer` drive a plugin the way the host does and report
//! the contract it breaks.
//!
//! ## Interface versioning
//!
//! The root module carries [`INTERFACE_VERSION`], an explicit constant that changes only when the
//! ABI does (not with this crate's package version): a test fingerprints the layout of every type
//! reachable from the root module and fails when it differs from the one recorded beside the
//! version in [`INTERFACES`]. New root-module functions and new trait methods are only appended
//! after the last prefix field (a new patch version: new plugins still load into older hosts);
//! anything else is a new minor version (0.x), and old plugins are refused with one sentence
//! naming the file and both versions.
//!
//! abi_stable also compares the package version of every type it checks (for 0.x, the minor), so
//! this crate's own minor version is part of the ABI: raising it changes the fingerprint too.
//!
//! ## Conventions
//!
//! * Metrics are "higher is better". A benchmark that reports an error or a loss negates it.
//! * A genome is a flat list of small integers; only the search space knows what it means.
//! * Plugin parameters arrive as TOML text; parse them with [`parse_params`] so errors name the key.
//! * An optimizer that takes heads gets a factory from the host only when a transfer plugin
//!   decorates it; otherwise it builds heads with [`PlainHeadFactory`] (tch-free, Adam, saved
//!   state).
//! * Randomness is seeded: every call that needs it receives a seed (see [`derive_seed`]).

pub mod abi;
mod adapters;
pub use adapters::{
    failed_observation, guard, head_box, head_factory_box, optimizer_box, similarity_box,
    space_box, transfer_box,
};
mod error;
pub mod export;
mod interface;
pub mod log;
mod oneshot;
mod supernet_adapters;
pub use supernet_adapters::{one_shot_box, supernet_box};
mod params;
pub mod plain_head;
pub use plain_head::{PlainHead, PlainHeadConfig, PlainHeadFactory};
pub mod rank;
mod seed;
pub mod state;
mod traits;

pub use abi::*;
pub use adapters::panic_message;
pub use error::{ErrorKind, PluginError, PluginResult};
pub use export::{BuiltinPlugins, Meta, PluginSet};
pub use interface::{abi_fingerprint, INTERFACES, INTERFACE_VERSION};
pub use params::{parse_params, range, CheckParams, Checked};
pub use rank::{ranks, spearman};
pub use seed::{component_seed, derive_seed, fnv1a64, Fnv1a64, SplitMix64};
pub use traits::*;

/// Re-exported for plugin code that names abi_stable types. The export macro's expansion names
/// `::abi_stable` itself, so a plugin's dylib crate still depends on abi_stable directly.
pub use abi_stable;
#[doc(hidden)]
pub use inventory;
#[doc(hidden)]
pub use tracing;
