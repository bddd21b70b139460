//! The architecture side's random stream (α's initial values, Gumbel noise), saved and restored
//! exactly: ChaCha8 from a 64-bit seed, its position kept as (seed, stream, word position).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// A seeded generator whose state is part of a saved search.
#[derive(Clone, Debug)]
pub struct ArchRng(ChaCha8Rng);

/// Where an [`ArchRng`] is in its stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RngState {
    pub seed: [u8; 32],
    pub stream: u64,
    pub word_pos: u128,
}

impl ArchRng {
    pub fn new(seed: u64) -> Self {
        ArchRng(ChaCha8Rng::seed_from_u64(seed))
    }

    pub fn state(&self) -> RngState {
        RngState {
            seed: self.0.get_seed(),
            stream: self.0.get_stream(),
            word_pos: self.0.get_word_pos(),
        }
    }

    pub fn from_state(state: &RngState) -> Self {
        let mut r = ChaCha8Rng::from_seed(state.seed);
        r.set_stream(state.stream);
        r.set_word_pos(state.word_pos);
        ArchRng(r)
    }

    /// A standard normal draw.
    pub fn normal(&mut self) -> f64 {
        self.0.sample(StandardNormal)
    }

    /// A uniform draw from `0..n` (`n > 0`): which tasks a BASE meta-step trains on.
    pub fn below(&mut self, n: u32) -> u32 {
        self.0.gen_range(0..n.max(1))
    }

    /// A standard Gumbel draw, `−ln(−ln U)` with U uniform in the open interval (0, 1).
    pub fn gumbel(&mut self) -> f64 {
        let u: f64 = self.0.gen_range(f64::MIN_POSITIVE..1.0);
        -(-u.ln()).ln()
    }
}

/// `scale · N(0, 1)` for each of `n` entries: DARTS's α initialisation (`1e-3 · randn`).
pub fn init_alpha(n: usize, scale: f64, rng: &mut ArchRng) -> Vec<f64> {
    (0..n).map(|_| scale * rng.normal()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restored_state_continues_the_same_stream() {
        let mut a = ArchRng::new(11);
        for _ in 0..7 {
            a.normal();
            a.gumbel();
        }
        let mut b = ArchRng::from_state(&a.state());
        for _ in 0..20 {
            assert_eq!(a.normal().to_bits(), b.normal().to_bits());
            assert_eq!(a.gumbel().to_bits(), b.gumbel().to_bits());
        }
    }

    #[test]
    fn alpha_starts_small_and_seeded() {
        let x = init_alpha(1000, 1e-3, &mut ArchRng::new(3));
        assert_eq!(x, init_alpha(1000, 1e-3, &mut ArchRng::new(3)));
        assert_ne!(x, init_alpha(1000, 1e-3, &mut ArchRng::new(4)));
        let mean = x.iter().sum::<f64>() / 1000.0;
        let sd = (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 999.0).sqrt();
        assert!(mean.abs() < 2e-4 && (sd - 1e-3).abs() < 1e-4, "{mean} {sd}");
    }

    #[test]
    fn gumbel_draws_have_the_gumbel_mean() {
        // E[G] = Euler–Mascheroni γ ≈ 0.5772, Var = π²/6.
        let mut r = ArchRng::new(5);
        let n = 20_000;
        let xs: Vec<f64> = (0..n).map(|_| r.gumbel()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!((mean - 0.577_215_664_9).abs() < 0.03, "{mean}");
        assert!(
            (var - std::f64::consts::PI.powi(2) / 6.0).abs() < 0.08,
            "{var}"
        );
    }
}
