//! The `nasnet` search space as a dynamic plugin library.
xnas_core::export_plugins!(xnas_space_nasnet::register);
