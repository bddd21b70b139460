//! Average ranks and Spearman's rank correlation: one implementation for the host's statistics,
//! the per-task rank normalisation of pooled histories (`xnas_tch::normalise`), the
//! `landmark-archs` similarity plugin, the benchmarks and the tests.
//! `host/tests/stats_vs_scipy.rs` checks both against scipy.

/// 1-based ranks, ties getting the average of the ranks they span
/// (`scipy.stats.rankdata(xs, method="average")`). Any NaN makes every rank NaN, as scipy's
/// default `nan_policy="propagate"` does.
pub fn ranks(xs: &[f64]) -> Vec<f64> {
    if xs.iter().any(|v| v.is_nan()) {
        return vec![f64::NAN; xs.len()];
    }
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut out = vec![0.0; xs.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        // `==` rather than total_cmp so that -0.0 and 0.0 tie, as in numpy.
        while j < order.len() && xs[order[j]] == xs[order[i]] {
            j += 1;
        }
        // Positions i..j (0-based) hold ranks i+1..=j; their average is (i + 1 + j) / 2.
        let avg = (i + 1 + j) as f64 / 2.0;
        for &k in &order[i..j] {
            out[k] = avg;
        }
        i = j;
    }
    out
}

/// Spearman's rank correlation: the Pearson correlation of the average ranks
/// (`scipy.stats.spearmanr(a, b).statistic`). NaN when either side is constant or has fewer than
/// two values.
///
/// # Panics
/// If `a` and `b` differ in length.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(
        a.len(),
        b.len(),
        "spearman: a and b must have the same length"
    );
    if a.len() < 2 {
        return f64::NAN;
    }
    pearson(&ranks(a), &ranks(b))
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (ma, mb) = (mean(a), mean(b));
    let mut sab = 0.0;
    let mut saa = 0.0;
    let mut sbb = 0.0;
    for (x, y) in a.iter().zip(b) {
        let (dx, dy) = (x - ma, y - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    if saa == 0.0 || sbb == 0.0 {
        return f64::NAN;
    }
    (sab / (saa * sbb).sqrt()).clamp(-1.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_average_ties() {
        assert_eq!(ranks(&[3.0, 1.0, 2.0, 2.0]), vec![4.0, 1.0, 2.5, 2.5]);
        assert_eq!(ranks(&[5.0, 1.0, 5.0, 3.0]), vec![3.5, 1.0, 3.5, 2.0]);
        assert!(ranks(&[1.0, f64::NAN]).iter().all(|r| r.is_nan()));
        assert!(ranks(&[]).is_empty());
    }

    #[test]
    fn spearman_edges() {
        assert!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_nan());
        let up = spearman(&[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0, 40.0, 45.0]);
        assert!((up - 1.0).abs() < 1e-15, "{up}");
        let down = spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]);
        assert!((down + 1.0).abs() < 1e-15, "{down}");
        // Ties: ranks (1.5, 1.5, 3) vs (1, 2, 3): rho = 0.866...
        let r = spearman(&[1.0, 1.0, 2.0], &[1.0, 2.0, 3.0]);
        assert!((r - 0.866_025_403_784_438_6).abs() < 1e-12, "{r}");
    }
}
