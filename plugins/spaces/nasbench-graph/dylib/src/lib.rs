//! The `nasbench-graph` search space as a dynamic plugin library.
xnas_core::export_plugins!(xnas_space_nasbench_graph::register);
