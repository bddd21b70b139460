//! Seeding. Parameter initialisation in this crate draws from `xnas_core::SplitMix64`, never from
//! torch's generator, so a head's weights depend on its seed alone (not on threads, other
//! components or the libtorch version). Operations that need torch's own generator (dropout,
//! `multinomial`) seed it through [`with_torch_seed`], one derived seed per component.

use std::sync::Mutex;
/// A seed per named component (`"controller"`, `"head.predictor"`) of a plugin's seed.
pub use xnas_core::component_seed;

/// Seeds torch's global generators (CPU, and CUDA where loaded) with all 64 bits of `seed`.
pub fn manual_seed(seed: u64) {
    // torch's manual_seed consults the CUDA hooks: the backend must be loaded before.
    crate::device::init();
    // `tch::manual_seed` takes an i64; the bit pattern is what torch stores.
    tch::manual_seed(seed as i64);
    if tch::Cuda::is_available() {
        tch::Cuda::manual_seed_all(seed);
    }
}

/// Runs `f` with torch's generator freshly seeded with `seed`, holding a lock so two components of
/// this library seeding from different threads cannot interleave their draws. (torch's generator
/// is process-wide: a component in another plugin library does not take this lock.)
pub fn with_torch_seed<T>(seed: u64, f: impl FnOnce() -> T) -> T {
    static TORCH_RNG: Mutex<()> = Mutex::new(());
    let _guard = TORCH_RNG
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    manual_seed(seed);
    f()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Kind, Tensor};

    #[test]
    fn torch_draws_repeat_under_the_same_seed() {
        let draw = |seed| {
            with_torch_seed(seed, || {
                Vec::<f32>::try_from(Tensor::f_rand([5], (Kind::Float, tch::Device::Cpu)).unwrap())
                    .unwrap()
            })
        };
        assert_eq!(draw(u64::MAX), draw(u64::MAX));
        assert_ne!(draw(1), draw(2));
    }
}
