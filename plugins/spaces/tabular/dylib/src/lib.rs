//! The `tabular` search space as a dynamic plugin library.
xnas_core::export_plugins!(xnas_space_tabular::register);
