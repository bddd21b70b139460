//! The xfer heads driven only through the ABI (`head_factory_box` → `HeadBox`), as an optimizer in
//! another library drives them: forward → loss gradient by hand → backward → step.

use std::collections::HashMap;
use std::io::Cursor;
use xnas_core::{
    head_factory_box, ErrorKind, Head, HeadBox, HeadFactory, HeadSpec, Matrix, SplitMix64,
};
use xnas_tch::tch::{Device, Tensor};
use xnas_tch::{HeadConfig, PlainHeadFactory};
use xnas_testkit::head::{assert_feature_gradient, head_spec, mse, uniform};
use xnas_xfer_xfer::{XferHeadFactory, XferParams};

const TASKS: [&str; 3] = ["citeseer", "pubmed", "cora"];
const A: u32 = 0;
const B: u32 = 1;
const TARGET: u32 = 2;

fn spec(in_features: u32, hidden: &[u32], out_features: u32, seed: u64) -> HeadSpec {
    head_spec(in_features, hidden, out_features, &TASKS, seed)
}

fn xfer(params: XferParams, spec: &HeadSpec) -> HeadBox {
    head_factory_box(XferHeadFactory::new(params, TASKS.len()))
        .make_head(spec)
        .unwrap()
}

fn fast() -> XferParams {
    XferParams {
        lr: 1e-2,
        residual_lr: Some(1e-2),
        ..XferParams::default()
    }
}

fn train_step(head: &mut HeadBox, x: &Matrix, tasks: &[u32], y: &[f32]) -> f64 {
    let pred = head.forward(x, tasks, true).unwrap();
    let (loss, grad) = mse(&pred, y);
    head.backward(&grad).unwrap();
    head.step().unwrap();
    loss
}

/// Named tensors of a saved head state.
fn state_tensors(state: &[u8]) -> HashMap<String, Tensor> {
    let tensors = xnas_xfer_xfer::head::saved_tensors(state).unwrap();
    Tensor::load_multi_from_stream_with_device(Cursor::new(tensors), Device::Cpu)
        .unwrap()
        .into_iter()
        .collect()
}

fn values(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.flatten(0, -1)).unwrap()
}

/// The universal part of a saved xfer state is a plain head's state: this plain head computes
/// exactly the universal output.
fn universal_of(xfer_state: &[u8], spec: &HeadSpec) -> HeadBox {
    let named: Vec<(String, Tensor)> = state_tensors(xfer_state)
        .into_iter()
        .filter_map(|(n, t)| n.strip_prefix("universal.").map(|n| (n.to_string(), t)))
        .collect();
    let mut bytes = Vec::new();
    Tensor::save_multi_to_stream(&named, &mut bytes).unwrap();
    let mut plain = head_factory_box(PlainHeadFactory::new(HeadConfig::default(), Device::Cpu))
        .make_head(spec)
        .unwrap();
    plain.load_state(&bytes).unwrap();
    plain
}

/// Two related tasks: a shared function plus a task-specific term of opposite sign.
fn structured(x: &Matrix, task: u32) -> Vec<f32> {
    (0..x.rows as usize)
        .map(|r| {
            let v = x.row(r);
            let shared = v[0] + v[1] * v[2];
            let own = 0.8 * v[3] + 0.3;
            if task == A {
                shared + own
            } else {
                shared - own
            }
        })
        .collect()
}

#[test]
fn factory_describes_itself_and_plans_from_params() {
    let params = XferParams {
        phase_switch: 7,
        normalise: xnas_core::Normalise::RANK,
        ..XferParams::default()
    };
    let factory = head_factory_box(XferHeadFactory::new(params, 9));
    assert_eq!(factory.describe(), "xfer: universal + 9 residuals");
    assert!(factory.uses_all_tasks());
    let plan = factory.plan();
    assert_eq!(plan.phase_switch, 7);
    assert_eq!(plan.normalise, xnas_core::Normalise::RANK);
}

#[test]
fn untrained_head_is_the_plain_head_and_an_untrained_target_stays_universal() {
    let mut rng = SplitMix64::new(4);
    let s = spec(4, &[16], 1, 21);
    let mut head = xfer(fast(), &s);
    let x = uniform(&mut rng, 12, 4);
    let tasks: Vec<u32> = (0..12).map(|r| r % 3).collect();
    // Before any training every residual is zero: each task's output is the universal one, and
    // the universal part is the plain head of the same spec.
    let mut plain = head_factory_box(PlainHeadFactory::new(HeadConfig::default(), Device::Cpu))
        .make_head(&s)
        .unwrap();
    assert_eq!(
        head.forward(&x, &tasks, false).unwrap(),
        plain.forward(&x, &tasks, false).unwrap()
    );

    // Train on the two source tasks only.
    let xa = uniform(&mut rng, 32, 4);
    let xs = Matrix::new(
        64,
        4,
        xa.data.iter().chain(xa.data.iter()).copied().collect(),
    );
    let ts: Vec<u32> = (0..64).map(|r| if r < 32 { A } else { B }).collect();
    let ys: Vec<f32> = structured(&xa, A)
        .into_iter()
        .chain(structured(&xa, B))
        .collect();
    for _ in 0..30 {
        train_step(&mut head, &xs, &ts, &ys);
    }
    let mut universal = universal_of(&head.save_state().unwrap(), &s);
    let expected = universal.forward(&x, &tasks, false).unwrap();
    let target_rows = head.forward(&x, &[TARGET; 12], false).unwrap();
    assert_eq!(
        target_rows, expected,
        "a task with no rows yet is predicted by the universal part exactly"
    );
    assert_ne!(
        expected,
        plain.forward(&x, &tasks, false).unwrap(),
        "the universal part trained"
    );
    let source_rows = head.forward(&x, &[A; 12], false).unwrap();
    assert_ne!(source_rows, expected, "a trained task has its own residual");
}

#[test]
fn joint_training_fits_each_task_better_than_the_universal_part_alone() {
    let mut rng = SplitMix64::new(17);
    let s = spec(4, &[32], 1, 3);
    let mut head = xfer(fast(), &s);
    let (n, test_n) = (96, 64);
    let xa = uniform(&mut rng, n, 4);
    let xb = uniform(&mut rng, n, 4);
    let x = Matrix::new(
        2 * n,
        4,
        xa.data.iter().chain(xb.data.iter()).copied().collect(),
    );
    let tasks: Vec<u32> = (0..2 * n).map(|r| if r < n { A } else { B }).collect();
    let y: Vec<f32> = structured(&xa, A)
        .into_iter()
        .chain(structured(&xb, B))
        .collect();
    let first = train_step(&mut head, &x, &tasks, &y);
    let mut last = first;
    for _ in 0..200 {
        last = train_step(&mut head, &x, &tasks, &y);
    }
    assert!(last < first / 10.0, "joint loss {first} → {last}");

    // On fresh points of each task: its own output g_u + r_task against g_u alone.
    let mut universal = universal_of(&head.save_state().unwrap(), &s);
    for task in [A, B] {
        let xt = uniform(&mut rng, test_n, 4);
        let yt = structured(&xt, task);
        let own = mse(&head.forward(&xt, &vec![task; test_n], false).unwrap(), &yt).0;
        let shared = mse(
            &universal.forward(&xt, &vec![0; test_n], false).unwrap(),
            &yt,
        )
        .0;
        assert!(
            own < shared / 4.0,
            "task {task}: residual head {own:.4}, universal only {shared:.4}"
        );
    }
}

#[test]
fn a_residual_gets_no_gradient_from_another_tasks_rows() {
    let mut rng = SplitMix64::new(5);
    let s = spec(3, &[8], 2, 9);
    let mut head = xfer(fast(), &s);
    // Both tasks first, so A's residual has non-zero weights and Adam moments.
    let x = uniform(&mut rng, 16, 3);
    let tasks: Vec<u32> = (0..16).map(|r| r % 2).collect();
    let g = uniform(&mut rng, 16, 2);
    for _ in 0..3 {
        head.forward(&x, &tasks, true).unwrap();
        head.backward(&g).unwrap();
        head.step().unwrap();
    }
    let before = state_tensors(&head.save_state().unwrap());
    // Now rows of B only, several steps.
    let xb = uniform(&mut rng, 8, 3);
    for _ in 0..3 {
        head.forward(&xb, &[B; 8], true).unwrap();
        head.backward(&uniform(&mut rng, 8, 2)).unwrap();
        head.step().unwrap();
    }
    let after = state_tensors(&head.save_state().unwrap());
    let changed = |prefix: &str| -> (usize, usize) {
        let keys: Vec<&String> = before.keys().filter(|k| k.starts_with(prefix)).collect();
        assert!(!keys.is_empty(), "{prefix}");
        let n = keys
            .iter()
            .filter(|k| values(&before[**k]) != values(&after[**k]))
            .count();
        (n, keys.len())
    };
    let (a_changed, a_total) = changed("residual.citeseer.");
    assert_eq!(a_changed, 0, "A's residual moved on B's rows");
    // Two layers (4 tensors), each with both Adam moments, and the step count.
    assert_eq!(a_total, 4 * 3 + 1);
    assert!(changed("residual.pubmed.").0 > 0, "B's residual trained");
    assert!(changed("universal.").0 > 0, "the universal part trained");
    // The target residual never had rows: still zero in its last layer, Adam never stepped.
    assert!(values(&after["residual.cora.param.layer1.weight"])
        .iter()
        .all(|&v| v == 0.0));
    assert_eq!(values(&after["residual.cora.adam.steps"]), [0.0]);
}

/// `source_residual_lr`: told the target, the factory's heads step the sources' residuals at
/// that rate and the target's at `residual_lr` (Adam's first step moves each parameter by about
/// its rate); not told, every residual takes `residual_lr`.
#[test]
fn sources_residuals_learn_at_their_own_rate_once_the_target_is_known() {
    let mut rng = SplitMix64::new(8);
    let s = spec(3, &[8], 2, 4);
    let params = XferParams {
        residual_lr: Some(1e-2),
        source_residual_lr: Some(1e-5),
        ..fast()
    };
    let x = uniform(&mut rng, 12, 3);
    let tasks: Vec<u32> = (0..12).map(|r| r % 3).collect();
    let g = uniform(&mut rng, 12, 2);
    let largest_step = |factory: XferHeadFactory| -> HashMap<&'static str, f32> {
        let mut head = head_factory_box(factory).make_head(&s).unwrap();
        let before = state_tensors(&head.save_state().unwrap());
        head.forward(&x, &tasks, true).unwrap();
        head.backward(&g).unwrap();
        head.step().unwrap();
        let after = state_tensors(&head.save_state().unwrap());
        TASKS
            .iter()
            .map(|&t| {
                let key = format!("residual.{t}.param.layer0.weight");
                let moved = values(&before[&key])
                    .iter()
                    .zip(values(&after[&key]))
                    .map(|(a, b)| (a - b).abs())
                    .fold(0f32, f32::max);
                (t, moved)
            })
            .collect()
    };
    let told = largest_step(XferHeadFactory::new(params.clone(), TASKS.len()).with_target("cora"));
    assert!((told["cora"] - 1e-2).abs() < 1e-3, "{told:?}");
    for source in ["citeseer", "pubmed"] {
        assert!((told[source] - 1e-5).abs() < 1e-6, "{told:?}");
    }
    let untold = largest_step(XferHeadFactory::new(params, TASKS.len()));
    for t in TASKS {
        assert!((untold[t] - 1e-2).abs() < 1e-3, "{untold:?}");
    }
}

#[test]
fn residual_l2_keeps_the_residuals_small() {
    let mut rng = SplitMix64::new(12);
    let s = spec(4, &[16], 1, 6);
    let xa = uniform(&mut rng, 48, 4);
    let xb = uniform(&mut rng, 48, 4);
    let x = Matrix::new(96, 4, xa.data.iter().chain(&xb.data).copied().collect());
    let tasks: Vec<u32> = (0..96).map(|r| if r < 48 { A } else { B }).collect();
    let y: Vec<f32> = structured(&xa, A)
        .into_iter()
        .chain(structured(&xb, B))
        .collect();
    let residual_norm = |residual_l2: f64| -> f64 {
        let mut head = xfer(
            XferParams {
                residual_l2,
                ..fast()
            },
            &s,
        );
        for _ in 0..60 {
            train_step(&mut head, &x, &tasks, &y);
        }
        let state = state_tensors(&head.save_state().unwrap());
        state
            .iter()
            .filter(|(k, _)| {
                k.starts_with("residual.") && k.ends_with(".weight") && k.contains(".param.")
            })
            .map(|(_, t)| values(t).iter().map(|v| f64::from(v * v)).sum::<f64>())
            .sum()
    };
    let (free, penalised) = (residual_norm(0.0), residual_norm(0.5));
    assert!(
        penalised < 0.8 * free,
        "Σ‖W‖² of the residuals: {penalised:.3} with residual_l2 = 0.5, {free:.3} without"
    );
}

#[test]
fn feature_gradient_matches_finite_differences() {
    let mut rng = SplitMix64::new(3);
    let s = spec(3, &[5], 2, 17);
    let mut head = xfer(fast(), &s);
    // Train a little so residuals contribute to the gradient.
    let xt = uniform(&mut rng, 12, 3);
    let tt: Vec<u32> = (0..12).map(|r| r % 3).collect();
    for _ in 0..5 {
        head.forward(&xt, &tt, true).unwrap();
        head.backward(&uniform(&mut rng, 12, 2)).unwrap();
        head.step().unwrap();
    }
    let x = uniform(&mut rng, 3, 3);
    let tasks = [A, TARGET, B];
    let g = uniform(&mut rng, 3, 2);
    assert_feature_gradient(&mut head, &x, &tasks, &g);
}

#[test]
fn saved_state_restores_outputs_and_training() {
    let mut rng = SplitMix64::new(8);
    let x = uniform(&mut rng, 9, 3);
    let tasks: Vec<u32> = (0..9).map(|r| r % 3).collect();
    let y: Vec<f32> = (0..9)
        .map(|r| x.row(r)[0] * (1.0 + r as f32 % 3.0))
        .collect();
    let s = spec(3, &[6, 4], 1, 1);
    let mut a = xfer(XferParams::default(), &s);
    for _ in 0..5 {
        train_step(&mut a, &x, &tasks, &y);
    }
    let state = a.save_state().unwrap();

    // Another seed: other weights until the state is loaded.
    let mut b = xfer(XferParams::default(), &spec(3, &[6, 4], 1, 2));
    assert_ne!(
        a.forward(&x, &tasks, false).unwrap(),
        b.forward(&x, &tasks, false).unwrap()
    );
    b.load_state(&state).unwrap();
    assert_eq!(
        a.forward(&x, &tasks, false).unwrap(),
        b.forward(&x, &tasks, false).unwrap()
    );
    // Adam's moments came along: the next steps agree too.
    for _ in 0..3 {
        train_step(&mut a, &x, &tasks, &y);
        train_step(&mut b, &x, &tasks, &y);
    }
    assert_eq!(
        a.forward(&x, &tasks, false).unwrap(),
        b.forward(&x, &tasks, false).unwrap()
    );

    // A head of other tasks, or of another residual shape, refuses the state and is unchanged.
    let mut other_tasks = spec(3, &[6, 4], 1, 1);
    other_tasks.tasks = ["citeseer", "photo", "cora"]
        .iter()
        .map(|&t| t.into())
        .collect();
    let mut c = xfer(XferParams::default(), &other_tasks);
    let before = c.forward(&x, &tasks, false).unwrap();
    let e = c.load_state(&state).unwrap_err();
    assert_eq!(e.kind, ErrorKind::DATA, "{e}");
    assert!(e.message().contains("`residual.photo."), "{e}");
    assert_eq!(c.forward(&x, &tasks, false).unwrap(), before);
    let wider = XferParams {
        residual_hidden: vec![64],
        ..XferParams::default()
    };
    let mut d = xfer(wider, &s);
    let e = d.load_state(&state).unwrap_err();
    assert!(e.message().contains("this head has"), "{e}");
    let e = d.load_state(b"not a state").unwrap_err();
    assert_eq!(e.kind, ErrorKind::DATA, "{e}");
    assert!(e.message().contains("not a saved xnas state"), "{e}");
    let other = xnas_core::state::encode("nao", 2, &0u8).unwrap();
    let e = d.load_state(&other).unwrap_err();
    assert!(e.message().contains("state of `nao`"), "{e}");
}

#[test]
fn bad_task_indices_and_misuse_are_errors() {
    let mut h = xfer(XferParams::default(), &spec(3, &[], 2, 0));
    let e = h
        .forward(&Matrix::zeros(2, 3), &[0, 3], true)
        .err()
        .unwrap();
    assert_eq!(e.kind, ErrorKind::UNKNOWN_TASK, "{e}");
    assert!(
        e.message().starts_with(
            "head `predictor` forward: row 1 has task index 3, but this head has 3 tasks"
        ),
        "{e}"
    );
    let e = h.forward(&Matrix::zeros(2, 3), &[0], true).err().unwrap();
    assert!(e.message().contains("1 task indices for 2 rows"), "{e}");
    let e = h.backward(&Matrix::zeros(1, 2)).unwrap_err();
    assert!(e.message().contains("without a forward pass"), "{e}");
    let e = h.forward(&Matrix::zeros(1, 4), &[0], true).err().unwrap();
    assert_eq!(
        e.message(),
        "head `predictor` forward: expected columns = 3, got a 1×4 matrix"
    );
    // An empty batch passes; step with no gradients is a no-op.
    let out = h.forward(&Matrix::zeros(0, 3), &[], true).unwrap();
    assert_eq!((out.rows, out.cols), (0, 2));
    h.step().unwrap();

    let factory = head_factory_box(XferHeadFactory::new(XferParams::default(), 3));
    let mut no_tasks = spec(3, &[], 2, 0);
    no_tasks.tasks.clear();
    let e = factory.make_head(&no_tasks).err().unwrap();
    assert_eq!(e.kind, ErrorKind::INVALID_PARAMS);
    assert!(e.message().contains("needs the task ids"), "{e}");
    let e = factory.make_head(&spec(0, &[], 2, 0)).err().unwrap();
    assert_eq!(e.kind, ErrorKind::INVALID_PARAMS, "{e}");
}
