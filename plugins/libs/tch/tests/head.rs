//! The plain head driven only through the ABI (`head_factory_box` → `HeadBox`), as an optimizer in
//! another library would drive it: forward → loss gradient by hand → backward → step.

use xnas_core::{
    head_factory_box, ErrorKind, Head, HeadBox, HeadFactory, HeadSpec, Matrix, SplitMix64,
};
use xnas_tch::tch::Device;
use xnas_tch::{HeadConfig, PlainHeadFactory};
use xnas_testkit::head::{assert_feature_gradient, head_spec, mse, uniform};

fn spec(in_features: u32, hidden: &[u32], out_features: u32, seed: u64) -> HeadSpec {
    head_spec(in_features, hidden, out_features, &[], seed)
}

fn head(config: HeadConfig, spec: &HeadSpec) -> HeadBox {
    head_factory_box(PlainHeadFactory::new(config, Device::Cpu))
        .make_head(spec)
        .unwrap()
}

#[test]
fn factory_is_plain() {
    let factory = head_factory_box(PlainHeadFactory::new(HeadConfig::default(), Device::Cpu));
    assert_eq!(factory.describe(), "plain");
    assert!(!factory.uses_all_tasks());
    assert_eq!(HeadConfig::default().lr, 1e-3);
    assert_eq!(HeadConfig::default().weight_decay, 1e-4);
}

#[test]
fn learns_a_sum_through_the_abi() {
    let mut rng = SplitMix64::new(11);
    let x = uniform(&mut rng, 64, 4);
    let y: Vec<f32> = (0..64).map(|r| x.row(r).iter().sum()).collect();
    let config = HeadConfig {
        lr: 1e-2,
        ..HeadConfig::default()
    };
    let mut head = head(config, &spec(4, &[16], 1, 5));
    let tasks = vec![0u32; 64];
    let mut losses = Vec::new();
    for _ in 0..300 {
        let pred = head.forward(&x, &tasks, true).unwrap();
        assert_eq!((pred.rows, pred.cols), (64, 1));
        let (loss, grad) = mse(&pred, &y);
        losses.push(loss);
        let feature_grad = head.backward(&grad).unwrap();
        assert_eq!((feature_grad.rows, feature_grad.cols), (64, 4));
        head.step().unwrap();
    }
    let (first, last) = (losses[0], *losses.last().unwrap());
    assert!(last < first / 10.0, "loss {first} → {last}");
}

#[test]
fn feature_gradient_matches_finite_differences() {
    let mut rng = SplitMix64::new(3);
    let x = uniform(&mut rng, 2, 3);
    let g = uniform(&mut rng, 2, 2);
    let mut head = head(HeadConfig::default(), &spec(3, &[5], 2, 17));
    assert_feature_gradient(&mut head, &x, &[], &g);
}

#[test]
fn saved_state_restores_outputs_and_training() {
    let mut rng = SplitMix64::new(8);
    let x = uniform(&mut rng, 8, 3);
    let y: Vec<f32> = (0..8).map(|r| x.row(r)[0]).collect();
    let train = |head: &mut HeadBox| {
        let pred = head.forward(&x, &[], true).unwrap();
        head.backward(&mse(&pred, &y).1).unwrap();
        head.step().unwrap();
    };
    let mut a = head(HeadConfig::default(), &spec(3, &[6, 4], 1, 1));
    for _ in 0..5 {
        train(&mut a);
    }
    let state = a.save_state().unwrap();

    // Another seed: other weights until the state is loaded.
    let mut b = head(HeadConfig::default(), &spec(3, &[6, 4], 1, 2));
    assert_ne!(
        a.forward(&x, &[], false).unwrap(),
        b.forward(&x, &[], false).unwrap()
    );
    b.load_state(&state).unwrap();
    assert_eq!(
        a.forward(&x, &[], false).unwrap(),
        b.forward(&x, &[], false).unwrap()
    );
    // Adam's moments came along: the next steps agree too.
    for _ in 0..3 {
        train(&mut a);
        train(&mut b);
    }
    assert_eq!(
        a.forward(&x, &[], false).unwrap(),
        b.forward(&x, &[], false).unwrap()
    );

    // A state of another shape (here: first layer alike, second not), or not a state at all, is
    // refused with a clear error and changes nothing.
    let mut other = head(HeadConfig::default(), &spec(3, &[6, 5], 1, 1));
    let before = other.forward(&x, &[], false).unwrap();
    let e = other.load_state(&state).unwrap_err();
    assert_eq!(e.kind, ErrorKind::DATA, "{e}");
    assert!(e.message().contains("this head has"), "{e}");
    let e = other.load_state(b"not a state").unwrap_err();
    assert_eq!(e.kind, ErrorKind::DATA, "{e}");
    assert!(e.message().contains("not a saved head state"), "{e}");
    assert_eq!(other.forward(&x, &[], false).unwrap(), before);
}

#[test]
fn misuse_is_an_error_not_a_panic() {
    let mut h = head(HeadConfig::default(), &spec(3, &[], 2, 0));
    let e = h.backward(&Matrix::zeros(1, 2)).unwrap_err();
    assert!(e.message().contains("without a forward pass"), "{e}");
    let e = h.forward(&Matrix::zeros(1, 4), &[], true).unwrap_err();
    assert_eq!(
        e.message(),
        "head `predictor` forward: expected columns = 3, got a 1×4 matrix"
    );
    h.forward(&Matrix::zeros(2, 3), &[], true).unwrap();
    let e = h.backward(&Matrix::zeros(1, 2)).unwrap_err();
    assert!(e.message().contains("expected rows = 2"), "{e}");
    // Step with no gradients is a no-op, not an error.
    h.step().unwrap();

    let factory = head_factory_box(PlainHeadFactory::new(
        HeadConfig {
            lr: -1.0,
            ..HeadConfig::default()
        },
        Device::Cpu,
    ));
    let e = factory.make_head(&spec(3, &[], 2, 0)).err().unwrap();
    assert_eq!(e.kind, ErrorKind::INVALID_PARAMS);
    assert!(e.message().contains("lr must be positive"), "{e}");
    let e = head_factory_box(PlainHeadFactory::new(HeadConfig::default(), Device::Cpu))
        .make_head(&spec(0, &[], 2, 0))
        .err()
        .unwrap();
    assert_eq!(e.kind, ErrorKind::INVALID_PARAMS, "{e}");
}

#[test]
fn head_config_reads_from_toml_with_defaults() {
    let c: HeadConfig = xnas_core::parse_params("lr = 0.01\nzero_last_layer = true").unwrap();
    assert_eq!(c.lr, 0.01);
    assert_eq!(c.weight_decay, 1e-4);
    assert!(c.zero_last_layer);
    let e = xnas_core::parse_params::<HeadConfig>("learning_rate = 0.1").unwrap_err();
    assert!(e.message().contains("learning_rate"), "{e}");
}
