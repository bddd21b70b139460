//! Progress on stderr: a bar on a terminal; when stderr is not a terminal (nohup, a cluster job,
//! a pipe) plain lines instead, one per trial or finished unit, at most one a second for quick
//! trials (the last always); nothing with --quiet.

use crate::store::{Outcome, Status};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Plain lines instead of a bar: not quiet, and stderr is not a terminal.
fn plain_lines(quiet: bool) -> bool {
    !quiet && !std::io::stderr().is_terminal()
}

/// The throttle of plain lines: true when one is due (a second since the last, or `last`).
struct Lines {
    prefix: String,
    last: Mutex<Option<Instant>>,
}

impl Lines {
    fn new(prefix: &str) -> Lines {
        Lines {
            prefix: prefix.to_string(),
            last: Mutex::new(None),
        }
    }
    fn emit(&self, bar: &ProgressBar, last: bool, text: impl FnOnce() -> String) {
        let mut at = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last || at.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            *at = Some(Instant::now());
            let len = bar.length().map_or(String::new(), |l| format!("/{l}"));
            eprintln!(
                "{}: {}{len} {} ({:.0} s)",
                self.prefix,
                bar.position(),
                text(),
                bar.elapsed().as_secs_f64()
            );
        }
    }
}

pub struct Progress {
    bar: ProgressBar,
    best: Arc<Mutex<f64>>,
    counts: bool,
    lines: Option<Arc<Lines>>,
}

impl Progress {
    pub fn new(target: &str, evaluations: Option<u64>, quiet: bool) -> Progress {
        let bar = match evaluations {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::new_spinner(),
        };
        let lines = plain_lines(quiet).then(|| Arc::new(Lines::new(target)));
        if quiet || lines.is_some() {
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
            lines,
        }
    }

    /// A handle that shares the bar but does not count (source-knowledge trials).
    pub fn quiet_clone(&self) -> Progress {
        Progress {
            bar: self.bar.clone(),
            best: Arc::new(Mutex::new(f64::NEG_INFINITY)),
            counts: false,
            lines: None,
        }
    }

    pub fn trial_done(&self, o: &Outcome) {
        if !self.counts {
            return;
        }
        self.bar.inc(1);
        let mut best_now = f64::NEG_INFINITY;
        if let Ok(mut best) = self.best.lock() {
            if let (Status::Ok, Some(m)) = (o.status, o.metric) {
                if m > *best {
                    *best = m;
                    self.bar.set_message(format!("best {m:.4}"));
                }
            }
            best_now = *best;
        }
        if let Some(lines) = &self.lines {
            let last = self.bar.length() == Some(self.bar.position());
            lines.emit(&self.bar, last, || {
                let what = match (o.status, o.metric) {
                    (Status::Ok, Some(m)) => format!("trials done, last metric {m:.4}"),
                    _ => format!("trials done, last {}", o.status.as_str()),
                };
                if best_now.is_finite() {
                    format!("{what}, best {best_now:.4}")
                } else {
                    what
                }
            });
        }
    }

    pub fn replayed(&self, n: u64) {
        self.bar.inc(n);
        if let Some(lines) = &self.lines {
            lines.emit(&self.bar, true, || {
                format!("trials replayed from the store ({n})")
            });
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// A bar counting `len` units of a multi-run command (`compare`, `ablation`): plain lines when
/// stderr is not a terminal, nothing when `quiet`.
pub fn count_bar(quiet: bool, len: usize, prefix: &str, unit: &str) -> CountBar {
    if quiet {
        return CountBar {
            bar: ProgressBar::hidden(),
            lines: None,
        };
    }
    if plain_lines(quiet) {
        let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::hidden());
        return CountBar {
            bar,
            lines: Some((Arc::new(Lines::new(prefix)), unit.to_string())),
        };
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
    CountBar { bar, lines: None }
}

/// [`count_bar`]'s bar, or its plain lines: one when a unit starts and one when it is done.
#[derive(Clone)]
pub struct CountBar {
    bar: ProgressBar,
    lines: Option<(Arc<Lines>, String)>,
}

impl CountBar {
    /// Names the unit now starting.
    pub fn set_message(&self, m: String) {
        if let Some((lines, _)) = &self.lines {
            lines.emit(&self.bar, true, || format!("done, starting {m}"));
        }
        self.bar.set_message(m);
    }
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
        if let Some((lines, unit)) = &self.lines {
            lines.emit(&self.bar, true, || format!("{unit} done"));
        }
    }
    /// Prints `f`'s output without garbling the bar.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }
    pub fn finish_and_clear(&self) {
        self.bar.finish_and_clear();
    }
}
