//! `nasnet`: the NASNet cell search space (Zoph et al. 2018; ALGORITHMS.md §0 and §2), made
//! trainable: a genome decodes to a normal and a reduction cell, the network is built in tch
//! and trained on an image task read from files.

pub mod genome;
pub mod network;
pub mod train;

use xnas_core::PluginSet;

/// Registers `nasnet` in a plugin set.
pub fn register(_set: &mut PluginSet) {}
