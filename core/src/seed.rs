/// Derives an independent 64-bit seed from a base seed and a tag (a trial id, a worker-free
/// counter, a task index). SplitMix64 finaliser over the pair: cheap, deterministic and well mixed,
/// so results never depend on which worker ran what.
pub fn derive_seed(base: u64, tag: u64) -> u64 {
    let mut z = base ^ tag.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seed for one named thing (a plugin's component such as `"controller"`, an ablation's target
/// task) derived from `base`: different names give independent streams, the same name the same
/// stream, whatever else is listed beside it.
pub fn component_seed(base: u64, component: &str) -> u64 {
    derive_seed(base, fnv1a64(component.as_bytes()))
}

/// FNV-1a 64 over bytes fed in pieces: stable across platforms and Rust versions (unlike
/// `DefaultHasher`), so its value can be stored, or turned into a seed.
#[derive(Clone, Debug)]
pub struct Fnv1a64(u64);

impl Default for Fnv1a64 {
    fn default() -> Self {
        Fnv1a64(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a64 {
    pub fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    pub fn finish(&self) -> u64 {
        self.0
    }
}

/// FNV-1a 64 of `bytes` in one piece (see [`Fnv1a64`]).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h = Fnv1a64::default();
    h.write(bytes);
    h.finish()
}

/// A tiny seeded generator for plugins that need a few random integers without pulling in
/// `rand` (search spaces sampling from a seed they were handed).
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform integer in `0..n` (`n > 0`), by rejection so there is no modulo bias.
    pub fn below(&mut self, n: u32) -> u32 {
        assert!(n > 0, "below(0)");
        let n = n as u64;
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let x = self.next_u64();
            if x < zone {
                return (x % n) as u32;
            }
        }
    }
    /// Uniform integer in `0..n` other than `current` (`n > 1`, `current < n`): a mutation's new
    /// value for a gene. One draw of [`below`](Self::below)`(n - 1)`.
    pub fn below_except(&mut self, n: u32, current: u32) -> u32 {
        let v = self.below(n - 1);
        if v >= current {
            v + 1
        } else {
            v
        }
    }
    /// Uniform float in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_seeds_are_stable_and_distinct() {
        assert_eq!(component_seed(7, "head"), component_seed(7, "head"));
        assert_ne!(component_seed(7, "head"), component_seed(7, "controller"));
        assert_ne!(component_seed(7, "head"), component_seed(8, "head"));
    }

    #[test]
    fn derive_seed_separates_tags_and_bases() {
        let a = derive_seed(1, 0);
        assert_ne!(a, derive_seed(1, 1));
        assert_ne!(a, derive_seed(2, 0));
        assert_eq!(a, derive_seed(1, 0));
    }

    #[test]
    fn fnv1a64_matches_the_published_test_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
        let mut pieces = Fnv1a64::default();
        pieces.write(b"foo");
        pieces.write(b"bar");
        assert_eq!(pieces.finish(), fnv1a64(b"foobar"));
    }

    #[test]
    fn below_is_in_range_and_covers_it() {
        let mut r = SplitMix64::new(7);
        let mut seen = [0u32; 5];
        for _ in 0..1000 {
            seen[r.below(5) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 150), "{seen:?}");
    }

    #[test]
    fn below_except_never_gives_the_current_value_and_covers_the_others() {
        let mut r = SplitMix64::new(7);
        for current in 0..4 {
            let mut seen = [0u32; 4];
            for _ in 0..900 {
                seen[r.below_except(4, current) as usize] += 1;
            }
            assert_eq!(seen[current as usize], 0, "{seen:?}");
            let others = seen
                .iter()
                .enumerate()
                .filter(|&(v, _)| v != current as usize);
            assert!(others.into_iter().all(|(_, &c)| c > 200), "{seen:?}");
        }
        // The same draws as below(n - 1), shifted past `current`.
        let (mut a, mut b) = (SplitMix64::new(3), SplitMix64::new(3));
        for _ in 0..100 {
            let v = b.below(5);
            assert_eq!(a.below_except(6, 2), if v >= 2 { v + 1 } else { v });
        }
    }
}
