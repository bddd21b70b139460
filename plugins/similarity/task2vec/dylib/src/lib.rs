//! The `task2vec` and `landmark-net` similarity measures as a dynamic plugin library.
xnas_core::export_plugins!(xnas_sim_task2vec::register);
