//! Class-subset tasks (`classes = [3, 1, 4]`): the rows of the listed classes of a dataset,
//! relabelled 0..k in the listed order. Meta-learning samples tasks this way (BASE, Shaw et al.
//! 2019, draws 10-class tasks from ImageNet); a subset is a task of its own for every plugin.
//! The subset is taken from the training and test files before the train/valid split, so
//! `valid`, `limit_train` and normalisation see only the subset's rows.

use super::error::DataError;
use super::read::{Pixels, Raw};

/// Checks the list alone: not empty, at least two classes, none negative, none twice.
pub(crate) fn check(task: &str, classes: &[i64]) -> Result<(), DataError> {
    let err = |message: String| DataError::Spec {
        task: task.to_string(),
        message,
    };
    if classes.len() < 2 {
        return Err(err(format!(
            "`classes = {classes:?}` keeps {} class{}: a class-subset task needs at least two \
             (or remove `classes` to keep them all)",
            classes.len(),
            if classes.len() == 1 { "" } else { "es" }
        )));
    }
    if let Some(c) = classes.iter().find(|&&c| c < 0) {
        return Err(err(format!(
            "`classes` lists {c}: classes are label values from 0"
        )));
    }
    for (i, c) in classes.iter().enumerate() {
        if classes[..i].contains(c) {
            return Err(err(format!(
                "`classes` lists class {c} twice: each class once, in the order of its new label"
            )));
        }
    }
    Ok(())
}

/// Keeps the rows of `classes` (checked by [`check`]) in `train` and `test`, relabelled by
/// position in the list; the dataset has `total` classes. Returns the new class count.
pub(crate) fn apply(
    task: &str,
    classes: &[i64],
    total: usize,
    train: &mut Raw,
    test: Option<&mut Raw>,
) -> Result<usize, DataError> {
    let err = |message: String| DataError::Spec {
        task: task.to_string(),
        message,
    };
    if let Some(c) = classes.iter().find(|&&c| c as usize >= total) {
        return Err(err(format!(
            "`classes` lists class {c}, but the dataset has {total} classes (0 to {}): list \
             classes below {total}",
            total.saturating_sub(1)
        )));
    }
    keep(train, classes);
    let mut seen = vec![false; classes.len()];
    for &l in &train.labels {
        seen[l as usize] = true;
    }
    if let Some(k) = seen.iter().position(|s| !s) {
        return Err(err(format!(
            "class {} of `classes` has no rows in the training file: list classes it holds",
            classes[k]
        )));
    }
    if let Some(t) = test {
        keep(t, classes);
    }
    Ok(classes.len())
}

/// Keeps the rows whose label is in `classes`, in file order, relabelled by position.
fn keep(raw: &mut Raw, classes: &[i64]) {
    let d = raw.row_len();
    let rows: Vec<(usize, i64)> = raw
        .labels
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            classes
                .iter()
                .position(|c| c == l)
                .map(|new| (i, new as i64))
        })
        .collect();
    fn pick<T: Copy>(v: &[T], rows: &[(usize, i64)], d: usize) -> Vec<T> {
        let mut out = Vec::with_capacity(rows.len() * d);
        for &(i, _) in rows {
            out.extend_from_slice(&v[i * d..(i + 1) * d]);
        }
        out
    }
    raw.pixels = match &raw.pixels {
        Pixels::U8(v) => Pixels::U8(pick(v, &rows, d)),
        Pixels::F32(v) => Pixels::F32(pick(v, &rows, d)),
    };
    raw.labels = rows.into_iter().map(|(_, l)| l).collect();
}
