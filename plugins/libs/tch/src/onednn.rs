//! Keeps libtorch's oneDNN off its AVX2 convolution kernels on CPUs whose widest vector unit is
//! AVX2 (no AVX-512).
//!
//! libtorch 2.13's oneDNN corrupts the heap while training some NASNet cells on such CPUs: the
//! process dies in `mkldnn_convolution_backward_weights` (`free(): invalid next size`, "double
//! free or corruption") a few batches into a network of separable 5 × 5 convolutions, with
//! 1 × 1 stride-2 reductions, on 28 × 28 images. valgrind names the kernel: the AVX2 weight
//! gradient of a 1 × 1 stride-2 convolution writes past its buffer. tests/suite/nasnet.rs,
//! `a_cell_that_broke_onednn_avx2_kernels_trains`, has the cell.
//! The same runs pass with oneDNN capped at AVX, on AVX-512 machines, and with oneDNN off. The
//! cap costs about 1.3× on a NASNet cell's training, turning oneDNN off about 2.7× (both on a
//! 2-core AVX2 EPYC, docs/libtorch.md), so the cap is the guard.
//!
//! oneDNN reads `ONEDNN_MAX_CPU_ISA` once, when it first dispatches a kernel, and libtorch does
//! not export oneDNN's `dnnl_set_max_cpu_isa`. So the variable is set in this process before the
//! first convolution: [`crate::init`] calls [`cap_isa`], and every constructor of this crate
//! calls `init`, convolution layers included. A value the user set (`ONEDNN_MAX_CPU_ISA`, or the
//! older `DNNL_MAX_CPU_ISA`) is kept as it is: `ONEDNN_MAX_CPU_ISA=AVX2` opts back into the
//! AVX2 kernels.

use std::sync::Once;

/// The variable oneDNN reads, and the cap set on AVX2 CPUs.
pub const VARIABLE: &str = "ONEDNN_MAX_CPU_ISA";
/// The cap: oneDNN's AVX kernels (its SSE4.1 depthwise ones among them).
pub const CAP: &str = "AVX";

/// Sets [`VARIABLE`] to [`CAP`] where [`needs_cap`] says so and the user has set neither
/// variable; once per library, a no-op after. Returns nothing: whether it applied is
/// `std::env::var(VARIABLE)`.
pub fn cap_isa() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let set_by_user = |name| std::env::var_os(name).is_some();
        if needs_cap() && !set_by_user(VARIABLE) && !set_by_user("DNNL_MAX_CPU_ISA") {
            // Before any torch work in this process (see the module doc), so no thread of
            // libtorch's reads the environment while it changes. Each plugin library has its
            // own `ONCE`; the second finds the variable set and leaves it.
            std::env::set_var(VARIABLE, CAP);
        }
    });
}

/// Whether oneDNN would pick its AVX2 kernels here: x86-64 with AVX2 and without AVX-512
/// (oneDNN's `avx512_core` needs F, BW, VL and DQ).
pub fn needs_cap() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let avx512_core = std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512dq");
        std::arch::is_x86_feature_detected!("avx2") && !avx512_core
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
