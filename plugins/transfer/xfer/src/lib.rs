//! # xfer: the XferNAS transfer decorator (Wistuba 2019, arXiv 1907.08307; docs/plugins/xfer.md)
//!
//! `[transfer] plugin = "xfer"` wraps an optimizer that takes heads (`nao`, `rl-controller`).
//! Its head factory gives heads whose every output is `g_task(z) = g_u(z) + r_task(z)`: a universal
//! MLP shared by all tasks plus a residual MLP per task, trained jointly on every task's history
//! ([`head`]). Its plan tells the optimizer when to switch start points from source to target
//! architectures and how to normalise metrics per task. The decorator itself ([`transfer`])
//! refuses optimizers without heads and source knowledge that contains the target.
//!
//! Not a built-in of the host: it needs libtorch, which the host never links. It ships as the
//! dynamic library `libxnas_xfer` (`plugins/transfer/xfer/dylib`).

pub mod head;
pub mod params;
mod residuals;
pub mod transfer;

pub use head::{XferHead, XferHeadFactory};
pub use params::XferParams;
pub use transfer::{check_no_leak, Xfer, XferOptimizer};

use xnas_core::{Meta, PluginSet};

/// Registers the `xfer` transfer plugin.
pub fn register(set: &mut PluginSet) {
    set.transfer(
        Meta {
            name: "xfer",
            version: env!("CARGO_PKG_VERSION"),
            description:
                "XferNAS: universal + per-task residual heads for optimizers that take heads",
            capabilities: &[],
        },
        Xfer::new,
    );
}
