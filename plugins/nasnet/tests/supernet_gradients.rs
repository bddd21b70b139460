//! The DARTS cell supernet's gradients in float64 on real digits images: ∂loss/∂mix against
//! central differences, and the second-order step's Hessian-vector product against exact double
//! backward (at w, not w′), DARTS's `architect.py` equations.

mod common;

use common::*;
use xnas_core::{Matrix, Supernet};
use xnas_space_nasnet::supernet::network::DartsSearchNet;
use xnas_tch::supernet::SupernetEngine;
use xnas_tch::tch::{Kind, Tensor};

fn engine(cells: u32, lr: f64, seed: u64) -> SupernetEngine<DartsSearchNet> {
    let mut sp = spec(&["digits"], cells, &[], seed);
    sp.recipe.learning_rate = lr;
    darts_space().darts_supernet(&sp, Kind::Double).unwrap()
}

#[test]
fn mix_gradient_matches_central_differences() {
    let _serial = serial();
    // 3 cells: a normal cell (0) and two reduction cells.
    let mut e = engine(3, 0.025, 21);
    let m = mix(28, 8, 1.5, 4);
    // A few weight steps first, so the weights are not at initialisation.
    for _ in 0..3 {
        e.train_step(&m).unwrap();
    }
    let state = Supernet::save_state(&e).unwrap();
    let g = e.arch_grad(&m).unwrap();
    // A small step: a ReLU network's loss has kinks where a unit changes sign, and steps of
    // 1e-4 or more already cross some (the differences then wander by 10%).
    // Each loss below is of the same α batch: the state (iterators included) is reloaded first.
    let mut loss_at = |m: &Matrix| {
        e.load_state(&state).unwrap();
        e.arch_grad(m).unwrap().stats.loss
    };
    assert_eq!(
        loss_at(&m),
        g.stats.loss,
        "the reloaded state gives the same batch"
    );
    let scale = g.grad.data.iter().fold(0f32, |a, v| a.max(v.abs())) as f64;
    assert!(scale > 1e-4, "a gradient to check ({scale})");
    let mut worst = 0f64;
    // Normal and reduce edges, first and last candidates, none and skip included.
    for (row, col) in [
        (0, 0),
        (0, 4),
        (3, 3),
        (9, 7),
        (13, 1),
        (14, 2),
        (16, 5),
        (27, 6),
    ] {
        let i = row * 8 + col;
        let (mut plus, mut minus) = (m.clone(), m.clone());
        plus.data[i] += 1e-6;
        minus.data[i] -= 1e-6;
        // The step actually taken in f32.
        let h = (plus.data[i] as f64 - minus.data[i] as f64) / 2.0;
        let fd = (loss_at(&plus) - loss_at(&minus)) / (2.0 * h);
        let err = (fd - g.grad.data[i] as f64).abs();
        worst = worst.max(err / scale);
        assert!(
            err <= 1e-4 * scale,
            "∂loss/∂mix[{row}, {col}]: autograd {} vs central difference {fd}",
            g.grad.data[i]
        );
    }
    eprintln!("largest difference / largest gradient: {worst:.2e}");
    // `none` never changes the output: its gradient is exactly 0; the others are not.
    for (i, v) in g.grad.data.iter().enumerate() {
        assert_eq!(
            *v == 0.0,
            i % 8 == 0,
            "∂loss/∂mix[{}, {}] = {v}",
            i / 8,
            i % 8
        );
    }
}

/// ∂/∂mix (∇w L_train(w) · v) by double backward, at the engine's current weights.
fn exact_hvp(e: &SupernetEngine<DartsSearchNet>, m: &Matrix, v: &Tensor) -> Tensor {
    let batch = e.peek_train_batch().unwrap();
    let mix = e.mix_tensor(m, true).unwrap();
    let (loss, _) = e.batch_loss(&batch, &mix).unwrap();
    let params = e.parameters();
    let grads = Tensor::run_backward(&[loss], params, true, true);
    let mut dot = Tensor::zeros([], (Kind::Double, xnas_tch::tch::Device::Cpu));
    let mut offset = 0;
    for (g, p) in grads.iter().zip(params) {
        let n = p.numel() as i64;
        dot += (g.reshape([-1]) * v.narrow(0, offset, n)).sum(Kind::Double);
        offset += n;
    }
    Tensor::run_backward(&[dot], &[mix], false, false).remove(0)
}

fn rel(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).norm().double_value(&[]) / b.norm().double_value(&[])
}

#[test]
fn unrolled_hessian_vector_product_matches_double_backward_at_w() {
    let _serial = serial();
    // A large learning rate puts w′ far from w, so the Hessian there differs from the one at w.
    let mut e = engine(2, 0.5, 22);
    let m = mix(28, 8, 1.5, 6);
    for _ in 0..2 {
        e.train_step(&m).unwrap();
    }
    let state = Supernet::save_state(&e).unwrap();
    let before = weights(&e.export_weights().unwrap());
    let train_batch = e.peek_train_batch().unwrap();
    // DARTS's R = 0.01 by default.
    let u = engine(2, 0.025, 23).unrolled(&m).unwrap();
    assert!((u.v.norm().double_value(&[]) * u.epsilon - 0.01).abs() < 1e-12);
    // A ReLU network's gradient jumps where a unit changes sign: over DARTS's step some units
    // flip, so the check takes a step that flips none.
    e.set_difference_scale(1e-6);
    let u = e.unrolled(&m).unwrap();
    assert_eq!(u.xi, 0.5);
    assert!(u.epsilon > 0.0);
    assert!(
        (u.v.norm().double_value(&[]) * u.epsilon - 1e-6).abs() < 1e-15,
        "ε = R / ‖v‖"
    );
    // w is left as it was, and the training batch is still the next one.
    // (Batch-norm running statistics do move: DARTS's passes at w± update them.)
    for ((n, a), (_, b)) in weights(&e.export_weights().unwrap()).iter().zip(&before) {
        if !n.contains("running_") {
            assert_eq!(max_diff(a, b), 0.0, "{n}");
        }
    }
    let next = e.peek_train_batch().unwrap();
    assert_eq!(next.labels, train_batch.labels);
    assert_eq!(next.seed, train_batch.seed);
    // The protocol's gradient is val_grad − ξ·hvp.
    e.load_state(&state).unwrap();
    let g = e.unrolled_arch_grad(&m).unwrap();
    let want = Vec::<f64>::try_from(u.grad().unwrap().reshape([-1])).unwrap();
    for (a, b) in g.grad.data.iter().zip(&want) {
        assert!(
            (*a as f64 - b).abs() <= 1e-6 * (1.0 + b.abs()),
            "{a} vs {b}"
        );
    }

    // Exact H v at w (the state before the call).
    e.load_state(&state).unwrap();
    let at_w = exact_hvp(&e, &m, &u.v);
    let fd_error = rel(&u.hvp, &at_w);
    // And at w′ = w − ξ(μm + ∇w L_train + λw): what a port that perturbs w′ would estimate.
    let w = e
        .parameters()
        .iter()
        .map(|p| p.detach().copy())
        .collect::<Vec<_>>();
    {
        let batch = e.peek_train_batch().unwrap();
        let (loss, _) = e
            .batch_loss(&batch, &e.mix_tensor(&m, false).unwrap())
            .unwrap();
        let grads = Tensor::run_backward(&[loss], e.parameters(), false, false);
        let momentum = e.momentum().copy();
        let r = recipe();
        let mut offset = 0;
        xnas_tch::tch::no_grad(|| {
            for (p, g) in e.parameters().iter().zip(&grads) {
                let n = p.numel() as i64;
                let mom = momentum.narrow(0, offset, n).view(p.size().as_slice());
                let step = mom * r.momentum + g + p * r.weight_decay;
                let mut p = p.shallow_clone();
                p -= step * 0.5;
                offset += n;
            }
        });
    }
    let at_unrolled = exact_hvp(&e, &m, &u.v);
    for (p, w) in e.parameters().iter().zip(&w) {
        let mut p = p.shallow_clone();
        xnas_tch::tch::no_grad(|| p.copy_(w));
    }
    let other_error = rel(&u.hvp, &at_unrolled);
    eprintln!("finite-difference H v: {fd_error:.2e} from the exact one at w, {other_error:.2e} from the one at w′");
    assert!(
        fd_error < 1e-6,
        "central difference vs exact at w: {fd_error}"
    );
    assert!(
        other_error > 1e-2,
        "the estimate is of the Hessian at w, not at w′ ({fd_error} vs {other_error})"
    );
}
