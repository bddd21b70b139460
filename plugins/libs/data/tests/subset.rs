//! Class-subset tasks (`classes = [..]`): the rows kept and relabelled in the listed order, in
//! the training and test files, before the split; on the real digits preset and on small CSV
//! files whose pixels carry their row number; and the refusals, one sentence each.

use std::path::Path;
use xnas_data::{read_task, DataError, DatasetSpec, Task};

fn spec(toml_text: &str) -> DatasetSpec {
    #[derive(serde::Deserialize)]
    struct W {
        d: DatasetSpec,
    }
    toml::from_str::<W>(&format!("d = {toml_text}"))
        .unwrap_or_else(|e| panic!("{toml_text}: {e}"))
        .d
}

fn read(dir: &Path, toml_text: &str) -> Result<Task, DataError> {
    read_task("sub", &spec(toml_text), dir, &xnas_data::default_data_dir())
}

fn histogram(labels: &[i64], classes: usize) -> Vec<usize> {
    let mut h = vec![0; classes];
    for &l in labels {
        h[l as usize] += 1;
    }
    h
}

/// `rows` rows of label `label(i)` and pixels `[i, 0]` (scale 100000: raw value i / 100000).
fn write_csv(path: &Path, rows: usize, label: impl Fn(usize) -> usize) {
    let mut text = String::new();
    for i in 0..rows {
        text.push_str(&format!("{},{i},0\n", label(i)));
    }
    std::fs::write(path, text).unwrap();
}

/// The original row number of every image of a split.
fn row_ids(t: &Task, images: &[f32]) -> Vec<usize> {
    images
        .chunks(2)
        .map(|px| ((px[0] * t.std[0] + t.mean[0]) as f64 * 100000.0).round() as usize)
        .collect()
}

#[test]
fn digits_subset_keeps_three_classes_relabelled_in_the_listed_order() {
    let t = read(
        Path::new("."),
        r#"{ preset = "digits", classes = [7, 2, 5] }"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.classes, 3);
    assert_eq!(t.shape, [1, 8, 8]);
    // digits has 179 sevens, 177 twos and 182 fives; a tenth of the 538 rows is validation.
    let mut all = t.train.labels.clone();
    all.extend(&t.valid.labels);
    assert_eq!(histogram(&all, 3), vec![179, 177, 182]);
    assert_eq!(t.valid.len(), 54);
    assert_eq!(t.train.images.len(), t.train.len() * 64);
}

#[test]
fn rows_keep_their_pixels_and_the_test_file_is_subset_too() {
    let dir = tempfile::tempdir().unwrap();
    write_csv(&dir.path().join("train.csv"), 300, |i| i % 5);
    write_csv(&dir.path().join("test.csv"), 50, |i| (i * 3) % 5);
    let t = read(
        dir.path(),
        r#"{ format = "csv", train = "train.csv", test = "test.csv", shape = [1, 1, 2], scale = 100000, valid = 30, classes = [4, 1] }"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.classes, 2);
    // 60 rows of class 4 and 60 of class 1; 30 of them held out.
    assert_eq!((t.train.len(), t.valid.len()), (90, 30));
    for (split, images) in [(&t.train, &t.train.images), (&t.valid, &t.valid.images)] {
        for (row, label) in row_ids(&t, images).into_iter().zip(&split.labels) {
            let want = if row % 5 == 4 { 0 } else { 1 };
            assert!(
                row % 5 == 4 || row % 5 == 1,
                "row {row} is of another class"
            );
            assert_eq!(*label, want, "row {row}");
        }
    }
    let test = t.test.as_ref().unwrap();
    let rows = row_ids(&t, &test.images);
    // Test rows of class 4 or 1, in file order: i·3 mod 5 ∈ {4, 1} ⇔ i mod 5 ∈ {3, 2}.
    let want: Vec<usize> = (0..50).filter(|i| i % 5 == 3 || i % 5 == 2).collect();
    assert_eq!(rows, want);
    let want_labels: Vec<i64> = want
        .iter()
        .map(|i| if (i * 3) % 5 == 4 { 0 } else { 1 })
        .collect();
    assert_eq!(test.labels, want_labels);
}

#[test]
fn bad_class_lists_are_one_sentence_naming_the_task() {
    let dir = tempfile::tempdir().unwrap();
    // Labels 0 and 2 only: the file has 3 classes, class 1 has no rows.
    write_csv(&dir.path().join("gap.csv"), 40, |i| 2 * (i % 2));
    let cases = [
        (
            r#"{ preset = "digits", classes = [3, 12] }"#,
            "dataset of task `sub`: `classes` lists class 12, but the dataset has 10 classes \
             (0 to 9): list classes below 10",
        ),
        (
            r#"{ preset = "digits", classes = [3, 1, 3] }"#,
            "dataset of task `sub`: `classes` lists class 3 twice: each class once, in the order \
             of its new label",
        ),
        (
            r#"{ preset = "digits", classes = [4] }"#,
            "dataset of task `sub`: `classes = [4]` keeps 1 class: a class-subset task needs at \
             least two (or remove `classes` to keep them all)",
        ),
        (
            r#"{ preset = "digits", classes = [0, -1] }"#,
            "dataset of task `sub`: `classes` lists -1: classes are label values from 0",
        ),
        (
            r#"{ format = "csv", train = "gap.csv", shape = [1, 1, 2], classes = [0, 1] }"#,
            "dataset of task `sub`: class 1 of `classes` has no rows in the training file: list \
             classes it holds",
        ),
    ];
    for (text, want) in cases {
        match read(dir.path(), text) {
            Ok(_) => panic!("{text}: accepted"),
            Err(e) => {
                assert_eq!(e.to_string(), want, "{text}");
                assert!(e.is_spec_error(), "{text}");
            }
        }
    }
}
