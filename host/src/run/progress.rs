//! The terminal progress bar (stderr; hidden with --quiet or when stderr is not a terminal).

use crate::store::{Outcome, Status};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::{Arc, Mutex};

pub struct Progress {
    bar: ProgressBar,
    best: Arc<Mutex<f64>>,
    counts: bool,
}

impl Progress {
    pub fn new(target: &str, evaluations: Option<u64>, quiet: bool) -> Progress {
        let bar = match evaluations {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::new_spinner(),
        };
        if quiet {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(target.to_string());
        Progress {
            bar,
            best: Arc::new(Mutex::new(f64::NEG_INFINITY)),
            counts: true,
        }
    }

    /// A handle that shares the bar but does not count (source-knowledge trials).
    pub fn quiet_clone(&self) -> Progress {
        Progress {
            bar: self.bar.clone(),
            best: Arc::new(Mutex::new(f64::NEG_INFINITY)),
            counts: false,
        }
    }

    pub fn trial_done(&self, o: &Outcome) {
        if !self.counts {
            return;
        }
        self.bar.inc(1);
        if o.status == Status::Ok {
            if let (Some(m), Ok(mut best)) = (o.metric, self.best.lock()) {
                if m > *best {
                    *best = m;
                    self.bar.set_message(format!("best {m:.4}"));
                }
            }
        }
    }

    pub fn replayed(&self, n: u64) {
        self.bar.inc(n);
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// A bar counting `len` units of a multi-run command (`compare`, `ablation`); hidden when `quiet`.
pub fn count_bar(quiet: bool, len: usize, prefix: &str, unit: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{prefix}} [{{bar:30}}] {{pos}}/{{len}} {unit}, {{elapsed_precise}} (eta {{eta}})  {{msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_prefix(prefix.to_string());
    bar
}
