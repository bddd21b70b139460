//! Per-task normalisation of metrics before histories of several tasks are pooled
//! (XferNAS, Wistuba 2019, arXiv 1907.08307: the tasks' accuracy scales differ).
//!
//! Failed observations (NaN metric) get 0, the worst normalised value: an optimizer should learn
//! to avoid them, not forget them.

use xnas_core::{ranks, Normalise};

/// Normalises `metrics[i]` within its task `tasks[i]` (any ids). Results are in [0, 1].
/// A task whose finite metrics are all equal gets 0.5 for each of them.
pub fn per_task(tasks: &[usize], metrics: &[f64], how: Normalise) -> Vec<f32> {
    assert_eq!(tasks.len(), metrics.len(), "one task per metric");
    let mut out = vec![0.0f32; metrics.len()];
    let mut ids: Vec<usize> = tasks.to_vec();
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        let rows: Vec<usize> = (0..tasks.len())
            .filter(|&i| tasks[i] == id && metrics[i].is_finite())
            .collect();
        if rows.is_empty() {
            continue;
        }
        if how == Normalise::RANK {
            // Average ranks for ties (xnas_core::rank), scaled so the worst is 0 and the best 1.
            let values: Vec<f64> = rows.iter().map(|&i| metrics[i]).collect();
            let n = rows.len();
            for (&i, rank) in rows.iter().zip(ranks(&values)) {
                let value = if n > 1 {
                    (rank - 1.0) / (n - 1) as f64
                } else {
                    0.5
                };
                out[i] = value as f32;
            }
        } else {
            let lo = rows
                .iter()
                .map(|&i| metrics[i])
                .fold(f64::INFINITY, f64::min);
            let hi = rows
                .iter()
                .map(|&i| metrics[i])
                .fold(f64::NEG_INFINITY, f64::max);
            for &i in &rows {
                out[i] = if hi > lo {
                    ((metrics[i] - lo) / (hi - lo)) as f32
                } else {
                    0.5
                };
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_max_is_per_task_and_failures_are_worst() {
        let tasks = [0, 0, 0, 1, 1, 1];
        let m = [0.5, 0.7, 0.6, 10.0, 30.0, f64::NAN];
        let y = per_task(&tasks, &m, Normalise::MIN_MAX);
        assert_eq!(y, vec![0.0, 1.0, 0.5, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn rank_averages_ties_and_single_values_are_middle() {
        let tasks = [3, 3, 3, 3, 9];
        let m = [0.1, 0.2, 0.2, 0.9, 0.4];
        let y = per_task(&tasks, &m, Normalise::RANK);
        assert_eq!(y, vec![0.0, 0.5, 0.5, 1.0, 0.5]);
    }
}
