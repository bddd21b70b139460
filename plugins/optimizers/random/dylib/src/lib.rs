//! The `random` optimizer as a dynamic plugin library.
xnas_core::export_plugins!(xnas_opt_random::register);
