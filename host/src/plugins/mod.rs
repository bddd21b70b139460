//! Finding, loading and instantiating plugins.

pub mod assemble;
mod loader;
mod registry;
mod witness;

pub use loader::{default_search_dirs, is_plugin_file_name, load_library, quietly, LoadedLibrary};
pub use registry::{Origin, PluginEntry, Registry, Source};
pub use witness::Witness;
