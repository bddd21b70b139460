use super::*;
use crate::gumbel::Anneal;
use crate::testkit::{Event, ToyLayout, ToySpace, ToySupernet};
use std::sync::Arc;
use xnas_core::abi_stable::std_types::RVec;
use xnas_core::WeightRecipe;

fn spec(epochs: u32) -> SupernetSpec {
    SupernetSpec {
        tasks: vec!["toy".into()].into(),
        cells: 0,
        channels: 0,
        candidates: RVec::new(),
        recipe: WeightRecipe {
            batch_size: 16,
            learning_rate: 0.025,
            learning_rate_min: 0.001,
            momentum: 0.9,
            weight_decay: 3e-4,
            grad_clip: 5.0,
            epochs,
            train_portion: 0.5,
        },
        seed: 7,
    }
}

fn darts_cfg(order: Order) -> ArchConfig {
    ArchConfig {
        adam: AdamConfig {
            lr: 3e-4,
            beta1: 0.5,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-3,
        },
        grad_clip: 0.0,
        init_scale: 1e-3,
        order,
        sampling: Sampling::Softmax,
    }
}

fn plan(epochs: u32) -> StagePlan {
    StagePlan {
        epochs,
        weights_only: 0,
        evaluate_last: epochs,
        skip_dropout: Vec::new(),
    }
}

fn build(space: &ToySpace, epochs: u32) -> Stage {
    Stage::build(space, &space.layout(), &spec(epochs), 1e-3, 11).unwrap()
}

fn mixes(events: &[Event]) -> Vec<(&'static str, Vec<f32>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ArchGrad(m) => Some(("arch", m.clone())),
            Event::Unrolled(m) => Some(("unrolled", m.clone())),
            Event::Train(m) => Some(("train", m.clone())),
            _ => None,
        })
        .collect()
}

/// One iteration by hand: α step from a twin supernet's gradient, then the w step's mix.
fn check_one_iteration(order: Order) {
    let space = ToySpace::new(ToyLayout::Darts);
    let mut stage = build(&space, 2);
    let cfg = darts_cfg(order);
    let alpha0 = stage.alpha().to_vec();
    let mut twin = ToySupernet::new(&space.layout(), &spec(2), 96, Arc::default()).unwrap();
    space.clear_events();
    let p = stage.run(&cfg, &plan(2), 1).unwrap();
    assert_eq!((p.steps, p.step_in_epoch, p.steps_per_epoch), (1, 1, 3));
    assert!(p.epoch_end.is_none() && !p.finished);
    let m = mixes(&space.events());
    let want_kind = if order == Order::First {
        "arch"
    } else {
        "unrolled"
    };
    assert_eq!(
        m.iter().map(|x| x.0).collect::<Vec<_>>(),
        vec![want_kind, "train"]
    );
    let p0 = softmax(&alpha0, 8);
    let m0 = to_matrix(&p0, 8);
    assert_eq!(m[0].1, m0.data.to_vec(), "the α step mixes with softmax(α)");
    let g = match order {
        Order::First => twin.arch_grad(&m0).unwrap(),
        Order::Second => twin.unrolled_arch_grad(&m0).unwrap(),
    };
    let grad = softmax_backward(&p0, &from_grad(&g.grad, 28, 8).unwrap(), 8);
    let mut alpha1 = alpha0.clone();
    Adam::new(alpha1.len()).step(&cfg.adam, &mut alpha1, &grad);
    assert_eq!(stage.alpha(), &alpha1[..]);
    assert_ne!(alpha1, alpha0);
    assert_eq!(
        m[1].1,
        to_matrix(&softmax(&alpha1, 8), 8).data.to_vec(),
        "the w step uses the updated α"
    );
}

#[test]
fn first_order_iteration_is_alpha_step_then_w_step() {
    check_one_iteration(Order::First);
}

#[test]
fn second_order_iteration_uses_the_unrolled_gradient() {
    check_one_iteration(Order::Second);
}

#[test]
fn epochs_end_with_evaluation_and_the_schedule_and_the_stage_finishes() {
    let space = ToySpace::new(ToyLayout::Darts);
    let mut stage = build(&space, 3);
    let cfg = darts_cfg(Order::First);
    let plan = StagePlan {
        epochs: 3,
        weights_only: 1,
        evaluate_last: 1,
        skip_dropout: vec![0.3, 0.2, 0.1],
    };
    space.clear_events();
    let mut ends = Vec::new();
    loop {
        let p = stage.run(&cfg, &plan, 100).unwrap();
        if let Some(end) = p.epoch_end {
            ends.push(end);
        }
        if p.finished {
            break;
        }
    }
    assert_eq!(
        ends.iter().map(|e| e.epoch).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    // Only the last epoch is evaluated.
    assert_eq!(ends[0].valid.examples, 0);
    assert_eq!(ends[1].valid.examples, 0);
    assert!(ends[2].valid.examples > 0 && ends[2].valid.loss > 0.0);
    assert!(ends
        .iter()
        .all(|e| e.train.examples == 48 && e.train.loss > 0.0));
    let ev = space.events();
    // Epoch 0 trains w only; dropout is set before each epoch.
    let kinds: Vec<String> = ev
        .iter()
        .map(|e| match e {
            Event::ArchGrad(_) => "a".into(),
            Event::Train(_) => "t".into(),
            Event::Evaluate(_) => "v".into(),
            Event::EndEpoch(n) => format!("e{n}"),
            Event::SkipDropout(p) => format!("p{p}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds.join(" "),
        "p0.3 t t t e1 p0.2 a t a t a t e2 p0.1 a t a t a t v e3"
    );
    let done = stage.run(&cfg, &plan, 10).unwrap();
    assert!(done.finished && done.steps == 0 && done.epoch_end.is_none());
}

#[test]
fn max_steps_splits_an_epoch_across_calls() {
    let space = ToySpace::new(ToyLayout::Bench201);
    let mut stage = build(&space, 1);
    let cfg = darts_cfg(Order::First);
    let p = stage.run(&cfg, &plan(1), 2).unwrap();
    assert_eq!((p.steps, p.step_in_epoch, p.epoch_end), (2, 2, None));
    let p = stage.run(&cfg, &plan(1), 2).unwrap();
    assert_eq!((p.steps, p.step_in_epoch), (1, 0));
    assert!(p.epoch_end.is_some() && p.finished);
    assert_eq!(stage.weights().cols, 5);
}

fn gumbel_cfg(hard: bool) -> ArchConfig {
    ArchConfig {
        sampling: Sampling::Gumbel {
            hard,
            temperature: Temperature {
                anneal: Anneal::Exponential,
                tau_max: 1.0,
                tau_min: 0.1,
            },
        },
        ..darts_cfg(Order::First)
    }
}

#[test]
fn gumbel_mode_draws_a_fresh_sample_per_forward() {
    for hard in [false, true] {
        let space = ToySpace::new(ToyLayout::Darts);
        let mut stage = build(&space, 1);
        space.clear_events();
        stage.run(&gumbel_cfg(hard), &plan(1), 100).unwrap();
        let m = mixes(&space.events());
        assert_eq!(m.len(), 6);
        // Every forward has its own noise: no two mixes are equal, none is softmax(α).
        for i in 0..m.len() {
            for j in i + 1..m.len() {
                assert_ne!(m[i].1, m[j].1);
            }
        }
        for (_, mix) in &m {
            for row in mix.chunks(8) {
                assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
                if hard {
                    assert_eq!(row.iter().filter(|&&x| x == 1.0).count(), 1);
                }
            }
        }
        // Evaluation uses softmax(α), not a sample.
        let ev = space.events();
        let Some(Event::Evaluate(v)) = ev.iter().find(|e| matches!(e, Event::Evaluate(_))) else {
            panic!("no evaluation");
        };
        assert_eq!(v, &to_matrix(&softmax(stage.alpha(), 8), 8).data.to_vec());
    }
}

#[test]
fn a_loaded_stage_continues_bit_identically() {
    for cfg in [
        darts_cfg(Order::First),
        darts_cfg(Order::Second),
        gumbel_cfg(true),
    ] {
        let space = ToySpace::new(ToyLayout::Darts);
        let mut whole = build(&space, 2);
        let mut ends = Vec::new();
        for _ in 0..4 {
            ends.push(whole.run(&cfg, &plan(2), 2).unwrap());
        }
        let mut first = build(&space, 2);
        first.run(&cfg, &plan(2), 2).unwrap();
        let saved = first.save().unwrap();
        let mut resumed = build(&space, 2);
        resumed.load(saved.clone()).unwrap();
        assert_eq!(resumed.save().unwrap(), saved);
        let mut again = vec![ends[0].clone()];
        for _ in 0..3 {
            again.push(resumed.run(&cfg, &plan(2), 2).unwrap());
        }
        assert_eq!(again, ends);
        assert_eq!(resumed.alpha(), whole.alpha());
        assert_eq!(resumed.save().unwrap(), whole.save().unwrap());
    }
}

#[test]
fn a_state_of_another_shape_is_refused() {
    let darts = ToySpace::new(ToyLayout::Darts);
    let nb = ToySpace::new(ToyLayout::Bench201);
    let saved = build(&nb, 1).save().unwrap();
    let e = build(&darts, 1).load(saved).unwrap_err();
    assert!(
        e.message()
            .contains("saved α has 30 entries, this supernet's 224"),
        "{e}"
    );
}

#[test]
fn a_supernet_without_batches_is_refused() {
    let mut space = ToySpace::new(ToyLayout::Darts);
    space.examples = 10;
    let mut s = spec(1);
    s.recipe.train_portion = 0.05;
    let e = Stage::build(&space, &space.layout(), &s, 1e-3, 1)
        .err()
        .unwrap();
    assert!(e.message().contains("0 training and 1 α batches"), "{e}");
}
