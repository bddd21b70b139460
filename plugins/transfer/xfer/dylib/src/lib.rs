//! The `xfer` transfer plugin as a dynamic plugin library.
xnas_core::export_plugins!(xnas_xfer_xfer::register);
