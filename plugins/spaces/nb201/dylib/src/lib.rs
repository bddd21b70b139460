//! The `nb201` search space as a dynamic plugin library.
xnas_core::export_plugins!(xnas_space_nb201::register);
