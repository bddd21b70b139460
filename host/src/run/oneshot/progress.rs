//! What a one-shot search shows while it runs (stderr): on a terminal, a bar over the steps of
//! the epoch in progress and a line per ended epoch above it; otherwise (a log file, a pipe) the
//! epoch lines alone; nothing with `--quiet`.

use super::epochs::EpochRecord;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use xnas_core::SearchProgress;

pub struct SearchBar {
    bar: Option<ProgressBar>,
    lines: bool,
    /// The epoch budget, shown as `epoch 3/10`.
    epochs: Option<u64>,
}

impl SearchBar {
    pub fn new(target: &str, epochs: Option<u64>, quiet: bool) -> SearchBar {
        let terminal = !quiet && std::io::stderr().is_terminal();
        let bar = terminal.then(|| {
            let bar = ProgressBar::new(1);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{elapsed_precise}] epoch {msg} [{bar:30}] {pos}/{len} steps",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(target.to_string());
            bar
        });
        SearchBar {
            bar,
            lines: !quiet,
            epochs,
        }
    }

    /// After a step: where the epoch in progress is (`epochs_done` ended before it).
    pub fn step(&self, p: &SearchProgress, epochs_done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(u64::from(p.steps_per_epoch.max(1)));
            bar.set_position(u64::from(p.step_in_epoch));
            let of = self.epochs.map_or(String::new(), |n| format!("/{n}"));
            bar.set_message(format!("{}{of}", epochs_done + 1));
        }
    }

    pub fn epoch(&self, record: &EpochRecord) {
        if !self.lines {
            return;
        }
        let line = record.line(self.epochs);
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    /// A line about the search as a whole (why it stopped, what it derives).
    pub fn note(&self, line: &str) {
        if !self.lines {
            return;
        }
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
