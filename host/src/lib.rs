//! # xnas-host
//!
//! The library behind the `xnas` binary. Data flows through the modules in this order:
//! [`config`] (experiment file) → [`plugins`] (registry, loading, and `assemble`, which creates
//! them) → [`run`] (the ask/evaluate/tell loop, resume) → [`executor`] (workers) → [`store`]
//! (SQLite) → [`report`] (CSV, JSON, plots).
//! [`compare`] runs many experiments (variants × targets × seeds) and compares them;
//! [`ablation`] measures how well a transferred surrogate ranks held-out architectures (both
//! share [`stats`], [`chart`] and the worker [`pool`] the executor runs on);
//! [`train`] trains one architecture to the end with a trainable space; [`similarity`] uses
//! similarity plugins and draws task distance matrices.
//! [`lock`] gives each run directory one owning process; [`stop`] is the "stop requested" flag
//! that SIGTERM, SIGINT and SIGHUP set and long loops poll.

pub mod ablation;
pub mod chart;
pub mod compare;
pub mod config;
pub mod error;
pub mod executor;
pub mod inputs;
pub mod lock;
pub mod plugins;
pub mod pool;
pub mod report;
pub mod run;
pub mod similarity;
pub mod stats;
pub mod stop;
pub mod store;
pub mod train;

/// Links the standard plugins as built-ins when the `builtin-plugins` feature is on
/// (`inventory` only sees crates the binary actually links).
#[cfg(feature = "builtin-plugins")]
mod builtins {
    pub use xnas_opt_evolution as _;
    pub use xnas_opt_random as _;
    pub use xnas_sim_landmark_archs as _;
    pub use xnas_sim_random as _;
    pub use xnas_space_nasbench_graph as _;
    pub use xnas_space_tabular as _;

    #[cfg(test)]
    mod tests {
        use crate::plugins::{Origin, Registry};
        use xnas_core::PluginKind;

        #[test]
        fn standard_plugins_are_built_in() {
            let reg = Registry::discover(&[]);
            for (kind, name) in [
                (PluginKind::OPTIMIZER, "random"),
                (PluginKind::OPTIMIZER, "evolution"),
                (PluginKind::SEARCH_SPACE, "tabular"),
                (PluginKind::SEARCH_SPACE, "nasbench-graph"),
            ] {
                let e = reg
                    .find(kind, name)
                    .unwrap_or_else(|| panic!("{name} is not built in"));
                assert!(
                    matches!(e.origin, Origin::Builtin { .. }),
                    "{name}: {}",
                    e.origin.describe()
                );
                assert!(
                    e.origin.describe().starts_with("built-in (xnas-"),
                    "{}",
                    e.origin.describe()
                );
            }
            // Built-ins are real: parameter checking goes through the plugin's own code.
            let evo = reg.find(PluginKind::OPTIMIZER, "evolution").unwrap();
            let err = evo.check_params("popsize = 3").unwrap_err();
            assert!(
                err.message().contains("unknown field `popsize`"),
                "{}",
                err.message()
            );
        }
    }
}

pub use error::{HostError, HostResult};
