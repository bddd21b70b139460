use super::*;
use crate::abi::HeadFactoryBox;
use crate::adapters::head_factory_box;
use crate::traits::{Head, HeadFactory};
use abi_stable::std_types::RVec;

fn spec(hidden: &[u32], seed: u64) -> HeadSpec {
    HeadSpec {
        name: "predictor".into(),
        in_features: 2,
        out_features: 1,
        hidden: RVec::from(hidden.to_vec()),
        tasks: RVec::new(),
        seed,
    }
}

/// 64 points of [-1, 1]² in a fixed order.
fn inputs() -> Matrix {
    let mut rng = SplitMix64::new(11);
    let data = (0..128)
        .map(|_| (rng.next_f64() * 2.0 - 1.0) as f32)
        .collect();
    Matrix::new(64, 2, data)
}

/// One step of mean squared error against `target(x)`; returns the loss before the step.
fn train_step(head: &mut dyn Head, x: &Matrix, target: impl Fn(&[f32]) -> f32) -> f64 {
    let out = head.forward(x, &[], true).unwrap();
    let rows = x.rows as usize;
    let mut loss = 0.0;
    let grad: Vec<f32> = (0..rows)
        .map(|r| {
            let d = out.data[r] - target(x.row(r));
            loss += (d * d) as f64;
            2.0 * d / rows as f32
        })
        .collect();
    head.backward(&Matrix::new(rows, 1, grad)).unwrap();
    head.step().unwrap();
    loss / rows as f64
}

fn factory(lr: f64) -> HeadFactoryBox {
    let config = PlainHeadConfig {
        lr,
        weight_decay: 0.0,
        ..PlainHeadConfig::default()
    };
    head_factory_box(PlainHeadFactory::new(config).unwrap())
}

#[test]
fn a_linear_head_learns_a_linear_target_through_the_abi() {
    let mut head = factory(0.05).make_head(&spec(&[], 3)).unwrap();
    let x = inputs();
    let target = |r: &[f32]| 2.0 * r[0] - r[1] + 0.5;
    let first = train_step(&mut head, &x, target);
    let mut last = first;
    for _ in 0..600 {
        last = train_step(&mut head, &x, target);
    }
    assert!(first > 0.1, "{first}");
    assert!(last < 1e-4, "loss {first} -> {last}");
}

#[test]
fn an_mlp_head_learns_a_target_a_line_cannot_fit() {
    let x = inputs();
    let target = |r: &[f32]| r[0].abs() + r[1].abs();
    let fit = |hidden: &[u32]| {
        let mut head = factory(0.01).make_head(&spec(hidden, 5)).unwrap();
        let mut loss = 0.0;
        for _ in 0..1500 {
            loss = train_step(&mut head, &x, target);
        }
        loss
    };
    let (line, mlp) = (fit(&[]), fit(&[16]));
    assert!(mlp < 0.01 && mlp * 5.0 < line, "linear {line}, mlp {mlp}");
}

#[test]
fn backward_gives_the_features_gradient() {
    let factory = PlainHeadFactory::new(PlainHeadConfig::default()).unwrap();
    let mut head = factory.make(&spec(&[8, 4], 9)).unwrap();
    let x = Matrix::new(1, 2, vec![0.3, -0.7]);
    head.forward(&x, &[], false).unwrap();
    let grad = head.backward(&Matrix::new(1, 1, vec![1.0])).unwrap();
    for i in 0..2 {
        let h = 1e-3f32;
        let mut plus = x.clone();
        plus.data[i] += h;
        let mut minus = x.clone();
        minus.data[i] -= h;
        let f = |m: &Matrix, head: &mut PlainHead| head.forward(m, &[], false).unwrap().data[0];
        let numeric = (f(&plus, &mut head) - f(&minus, &mut head)) / (2.0 * h);
        assert!(
            (numeric - grad.data[i]).abs() < 1e-3,
            "{i}: {numeric} vs {grad:?}"
        );
    }
}

#[test]
fn the_seed_decides_the_weights_and_a_zero_last_layer_outputs_zero() {
    let f = PlainHeadFactory::new(PlainHeadConfig::default()).unwrap();
    let x = inputs();
    let out = |seed| {
        f.make(&spec(&[4], seed))
            .unwrap()
            .forward(&x, &[], false)
            .unwrap()
    };
    assert_eq!(out(1), out(1));
    assert_ne!(out(1), out(2));
    let zero = PlainHeadFactory::new(PlainHeadConfig {
        zero_last_layer: true,
        ..PlainHeadConfig::default()
    })
    .unwrap();
    let y = zero
        .make(&spec(&[4], 1))
        .unwrap()
        .forward(&x, &[], true)
        .unwrap();
    assert!(y.data.iter().all(|&v| v == 0.0));
}

#[test]
fn a_restored_head_continues_exactly() {
    let x = inputs();
    let target = |r: &[f32]| r[0] * r[1];
    let f = factory(0.01);
    let mut a = f.make_head(&spec(&[8], 1)).unwrap();
    for _ in 0..20 {
        train_step(&mut a, &x, target);
    }
    let saved = a.save_state().unwrap();
    // Another seed: every weight and moment must come from the state.
    let mut b = f.make_head(&spec(&[8], 2)).unwrap();
    b.load_state(&saved).unwrap();
    assert_eq!(b.save_state().unwrap(), saved);
    for _ in 0..20 {
        assert_eq!(
            train_step(&mut a, &x, target),
            train_step(&mut b, &x, target)
        );
    }
    assert_eq!(a.save_state().unwrap(), b.save_state().unwrap());
}

#[test]
fn load_state_refuses_another_shape_owner_or_damage() {
    let f = factory(0.01);
    let saved = f.make_head(&spec(&[8], 1)).unwrap().save_state().unwrap();
    let mut other = f.make_head(&spec(&[4], 1)).unwrap();
    let e = other.load_state(&saved).unwrap_err();
    assert!(e.message().contains("another head's state"), "{e}");
    let e = other.load_state(&saved[..saved.len() - 4]).unwrap_err();
    assert!(e.message().contains("damaged"), "{e}");
    let foreign = crate::state::encode("nao", 1, &0u32).unwrap();
    let e = other.load_state(&foreign).unwrap_err();
    assert!(e.message().contains("state of `nao`"), "{e}");
    // The refused loads changed nothing.
    let fresh = f.make_head(&spec(&[4], 1)).unwrap().save_state().unwrap();
    assert_eq!(other.save_state().unwrap(), fresh);
}

#[test]
fn bad_settings_and_shapes_are_refused_with_the_key() {
    let e = PlainHeadFactory::new(PlainHeadConfig {
        lr: 0.0,
        ..PlainHeadConfig::default()
    })
    .unwrap_err();
    assert!(e.message().starts_with("`lr` is 0"), "{e}");
    let e = crate::parse_params::<crate::Checked<PlainHeadConfig>>("weight_decay = -1.0\n")
        .unwrap_err();
    assert!(e.message().contains("`weight_decay`"), "{e}");
    let f = PlainHeadFactory::new(PlainHeadConfig::default()).unwrap();
    let e = f.make(&spec(&[0], 1)).unwrap_err();
    assert!(e.message().contains("every width must be positive"), "{e}");
    let mut head = f.make(&spec(&[], 1)).unwrap();
    let e = head.forward(&Matrix::zeros(3, 5), &[], true).unwrap_err();
    assert!(e.message().contains("takes 2 columns"), "{e}");
    let e = head.backward(&Matrix::zeros(3, 1)).unwrap_err();
    assert!(e.message().contains("without a forward pass"), "{e}");
}
