//! The `ws-darts` one-shot optimizer as a dynamic plugin library.
xnas_core::export_plugins!(xnas_opt_ws_darts::register);
