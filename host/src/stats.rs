//! Statistics for comparisons and ablations: Student-t intervals, the paired Wilcoxon
//! signed-rank test, Spearman's rank correlation and a paired bootstrap interval for a ratio of
//! means.
//!
//! Every function except [`bootstrap_ratio_interval`] is checked against scipy 1.17.1 by
//! `host/tests/stats_vs_scipy.rs` (`make scipy` installs it).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// A mean with a two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Interval {
    pub mean: f64,
    pub lo: f64,
    pub hi: f64,
    pub n: usize,
}

impl Interval {
    /// A table cell: `mean ± half-width` (values × `scale`, two decimals), the mean alone when
    /// the interval is unknown, `–` without data.
    pub fn cell(&self, scale: f64) -> String {
        if self.n == 0 {
            "–".into()
        } else if self.lo.is_finite() {
            format!(
                "{:.2} ± {:.2}",
                self.mean * scale,
                (self.hi - self.lo) / 2.0 * scale
            )
        } else {
            format!("{:.2}", self.mean * scale)
        }
    }
}

/// How [`wilcoxon_signed_rank`] computed its p-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WilcoxonMethod {
    /// From the exact null distribution of R+ (all 2^n sign assignments of the ranks).
    Exact,
    /// Normal approximation, tie-corrected variance, no continuity correction.
    Normal,
}

/// Result of [`wilcoxon_signed_rank`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Wilcoxon {
    /// `min(R+, R-)` over the nonzero differences (scipy's two-sided statistic).
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Number of nonzero differences (the zeros are dropped).
    pub n: usize,
    pub method: WilcoxonMethod,
}

/// The smallest two-sided p-value the exact Wilcoxon signed-rank test can give with `n` nonzero
/// paired differences: all signs alike, probability 2 · 2⁻ⁿ under the null (ties only raise it).
/// Below 6 pairs it exceeds 0.05, so such a test can never call a difference significant.
pub fn wilcoxon_min_p(n: usize) -> f64 {
    (2.0 * 0.5f64.powi(n.min(1100) as i32)).min(1.0)
}

/// Arithmetic mean; NaN for an empty slice.
pub fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Sample standard deviation (n - 1 denominator); needs `xs.len() >= 2`.
fn sample_sd(xs: &[f64], m: f64) -> f64 {
    let ss: f64 = xs.iter().map(|x| (x - m) * (x - m)).sum();
    (ss / (xs.len() - 1) as f64).sqrt()
}

/// Upper quantile of Student's t: the `t > 0` with `P(T > t) = q`, for `0 < q < 0.5`.
///
/// statrs' `inverse_cdf` (AS 64 on the incomplete beta) is a starting point; its answer is
/// polished with Newton steps on the survival function, which statrs computes directly from
/// the regularized incomplete beta (no `1 - cdf` cancellation).
fn t_upper_quantile(dof: f64, q: f64) -> f64 {
    debug_assert!(q > 0.0 && q < 0.5 && dof > 0.0);
    if dof == 1.0 {
        // Cauchy: closed form.
        return (std::f64::consts::PI * (0.5 - q)).tan();
    }
    if dof == 2.0 {
        // Closed form: t = (1 - 2q) / sqrt(2 q (1 - q)).
        let p = 1.0 - q;
        return (p - q) / (2.0 * p * q).sqrt();
    }
    let dist = StudentsT::new(0.0, 1.0, dof).expect("valid Student t parameters");
    let mut t = dist.inverse_cdf(1.0 - q);
    for _ in 0..8 {
        let pdf = statrs::distribution::Continuous::pdf(&dist, t);
        if pdf.is_nan() || pdf <= 0.0 {
            break;
        }
        let step = (dist.sf(t) - q) / pdf;
        t += step;
        if step.abs() <= 1e-15 * t.abs() {
            break;
        }
    }
    t
}

/// Student-t confidence interval of the mean: `mean ± t_{(1+c)/2, n-1} · s/√n` with the sample
/// standard deviation `s` (n - 1 denominator); the same numbers as
/// `scipy.stats.t.interval(confidence, n - 1, loc=mean, scale=scipy.stats.sem(xs))`.
///
/// With `n < 2` the bounds are NaN (the mean is still set when `n == 1`, NaN when `n == 0`).
/// When all values are equal (`s == 0`) the interval is the point `[mean, mean]`; scipy answers
/// NaN there, as a zero scale is outside its domain.
///
/// # Panics
/// If `confidence` is not strictly between 0 and 1.
pub fn t_interval(xs: &[f64], confidence: f64) -> Interval {
    assert!(
        confidence > 0.0 && confidence < 1.0,
        "confidence must be in (0, 1), got {confidence}"
    );
    let n = xs.len();
    let m = mean(xs);
    if n < 2 {
        return Interval {
            mean: m,
            lo: f64::NAN,
            hi: f64::NAN,
            n,
        };
    }
    let sem = sample_sd(xs, m) / (n as f64).sqrt();
    let half = t_upper_quantile((n - 1) as f64, (1.0 - confidence) / 2.0) * sem;
    Interval {
        mean: m,
        lo: m - half,
        hi: m + half,
        n,
    }
}

/// Paired two-sided Wilcoxon signed-rank test on `d = x - y`.
///
/// Matches the default call `scipy.stats.wilcoxon(x, y)` of scipy 1.17.1 (`zero_method="wilcox"`,
/// `correction=False`, `alternative="two-sided"`, `method="auto"`), whose rules are:
///
/// * Zero differences are dropped; the rest are ranked by `|d|`, ties getting the average
///   rank. The statistic is `min(R+, R-)`; [`Wilcoxon::n`] counts the nonzero differences.
/// * If the number of pairs **including zeros** is above 50: normal approximation.
/// * Otherwise, with no zeros and no ties among `|d|`: exact p-value from the null
///   distribution of R+ (counted by dynamic programming over `0..=n(n+1)/2`),
///   `p = min(1, 2 · P(T <= statistic))`.
/// * Otherwise (zeros or ties), if there are at most 13 pairs including zeros: scipy runs an
///   exhaustive permutation test (all `2^n` sign flips), i.e. the exact conditional null
///   distribution of R+ given the tied ranks, `p = min(1, 2 · min(P(R+ <= r), P(R+ >= r)))`.
///   This is computed here by the same dynamic programming over doubled (integral) ranks and
///   reported as [`WilcoxonMethod::Exact`].
/// * Otherwise: normal approximation.
///
/// The normal approximation uses `z = (R+ - n(n+1)/4) / σ` with
/// `σ² = (n(n+1)(2n+1) - Σ(t³ - t)/2) / 24` (n: the nonzero differences; t: sizes of the groups
/// of tied `|d|`), no continuity correction, and `p = 2 · sf(|z|)`.
///
/// Returns `None` when no difference is nonzero, or when a difference is NaN.
///
/// # Panics
/// If `x` and `y` differ in length.
pub fn wilcoxon_signed_rank(x: &[f64], y: &[f64]) -> Option<Wilcoxon> {
    assert_eq!(
        x.len(),
        y.len(),
        "wilcoxon_signed_rank: x and y must have the same length"
    );
    let n_total = x.len();
    let d: Vec<f64> = x.iter().zip(y).map(|(a, b)| a - b).collect();
    if d.iter().any(|v| v.is_nan()) {
        return None;
    }
    let nonzero: Vec<f64> = d.into_iter().filter(|&v| v != 0.0).collect();
    let n = nonzero.len();
    if n == 0 {
        return None;
    }
    let has_zeros = n < n_total;
    let abs: Vec<f64> = nonzero.iter().map(|v| v.abs()).collect();
    let r = ranks(&abs);
    let tie_sizes = tie_group_sizes(&abs);
    let has_ties = tie_sizes.iter().any(|&t| t > 1);

    let r_plus: f64 = nonzero
        .iter()
        .zip(&r)
        .filter(|(v, _)| **v > 0.0)
        .map(|(_, r)| r)
        .sum();
    let r_minus: f64 = nonzero
        .iter()
        .zip(&r)
        .filter(|(v, _)| **v < 0.0)
        .map(|(_, r)| r)
        .sum();
    let statistic = r_plus.min(r_minus);

    let exact = n_total <= 50 && (!(has_ties || has_zeros) || n_total <= 13);
    let (p_value, method) = if exact {
        // Average ranks are multiples of 1/2, so doubled ranks are integers.
        let doubled: Vec<usize> = r.iter().map(|&v| (2.0 * v).round() as usize).collect();
        let r2 = (2.0 * r_plus).round() as usize;
        let counts = signed_rank_null_counts(&doubled);
        let le: u64 = counts[..=r2].iter().sum();
        let ge: u64 = counts[r2..].iter().sum();
        let total = 2f64.powi(n as i32);
        let p = 2.0 * (le.min(ge) as f64 / total);
        (p.min(1.0), WilcoxonMethod::Exact)
    } else {
        let nf = n as f64;
        let mn = nf * (nf + 1.0) * 0.25;
        let tie_correct: f64 = tie_sizes
            .iter()
            .map(|&t| {
                let t = t as f64;
                t * t * t - t
            })
            .sum();
        let se = ((nf * (nf + 1.0) * (2.0 * nf + 1.0) - tie_correct / 2.0) / 24.0).sqrt();
        let z = (r_plus - mn) / se;
        // 2 · Φ(-|z|) = erfc(|z| / √2)
        // (libm's erfc is within an ulp or so, like scipy's ndtr; statrs' is ~1e-10.)
        let p = libm::erfc(z.abs() / std::f64::consts::SQRT_2);
        (p, WilcoxonMethod::Normal)
    };
    Some(Wilcoxon {
        statistic,
        p_value,
        n,
        method,
    })
}

/// Number of sign assignments giving each value of `Σ w_i · [sign_i = +]`, for
/// `0 ..= Σ w_i` (the null distribution of R+ times 2^n, with ranks `w`).
fn signed_rank_null_counts(weights: &[usize]) -> Vec<u64> {
    let max: usize = weights.iter().sum();
    let mut counts = vec![0u64; max + 1];
    counts[0] = 1;
    let mut reach = 0;
    for &w in weights {
        reach += w;
        for s in (w..=reach).rev() {
            counts[s] += counts[s - w];
        }
    }
    counts
}

/// Sizes of the groups of equal values (in sorted order).
fn tie_group_sizes(xs: &[f64]) -> Vec<usize> {
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut sizes = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i + 1;
        while j < sorted.len() && sorted[j] == sorted[i] {
            j += 1;
        }
        sizes.push(j - i);
        i = j;
    }
    sizes
}

/// Average ranks and Spearman's ρ live in `xnas_core::rank`, shared with plugins and benchmarks.
pub use xnas_core::rank::{ranks, spearman};

/// Paired percentile-bootstrap interval for `mean(num) / mean(den)`.
///
/// Each of the `resamples` resamples draws `n` indices with replacement (the same indices for
/// `num` and `den`, keeping pairs together) and computes the ratio of the resampled means;
/// `lo`/`hi` are the `(1 - c)/2` and `(1 + c)/2` percentiles of those ratios, with linear
/// interpolation between order statistics (numpy's default `percentile`). Resamples whose ratio
/// is not finite (a resampled `den` mean of zero) are left out. [`Interval::mean`] is the ratio
/// on the full sample and [`Interval::n`] the number of pairs. The resampling uses
/// `ChaCha8Rng::seed_from_u64(seed)`, so the answer is a function of its arguments.
///
/// With no pairs, no resamples or no finite resampled ratio, the bounds are NaN.
///
/// # Panics
/// If `num` and `den` differ in length, or `confidence` is not strictly between 0 and 1.
pub fn bootstrap_ratio_interval(
    num: &[f64],
    den: &[f64],
    confidence: f64,
    resamples: usize,
    seed: u64,
) -> Interval {
    assert_eq!(
        num.len(),
        den.len(),
        "bootstrap_ratio_interval: num and den must have the same length"
    );
    assert!(
        confidence > 0.0 && confidence < 1.0,
        "confidence must be in (0, 1), got {confidence}"
    );
    let n = num.len();
    let point = mean(num) / mean(den);
    let mut out = Interval {
        mean: point,
        lo: f64::NAN,
        hi: f64::NAN,
        n,
    };
    if n == 0 || resamples == 0 {
        return out;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut stats = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        let (mut sn, mut sd) = (0.0, 0.0);
        for _ in 0..n {
            let i = rng.gen_range(0..n);
            sn += num[i];
            sd += den[i];
        }
        // Same n on both sides: the ratio of means is the ratio of sums.
        let ratio = sn / sd;
        if ratio.is_finite() {
            stats.push(ratio);
        }
    }
    if stats.is_empty() {
        return out;
    }
    stats.sort_by(f64::total_cmp);
    let alpha = (1.0 - confidence) / 2.0;
    out.lo = percentile_sorted(&stats, alpha);
    out.hi = percentile_sorted(&stats, 1.0 - alpha);
    out
}

/// Linear-interpolation quantile of sorted, non-empty data (numpy's "linear" method).
fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_smallest_wilcoxon_p_is_reached_by_all_signs_alike() {
        assert_eq!(wilcoxon_min_p(0), 1.0);
        assert_eq!(wilcoxon_min_p(1), 1.0);
        assert_eq!(wilcoxon_min_p(5), 0.0625);
        assert_eq!(wilcoxon_min_p(6), 0.03125);
        // The exact test attains it: five pairs, every difference the same sign.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [1.5, 2.7, 3.1, 4.9, 5.2];
        let w = wilcoxon_signed_rank(&x, &y).unwrap();
        assert_eq!(w.p_value, wilcoxon_min_p(5));
        let x6 = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let y6 = [1.5, 2.7, 3.1, 4.9, 5.2, 6.4];
        let w = wilcoxon_signed_rank(&x6, &y6).unwrap();
        assert_eq!(w.p_value, wilcoxon_min_p(6));
        assert!(w.p_value < 0.05);
    }

    use super::*;

    /// Deterministic "regret-like" pairs: a transfer variant that is usually a bit better.
    fn regrets(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let plain: Vec<f64> = (0..n).map(|_| 0.005 + 0.03 * rng.gen::<f64>()).collect();
        let transfer: Vec<f64> = plain
            .iter()
            .map(|p| p * (0.6 + 0.5 * rng.gen::<f64>()))
            .collect();
        (transfer, plain)
    }

    #[test]
    fn mean_and_small_intervals() {
        assert!(mean(&[]).is_nan());
        assert_eq!(mean(&[1.0, 2.0, 3.0]), 2.0);
        let one = t_interval(&[0.5], 0.95);
        assert_eq!(one.mean, 0.5);
        assert!(one.lo.is_nan() && one.hi.is_nan());
        assert_eq!(one.n, 1);
        let none = t_interval(&[], 0.95);
        assert!(none.mean.is_nan() && none.lo.is_nan());
        let flat = t_interval(&[0.25; 4], 0.9);
        assert_eq!((flat.lo, flat.mean, flat.hi), (0.25, 0.25, 0.25));
    }

    #[test]
    fn t_quantiles_known_values() {
        // t_{0.975, dof} from scipy 1.17.1's `stats.t.ppf(0.975, dof)`.
        for (dof, want) in [
            (1.0, 12.706_204_736_174_694),
            (2.0, 4.302_652_729_749_462),
            (9.0, 2.262_157_162_798_205),
            (29.0, 2.045_229_642_132_703),
        ] {
            let got = t_upper_quantile(dof, 0.025);
            assert!(
                (got - want).abs() < 1e-12 * want,
                "dof {dof}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn null_counts_are_the_signed_rank_distribution() {
        // n = 3: R+ over {1,2,3} takes 0,1,2,3,3,4,5,6.
        assert_eq!(
            signed_rank_null_counts(&[1, 2, 3]),
            vec![1, 1, 1, 2, 1, 1, 1]
        );
        let c = signed_rank_null_counts(&(1..=50).collect::<Vec<_>>());
        assert_eq!(c.iter().sum::<u64>(), 1u64 << 50);
    }

    #[test]
    fn wilcoxon_edges() {
        assert_eq!(wilcoxon_signed_rank(&[1.0, 2.0], &[1.0, 2.0]), None);
        assert_eq!(wilcoxon_signed_rank(&[], &[]), None);
        // One positive difference: R+ = 1, R- = 0, p = 2 · 1/2 = 1.
        let w = wilcoxon_signed_rank(&[2.0], &[1.0]).unwrap();
        assert_eq!((w.statistic, w.p_value, w.n), (0.0, 1.0, 1));
        assert_eq!(w.method, WilcoxonMethod::Exact);
    }

    #[test]
    fn bootstrap_is_deterministic_and_sensible() {
        let (num, den) = regrets(30, 7);
        let a = bootstrap_ratio_interval(&num, &den, 0.95, 2000, 42);
        let b = bootstrap_ratio_interval(&num, &den, 0.95, 2000, 42);
        assert_eq!(a, b, "same seed, same interval");
        let c = bootstrap_ratio_interval(&num, &den, 0.95, 2000, 43);
        assert_ne!(a, c, "another seed, another resampling");
        assert_eq!(a.n, 30);
        assert_eq!(a.mean, mean(&num) / mean(&den));
        assert!(a.lo < a.mean && a.mean < a.hi, "{a:?}");
        // A 90% interval sits inside the 95% one for the same resamples.
        let narrow = bootstrap_ratio_interval(&num, &den, 0.90, 2000, 42);
        assert!(a.lo <= narrow.lo && narrow.hi <= a.hi);

        let (num_big, den_big) = regrets(600, 7);
        let big = bootstrap_ratio_interval(&num_big, &den_big, 0.95, 2000, 42);
        assert!(big.lo < big.mean && big.mean < big.hi, "{big:?}");
        assert!(
            big.hi - big.lo < 0.5 * (a.hi - a.lo),
            "20x the data should shrink the interval: {big:?} vs {a:?}"
        );
    }

    #[test]
    fn bootstrap_degenerate_inputs() {
        let e = bootstrap_ratio_interval(&[], &[], 0.95, 100, 1);
        assert!(e.mean.is_nan() && e.lo.is_nan() && e.hi.is_nan());
        let z = bootstrap_ratio_interval(&[1.0, 2.0], &[0.0, 0.0], 0.95, 100, 1);
        assert!(z.lo.is_nan() && z.hi.is_nan());
        let r = bootstrap_ratio_interval(&[1.0, 2.0], &[1.0, 2.0], 0.95, 0, 1);
        assert_eq!(r.mean, 1.0);
        assert!(r.lo.is_nan());
    }
}
