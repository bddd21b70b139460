//! Parameters: defaults, the registration, and bad values refused with a message naming the key.

mod common;

use xnas_core::{capability, parse_params, ErrorKind, PluginKind, PluginSet};
use xnas_opt_nao::{register, Nao, NaoParams};

fn check(params: &str) -> Result<(), xnas_core::PluginError> {
    PluginSet::from_register(register)
        .check_params(PluginKind::OPTIMIZER, "nao", params)
        .into_result()
}

#[test]
fn registered_with_its_capabilities_and_defaults() {
    let set = PluginSet::from_register(register);
    let info = set
        .infos()
        .into_iter()
        .find(|i| i.name.as_str() == "nao")
        .expect("nao is registered");
    assert_eq!(info.kind, PluginKind::OPTIMIZER);
    for c in [
        capability::ASK_TELL,
        capability::HEADS,
        capability::STATE,
        capability::USES_HISTORY,
    ] {
        assert!(info.has(c), "{c}");
    }
    let p: NaoParams = parse_params("").unwrap();
    assert_eq!(p, NaoParams::default());
    assert_eq!(
        (
            p.hidden,
            p.alpha,
            p.lr,
            p.weight_decay,
            p.grad_clip,
            p.batch_size
        ),
        (96, 0.8, 1e-3, 1e-4, 5.0, 100)
    );
    assert_eq!((p.epochs, p.epochs_first, p.top_k), (100, 300, 100));
    assert_eq!(
        (
            p.step_start,
            p.max_step,
            p.candidates,
            p.sampled_candidates,
            p.mutated_candidates,
            p.initial_random
        ),
        (1.0, 50.0, 50, 0, 0, 10)
    );
    check("hidden = 32\n[head]\nhidden = [16]\nlr = 0.01\n").unwrap();
}

#[test]
fn bad_values_name_their_key() {
    for (text, key) in [
        ("epochz = 3", "epochz"),
        ("epochs = \"many\"", "epochs"),
        ("epochs = 0", "epochs"),
        ("alpha = 1.5", "alpha"),
        ("fold = 0", "fold"),
        ("lr = -1.0", "lr"),
        ("encoder_dropout = 1.0", "encoder_dropout"),
        ("step_start = 10.0\nmax_step = 5.0", "max_step"),
        ("candidates = -1", "candidates"),
        ("sampled_candidates = -5", "sampled_candidates"),
        ("mutated_candidates = 1.5", "mutated_candidates"),
        ("device = \"gpu\"", "device"),
        ("normalise = \"zscore\"", "normalise"),
        ("[head]\nhidden = [0]", "head.hidden"),
        ("[head]\nlr = 0.0", "head.lr"),
        ("[head]\nwidth = 3", "width"),
    ] {
        let e = check(text).expect_err(text);
        assert_eq!(e.kind, ErrorKind::INVALID_PARAMS, "{text}: {e}");
        assert!(e.message().contains(&format!("`{key}`")), "{text}: {e}");
    }
}

#[test]
fn settings_that_need_the_space_or_the_machine_are_checked_when_built() {
    // NAS-Bench-Graph has 5 positions: they cannot be folded in pairs.
    let p: NaoParams = parse_params("fold = 2").unwrap();
    let e = Nao::new(p, &common::init(1)).err().expect("fold 2 refused");
    assert_eq!(e.kind, ErrorKind::INVALID_PARAMS);
    assert!(e.message().starts_with("`fold` is 2"), "{e}");
    // No machine has 100 GPUs.
    let p: NaoParams = parse_params("device = \"cuda:99\"").unwrap();
    let e = Nao::new(p, &common::init(1))
        .err()
        .expect("cuda:99 refused");
    assert_eq!(e.kind, ErrorKind::INVALID_PARAMS);
    assert!(e.message().starts_with("`device = \"cuda:99\"`"), "{e}");
}
