//! The `landmark-archs` similarity measure as a dynamic plugin library.
xnas_core::export_plugins!(xnas_sim_landmark_archs::register);
