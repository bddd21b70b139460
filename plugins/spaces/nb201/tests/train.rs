//! `nb201`'s evaluation on real data (the `digits` preset: 8×8 grey digits, 10 classes) at tiny
//! scale: it learns, a cut-off cell stays at chance, a seed repeats, a budget is read as epochs.

use xnas_core::abi_stable::std_types::{RNone, ROption, RSome, RString};
use xnas_core::{parse_params, EvalRequest, EvalResult, SearchSpace, SpaceInit};
use xnas_space_nb201::Nb201;

fn space() -> Nb201 {
    let params = "cells = 1\nchannels = 4\nepochs = 1\nbatch_size = 64\nthreads = 1\n\
                  [tasks.digits]\npreset = \"digits\"\n";
    let init = SpaceInit {
        tasks: vec![RString::from("digits")].into(),
        base_dir: ".".into(),
        data_dir: RString::new(),
    };
    Nb201::new(parse_params(params).unwrap(), &init).unwrap()
}

fn evaluate(s: &Nb201, text: &str, seed: u64, budget: ROption<f64>) -> EvalResult {
    let req = EvalRequest {
        trial_id: 1,
        task: "digits".into(),
        genome: s.parse(text).unwrap().into(),
        seed,
        budget,
    };
    s.evaluate(&req).unwrap()
}

const CONV3: &str =
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|";
const CUT_OFF: &str = "|none~0|+|none~0|none~1|+|none~0|skip_connect~1|nor_conv_3x3~2|";

fn extras(r: &EvalResult) -> serde_json::Value {
    serde_json::from_str(r.extras.as_str()).unwrap()
}

#[test]
fn training_beats_chance_and_a_cut_off_cell_does_not() {
    let s = space();
    let r = evaluate(&s, CONV3, 3, RNone);
    eprintln!("digits, one epoch: {r:?}");
    // 10 classes: chance is 0.1. One epoch of N = 1, C = 4 on 1,437 digits is far above.
    assert!(r.metric > 0.3 && r.metric <= 1.0, "{}", r.metric);
    assert_eq!(r.curve.len(), 1);
    assert_eq!(r.curve[0], r.metric);
    assert!(matches!(r.test_metric, RNone), "digits has no test split");
    let x = extras(&r);
    assert_eq!(x["epochs"], 1);
    assert!(x["parameters"].as_u64().unwrap() > 10_000);
    assert!(x["flops"].as_u64().unwrap() > 100_000);
    assert_eq!(x["device"], "cpu");
    // The output does not depend on the image: the classifier learns the class frequencies.
    let cut = evaluate(&s, CUT_OFF, 3, RNone);
    assert!(cut.metric < 0.2, "a cut-off cell at {}", cut.metric);
}

#[test]
fn the_same_seed_gives_the_same_result() {
    let s = space();
    let text =
        "|nor_conv_1x1~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_3x3~0|none~1|skip_connect~2|";
    let a = evaluate(&s, text, 11, RNone);
    let b = evaluate(&s, text, 11, RNone);
    assert_eq!(a.metric, b.metric);
    assert_eq!(a.curve, b.curve);
    let (xa, xb) = (extras(&a), extras(&b));
    assert_eq!(xa["train_loss"], xb["train_loss"]);
    let c = evaluate(&s, text, 12, RNone);
    assert_ne!(
        xa["train_loss"],
        extras(&c)["train_loss"],
        "the seed must matter"
    );
}

#[test]
fn a_budget_is_read_as_epochs() {
    let s = space();
    let r = evaluate(&s, CONV3, 5, RSome(2.0));
    assert_eq!(r.curve.len(), 2);
    assert_eq!(extras(&r)["epochs"], 2);
    let req = EvalRequest {
        trial_id: 1,
        task: "digits".into(),
        genome: vec![3; 6].into(),
        seed: 1,
        budget: RSome(0.5),
    };
    let e = s.evaluate(&req).unwrap_err();
    assert!(
        e.message()
            .contains("budget 0.5: nb201 reads a budget as epochs, at least 1"),
        "{e}"
    );
}
