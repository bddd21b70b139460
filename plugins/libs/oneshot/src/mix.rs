//! Mixing weights: row-wise softmax of α, its vector-Jacobian product (∂L/∂α from ∂L/∂mix),
//! the entropy of the mixing distributions, and the f32 matrices that cross the ABI.
//!
//! Every matrix here is row-major, `rows = layout edges`, `cols = candidates per edge`, in f64;
//! only the copy handed to the supernet is f32.

use xnas_core::{Matrix, PluginError, PluginResult};

/// Row-wise softmax of `logits` (`cols` per row), shifted by each row's maximum for stability.
pub fn softmax(logits: &[f64], cols: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(logits.len());
    for row in logits.chunks(cols) {
        let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let exps: Vec<f64> = row.iter().map(|x| (x - max).exp()).collect();
        let sum: f64 = exps.iter().sum();
        out.extend(exps.iter().map(|e| e / sum));
    }
    out
}

/// ∂L/∂logits of `p = softmax(logits)` given `grad = ∂L/∂p`, row by row:
/// `p_k · (g_k − Σ_j p_j g_j)` (the softmax Jacobian `diag(p) − p pᵀ` applied to `g`).
pub fn softmax_backward(p: &[f64], grad: &[f64], cols: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(p.len());
    for (pr, gr) in p.chunks(cols).zip(grad.chunks(cols)) {
        let dot: f64 = pr.iter().zip(gr).map(|(a, b)| a * b).sum();
        out.extend(pr.iter().zip(gr).map(|(pk, gk)| pk * (gk - dot)));
    }
    out
}

/// Mean over rows of the entropy `−Σ p ln p` (nats); 0 ln 0 counts as 0.
pub fn mean_entropy(p: &[f64], cols: usize) -> f64 {
    let rows = p.len() / cols.max(1);
    if rows == 0 {
        return 0.0;
    }
    let total: f64 = p.iter().filter(|&&x| x > 0.0).map(|&x| -x * x.ln()).sum();
    total / rows as f64
}

/// The f32 matrix handed to a supernet.
pub fn to_matrix(values: &[f64], cols: usize) -> Matrix {
    let rows = values.len() / cols.max(1);
    Matrix::new(rows, cols, values.iter().map(|&x| x as f32).collect())
}

/// A supernet's ∂L/∂mix as f64, refused unless it has the mix's shape and finite values.
pub fn from_grad(grad: &Matrix, rows: usize, cols: usize) -> PluginResult<Vec<f64>> {
    if grad.rows as usize != rows || grad.cols as usize != cols || grad.data.len() != rows * cols {
        return Err(PluginError::data(format!(
            "the supernet returned a {}×{} gradient for a {rows}×{cols} mix",
            grad.rows, grad.cols
        )));
    }
    if let Some(bad) = grad.data.iter().find(|x| !x.is_finite()) {
        return Err(PluginError::evaluation(format!(
            "the supernet's gradient with respect to the mixing weights is not finite ({bad}); \
             lower the learning rates or the Gumbel temperature floor"
        )));
    }
    Ok(grad.data.iter().map(|&x| f64::from(x)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_matches_hand_computed_values() {
        // e^0, e^1, e^2 over their sum 1 + e + e² = 11.107337927...
        let p = softmax(&[0.0, 1.0, 2.0, 5.0, 5.0, 5.0], 3);
        let s = 1.0 + 1f64.exp() + 2f64.exp();
        let want = [1.0 / s, 1f64.exp() / s, 2f64.exp() / s];
        for (a, b) in p[..3].iter().zip(want) {
            assert!((a - b).abs() < 1e-15, "{a} vs {b}");
        }
        assert!((p[0] - 0.090_030_573_170_380_46).abs() < 1e-15);
        for x in &p[3..] {
            assert!((x - 1.0 / 3.0).abs() < 1e-15);
        }
        // Large logits do not overflow.
        let p = softmax(&[1000.0, 1000.0], 2);
        assert_eq!(p, vec![0.5, 0.5]);
    }

    #[test]
    fn softmax_backward_matches_finite_differences() {
        let logits = [0.3, -1.2, 0.7, 2.0, 0.1, -0.4, 0.0, 0.9];
        let cols = 4;
        // L = Σ c_i p_i with fixed c: ∂L/∂p = c.
        let c = [1.5, -2.0, 0.25, 3.0, -1.0, 0.5, 2.5, -0.75];
        let loss = |l: &[f64]| -> f64 {
            softmax(l, cols)
                .iter()
                .zip(&c)
                .map(|(p, c)| p * c)
                .sum::<f64>()
        };
        let p = softmax(&logits, cols);
        let g = softmax_backward(&p, &c, cols);
        let h = 1e-6;
        for i in 0..logits.len() {
            let mut up = logits;
            let mut down = logits;
            up[i] += h;
            down[i] -= h;
            let fd = (loss(&up) - loss(&down)) / (2.0 * h);
            assert!((fd - g[i]).abs() < 1e-8, "logit {i}: {fd} vs {}", g[i]);
        }
        // Each row of the gradient sums to 0 (softmax is shift-invariant).
        for row in g.chunks(cols) {
            assert!(row.iter().sum::<f64>().abs() < 1e-12);
        }
    }

    #[test]
    fn softmax_backward_by_hand() {
        // p = (0.5, 0.5), g = (1, 0): ⟨p, g⟩ = 0.5, so (0.5·0.5, 0.5·(−0.5)).
        assert_eq!(
            softmax_backward(&[0.5, 0.5], &[1.0, 0.0], 2),
            vec![0.25, -0.25]
        );
    }

    #[test]
    fn entropy_of_uniform_and_one_hot_rows() {
        let e = mean_entropy(&[0.25, 0.25, 0.25, 0.25, 1.0, 0.0, 0.0, 0.0], 4);
        assert!((e - 4f64.ln() / 2.0).abs() < 1e-15, "{e}");
    }

    #[test]
    fn gradients_of_the_wrong_shape_or_not_finite_are_refused() {
        let g = Matrix::new(2, 2, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(from_grad(&g, 2, 2).unwrap(), vec![1.0, 2.0, 3.0, 4.0]);
        let e = from_grad(&g, 4, 1).unwrap_err();
        assert!(e.message().contains("2×2 gradient for a 4×1 mix"), "{e}");
        let g = Matrix::new(1, 2, vec![1.0, f32::NAN]);
        assert!(from_grad(&g, 1, 2)
            .unwrap_err()
            .message()
            .contains("not finite"));
        let m = to_matrix(&[0.5, 0.25, 0.125, 0.125], 2);
        assert_eq!((m.rows, m.cols), (2, 2));
        assert_eq!(m.row(1), &[0.125, 0.125]);
    }
}
