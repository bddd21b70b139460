//! For testing a head through the ABI (`HeadBox`), as an optimizer in another library drives it:
//! random inputs, a squared-error loss with its gradient by hand, and a finite-difference check of
//! `backward`.

use xnas_core::{Head, HeadBox, HeadSpec, Matrix, SplitMix64};

/// A head named `predictor` of the given widths, for `tasks` (empty: one task).
pub fn head_spec(
    in_features: u32,
    hidden: &[u32],
    out_features: u32,
    tasks: &[&str],
    seed: u64,
) -> HeadSpec {
    HeadSpec {
        name: "predictor".into(),
        in_features,
        out_features,
        hidden: hidden.iter().copied().collect(),
        tasks: tasks.iter().map(|&t| t.into()).collect(),
        seed,
    }
}

/// A `rows` × `cols` matrix of values uniform in [-1, 1).
pub fn uniform(rng: &mut SplitMix64, rows: usize, cols: usize) -> Matrix {
    let data = (0..rows * cols)
        .map(|_| (rng.next_f64() * 2.0 - 1.0) as f32)
        .collect();
    Matrix::new(rows, cols, data)
}

/// Mean squared error of one-column predictions and its gradient w.r.t. the predictions.
pub fn mse(pred: &Matrix, target: &[f32]) -> (f64, Matrix) {
    let n = target.len();
    let diff: Vec<f32> = pred.data.iter().zip(target).map(|(p, y)| p - y).collect();
    let loss = diff.iter().map(|d| f64::from(d * d)).sum::<f64>() / n as f64;
    let grad = diff.iter().map(|d| 2.0 * d / n as f32).collect();
    (loss, Matrix::new(n, 1, grad))
}

/// Asserts that `backward(g)` after `forward(x, tasks)` is the gradient of ⟨f(x), g⟩ w.r.t. `x`:
/// within 1e-3 of central differences (step 1e-2) in every entry, and not all zero.
///
/// # Panics
///
/// When a call fails or the gradients differ.
pub fn assert_feature_gradient(head: &mut HeadBox, x: &Matrix, tasks: &[u32], g: &Matrix) {
    let mut objective = |x: &Matrix| -> f64 {
        let out = head.forward(x, tasks, false).unwrap();
        out.data
            .iter()
            .zip(g.data.iter())
            .map(|(o, g)| f64::from(o * g))
            .sum()
    };
    let h = 1e-2f32;
    let mut numeric = Vec::new();
    for i in 0..x.data.len() {
        let (mut plus, mut minus) = (x.clone(), x.clone());
        plus.data[i] += h;
        minus.data[i] -= h;
        numeric.push((objective(&plus) - objective(&minus)) / (2.0 * f64::from(h)));
    }
    head.forward(x, tasks, false).unwrap();
    let analytic = head.backward(g).unwrap();
    assert_eq!((analytic.rows, analytic.cols), (x.rows, x.cols));
    for (a, n) in analytic.data.iter().zip(&numeric) {
        assert!(
            (f64::from(*a) - n).abs() < 1e-3,
            "analytic {:?} numeric {numeric:?}",
            analytic.data
        );
    }
    assert!(analytic.data.iter().any(|&a| a != 0.0));
}
