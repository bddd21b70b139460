//! The `task2vec` similarity measure as a dynamic plugin library.
xnas_core::export_plugins!(xnas_sim_task2vec::register);
