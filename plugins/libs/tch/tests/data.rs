//! xnas_tch::data: a task read by xnas_data becomes tensors with the same values, and the
//! per-process cache hands out the same storage. On the real `digits` preset (`make images`; the
//! tests fail, never skip, when it is missing). The readers, the split and the errors are tested
//! in plugins/libs/data/tests/data.rs.

use std::path::Path;
use xnas_tch::data::{default_data_dir, load_task, load_task_cached, DatasetSpec, ImageSet};
use xnas_tch::tch::Kind;

fn digits(split_seed: u64) -> DatasetSpec {
    DatasetSpec {
        split_seed,
        ..DatasetSpec::preset("digits")
    }
}

fn same_values(set: &ImageSet, split: &xnas_data::Split, shape: [usize; 3]) {
    let [c, h, w] = shape.map(|x| x as i64);
    assert_eq!(set.images.size(), [split.len() as i64, c, h, w]);
    assert_eq!(set.images.kind(), Kind::Float);
    assert_eq!(set.labels.kind(), Kind::Int64);
    let images = Vec::<f32>::try_from(&set.images.flatten(0, -1)).unwrap();
    assert_eq!(images, split.images, "pixels are copied bit for bit");
    assert_eq!(Vec::<i64>::try_from(&set.labels).unwrap(), split.labels);
}

#[test]
fn tensors_hold_the_rows_xnas_data_reads() {
    let (base, data) = (Path::new("."), default_data_dir());
    let rows =
        xnas_data::read_task("digits", &digits(3), base, &data).unwrap_or_else(|e| panic!("{e}"));
    let t = load_task("digits", &digits(3), base, &data).unwrap();
    assert_eq!((t.classes, t.shape), (rows.classes, rows.shape));
    assert_eq!((&t.mean, &t.std), (&rows.mean, &rows.std));
    same_values(&t.train, &rows.train, t.shape);
    same_values(&t.valid, &rows.valid, t.shape);
    assert!(t.test.is_none() && rows.test.is_none());
}

#[test]
fn the_cache_shares_storage_per_spec() {
    let (base, data) = (Path::new("."), default_data_dir());
    let a = load_task_cached("digits", &digits(5), base, &data).unwrap_or_else(|e| panic!("{e}"));
    let b = load_task_cached("digits", &digits(5), base, &data).unwrap();
    assert_eq!(a.train.images.data_ptr(), b.train.images.data_ptr());
    let other = load_task_cached("digits", &digits(6), base, &data).unwrap();
    assert_ne!(a.train.images.data_ptr(), other.train.images.data_ptr());
}
