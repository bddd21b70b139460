use super::*;
use xnas_oneshot::testkit::parse_checked;

fn parse(text: &str) -> Result<PdartsParams, String> {
    parse_checked(text)
}

#[test]
fn defaults_are_the_reference_codes() {
    let p = parse("").unwrap();
    assert_eq!(p, PdartsParams::default());
    assert_eq!(
        (p.cells.clone(), p.keep.clone(), p.stages()),
        (vec![5, 11, 17], vec![5, 3], 3)
    );
    let r = p.recipe();
    assert_eq!(
        (r.epochs, r.batch_size, r.learning_rate, r.learning_rate_min),
        (25, 96, 0.025, 0.0)
    );
    let a = p.arch();
    assert_eq!(
        (a.adam.lr, a.adam.beta1, a.adam.weight_decay, a.grad_clip),
        (6e-4, 0.5, 1e-3, 5.0)
    );
    assert_eq!(
        (p.epochs_weights_only, p.max_skips, p.evaluate_last),
        (10, 2, 5)
    );
}

#[test]
fn the_reference_schedule_jumps_back_at_the_end_of_the_weights_only_epochs() {
    let p = PdartsParams::default();
    let d = p.stage_plan(2).skip_dropout;
    assert_eq!(d.len(), 25);
    // p0 = 0.7: epoch 0 → 0.7·24/25, epoch 9 → 0.7·15/25, epoch 10 → 0.7, epoch 11 → 0.7·e^−0.2.
    assert!((d[0] - 0.7 * 24.0 / 25.0).abs() < 1e-15);
    assert!((d[9] - 0.42).abs() < 1e-15);
    assert_eq!(d[10], 0.7);
    assert!((d[11] - 0.7 * (-0.2f64).exp()).abs() < 1e-15);
    assert!((d[24] - 0.7 * (-2.8f64).exp()).abs() < 1e-15);
    assert!(d[10] > d[9], "the reference's discontinuity");
    assert!(p.stage_plan(0).skip_dropout.iter().all(|&x| x == 0.0));
    let c = PdartsParams {
        dropout_schedule: DropoutSchedule::Continuous,
        ..p
    }
    .stage_plan(2)
    .skip_dropout;
    assert_eq!(c[..10], d[..10]);
    assert!((c[10] - 0.42).abs() < 1e-15, "continues from 0.7·15/25");
    assert!(c.windows(2).all(|w| w[1] <= w[0]));
}

#[test]
fn lists_must_match_the_stages() {
    for (text, want) in [
        (
            "cells = []",
            "`cells` is empty: give the cells of each stage, e.g. [5, 11, 17]",
        ),
        (
            "cells = [5, 11]",
            "`channels` has 3 entries: it needs one per stage (2, as `cells`)",
        ),
        (
            "cells = [5, 11]\nchannels = [16, 16]\nskip_dropout = [0.0, 0.4]",
            "`keep` has 2 entries: it needs one per stage but the last (1), as `cells` has 2",
        ),
        (
            "keep = [5, 5]",
            "`keep` is [5, 5]: each stage must keep fewer ops than the one before",
        ),
        (
            "keep = [3, 0]",
            "`keep` is [3, 0]: every entry must be at least 1",
        ),
        (
            "skip_dropout = [0.0, 0.4, 1.0]",
            "`skip_dropout` has 1: each rate must be at least 0 and below 1",
        ),
        (
            "epochs_weights_only = 25",
            "`epochs_weights_only` is 25: it must be below `epochs` (25), or α never trains",
        ),
        (
            "learning_rate_min = 1.0",
            "`learning_rate_min` is 1: it must not exceed `learning_rate` (0.025)",
        ),
        (
            "arch_grad_clip = -5.0",
            "`arch_grad_clip` is -5: it must be 0 or more",
        ),
    ] {
        assert_eq!(parse(text).unwrap_err(), want, "{text}");
    }
    let two = parse(
        "cells = [2, 3]\nchannels = [4, 4]\nkeep = [4]\nskip_dropout = [0.1, 0.2]\nepochs = 2\n\
         epochs_weights_only = 1\ndropout_schedule = \"continuous\"",
    )
    .unwrap();
    assert_eq!(two.stages(), 2);
    assert!(parse("order = \"second\"")
        .unwrap_err()
        .starts_with("unknown field `order`"));
}
