//! The `base` one-shot optimizer as a dynamic plugin library.
xnas_core::export_plugins!(xnas_opt_base::register);
