//! The summary as text: `summary.md` (tables; per target regret in the metric's own units, the
//! overall rows normalised by each target's metric range) and the overview `xnas compare` and
//! `xnas report` print.

use super::{Summary, TargetResult, ALPHA};
use crate::stats::Interval;
use std::fmt::Write as _;

fn ratio(i: &Option<Interval>) -> String {
    match i {
        Some(i) if i.mean.is_finite() => format!("{:.2}× [{:.2}, {:.2}]", i.mean, i.lo, i.hi),
        _ => "–".into(),
    }
}

/// `mean ± half-width` with `digits` decimals, the mean alone when the interval is unknown, `–`
/// without data.
pub(super) fn cell(i: &Interval, digits: usize) -> String {
    if i.n == 0 {
        "–".into()
    } else if i.lo.is_finite() {
        format!("{:.digits$} ± {:.digits$}", i.mean, (i.hi - i.lo) / 2.0)
    } else {
        format!("{:.digits$}", i.mean)
    }
}

/// Decimals that show regrets of about a hundredth of a target's metric range with two
/// significant digits: 4 for a range of 0.66 (accuracy as a fraction), 2 for 66 (percent).
fn digits(t: &TargetResult) -> usize {
    let range = t
        .worst_metric_observed
        .map_or(0.0, |w| t.reference_metric - w);
    if range > 0.0 && range.is_finite() {
        (3 - range.log10().floor() as i64).clamp(1, 9) as usize
    } else {
        4
    }
}

/// Decimals of the normalised (scale-free) overall regret.
const OVERALL_DIGITS: usize = 3;

/// The summary as markdown tables.
pub fn markdown(s: &Summary) -> String {
    if let Some(b) = &s.by_seconds {
        return super::seconds::markdown(
            &s.name,
            s.seeds.len(),
            s.missing_runs.len(),
            b,
            s.confidence,
        );
    }
    let mut o = String::new();
    let heads: Vec<String> = s.budgets.iter().map(|b| format!("regret@{b}")).collect();
    intro(&mut o, s);
    overall(&mut o, s, &heads);
    if !s.overall_pairs.is_empty() {
        pairs(&mut o, s);
    }
    for t in &s.per_target {
        target(&mut o, t, &heads);
    }
    o
}

fn intro(o: &mut String, s: &Summary) {
    let pct = (s.confidence * 100.0).round();
    let _ = writeln!(o, "# Comparison `{}`\n", s.name);
    let _ = writeln!(
        o,
        "{} target{} × {} variants × {} seeds, {} target evaluations per run. Regret: {}; \
         cells are mean ± half-width of the {pct:.0} % Student-t interval over seeds. \
         Overall rows: {}. Threshold: {}.\n",
        s.targets.len(),
        if s.targets.len() == 1 { "" } else { "s" },
        s.variants.len(),
        s.seeds.len(),
        s.budget,
        s.regret_units,
        s.overall_rule,
        s.threshold_rule
    );
    if !s.missing_runs.is_empty() {
        let _ = writeln!(
            o,
            "**{} runs are missing** (not finished); the tables cover the others.\n",
            s.missing_runs.len()
        );
    }
}

fn overall(o: &mut String, s: &Summary, heads: &[String]) {
    let _ = writeln!(
        o,
        "## Overall (normalised regret: regret / the target's metric range, mean over targets)\n"
    );
    let _ = writeln!(
        o,
        "| variant | {} | average rank@{} |",
        heads.join(" | "),
        s.budget
    );
    let _ = writeln!(o, "|---{}|---|", "|---".repeat(heads.len()));
    for v in &s.overall {
        let cells: Vec<String> = v
            .normalized_regret
            .iter()
            .map(|r| cell(&r.value, OVERALL_DIGITS))
            .collect();
        let rank = v.average_rank.last().map_or(f64::NAN, |r| r.value);
        let _ = writeln!(o, "| {} | {} | {rank:.2} |", v.variant, cells.join(" | "));
    }
}

fn pairs(o: &mut String, s: &Summary) {
    let pct = (s.confidence * 100.0).round();
    let _ = writeln!(
        o,
        "\n## Transfer against plain\n\nSpeed-up: mean evaluations the plain variant needs to reach the threshold over the transfer variant's \
         (runs that never reach it count as the full budget), {pct:.0} % paired bootstrap interval over seeds. \
         Better / worse: paired Wilcoxon signed-rank test over seeds at {} evaluations, p < {ALPHA}. \
         Underpowered: with fewer than 6 untied seeds the exact test's smallest two-sided p \
         (2 · 2⁻ⁿ: 0.0625 for 5 seeds) is not below {ALPHA}, so it cannot find a difference; \
         run more seeds.\n",
        s.budget
    );
    let _ = writeln!(
        o,
        "| transfer | plain | speed-up | better on | worse on | underpowered on | no difference on |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|");
    let list = |v: &Vec<String>| {
        if v.is_empty() {
            "–".to_string()
        } else {
            v.join(", ")
        }
    };
    for p in &s.overall_pairs {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} |",
            p.transfer,
            p.plain,
            ratio(&p.speedup),
            list(&p.better),
            list(&p.worse),
            list(&p.underpowered),
            list(&p.no_difference)
        );
    }
}

fn target(o: &mut String, t: &TargetResult, heads: &[String]) {
    let d = digits(t);
    let range = match t.worst_metric_observed {
        Some(w) => format!(
            "; metrics observed from {w:.d$} to {:.d$} (range {:.d$})",
            t.reference_metric,
            t.reference_metric - w
        ),
        None => String::new(),
    };
    let _ = writeln!(
        o,
        "\n## {}\n\n{} {:.d$}{range}. Regret in the metric's units; threshold regret {:.d$}.\n",
        t.target,
        if t.reference_is_best_found {
            "Best metric found by any run (the space knows no best):"
        } else {
            "Best metric in the benchmark:"
        },
        t.reference_metric,
        t.threshold
    );
    let _ = writeln!(
        o,
        "| variant | {} | evaluations to threshold | reached | s / run |",
        heads.join(" | ")
    );
    let _ = writeln!(o, "|---{}|---|---|---|", "|---".repeat(heads.len()));
    for v in &t.variants {
        let cells: Vec<String> = v.regret.iter().map(|r| cell(&r.value, d)).collect();
        let e = &v.evaluations_to_threshold;
        let _ = writeln!(
            o,
            "| {} | {} | {} | {}/{} | {:.1} |",
            v.variant,
            cells.join(" | "),
            cell(&e.mean, 2),
            e.reached,
            e.runs,
            v.mean_wall_seconds
        );
    }
    for p in &t.pairs {
        let tests: Vec<String> = p
            .tests
            .iter()
            .map(|x| match &x.wilcoxon {
                Some(w) => format!(
                    "@{}: W = {:.1}, p = {:.4} ({}; smallest p possible with {} untied seeds: {:.4})",
                    x.budget,
                    w.statistic.abs(),
                    w.p_value,
                    x.verdict,
                    w.n,
                    x.min_p_value
                ),
                None => format!("@{}: all tied", x.budget),
            })
            .collect();
        let _ = writeln!(
            o,
            "\n{} against {}: speed-up {}; Wilcoxon {}.",
            p.transfer,
            p.plain,
            ratio(&p.speedup),
            tests.join("; ")
        );
    }
}

/// A few lines for the terminal: overall regret at the full budget and the transfer verdicts.
pub fn overview(s: &Summary) -> String {
    if let Some(b) = &s.by_seconds {
        return super::seconds::overview(&s.name, b);
    }
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{}: {} targets × {} seeds, normalised regret (regret / the target's metric range, mean over targets, ± {:.0} % interval) after {} evaluations:",
        s.name,
        s.targets.len(),
        s.seeds.len(),
        s.confidence * 100.0,
        s.budget
    );
    let width = s
        .variants
        .iter()
        .map(|v| v.chars().count())
        .max()
        .unwrap_or(0);
    for v in &s.overall {
        if let Some(r) = v.normalized_regret.last() {
            let rank = v.average_rank.last().map_or(f64::NAN, |r| r.value);
            let _ = writeln!(
                o,
                "  {:<width$}  {}   average rank {rank:.2}",
                v.variant,
                cell(&r.value, OVERALL_DIGITS)
            );
        }
    }
    for p in &s.overall_pairs {
        let _ = writeln!(
            o,
            "  {} vs {}: speed-up {}; better on {}, worse on {}, underpowered on {}, no difference on {} of {} targets",
            p.transfer,
            p.plain,
            ratio(&p.speedup),
            p.better.len(),
            p.worse.len(),
            p.underpowered.len(),
            p.no_difference.len(),
            s.per_target.len()
        );
        if !p.underpowered.is_empty() {
            let _ = writeln!(
                o,
                "    (underpowered: too few seeds for the Wilcoxon test to reach p < {ALPHA}; use 6 or more)"
            );
        }
    }
    if !s.missing_runs.is_empty() {
        let _ = writeln!(o, "  ({} runs missing)", s.missing_runs.len());
    }
    o
}
