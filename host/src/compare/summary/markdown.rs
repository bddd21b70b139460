//! The summary as text: `summary.md` (tables; regret ×100) and the overview `xnas compare` and
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

/// The summary as markdown tables. Regret is shown ×100 (metric points for accuracies).
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
        "{} target{} × {} variants × {} seeds, {} target evaluations per run. Regret = best metric of the benchmark − best found, ×100; \
         cells are mean ± half-width of the {pct:.0} % Student-t interval over seeds. \
         Threshold: {}.\n",
        s.targets.len(),
        if s.targets.len() == 1 { "" } else { "s" },
        s.variants.len(),
        s.seeds.len(),
        s.budget,
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
    let _ = writeln!(o, "## Overall (mean over targets)\n");
    let _ = writeln!(
        o,
        "| variant | {} | average rank@{} |",
        heads.join(" | "),
        s.budget
    );
    let _ = writeln!(o, "|---{}|---|", "|---".repeat(heads.len()));
    for v in &s.overall {
        let cells: Vec<String> = v.regret.iter().map(|r| r.value.cell(100.0)).collect();
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
         Better / worse: paired Wilcoxon signed-rank test over seeds at {} evaluations, p < {ALPHA}.\n",
        s.budget
    );
    let _ = writeln!(
        o,
        "| transfer | plain | speed-up | better on | worse on | no difference on |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|");
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
            "| {} | {} | {} | {} | {} | {} |",
            p.transfer,
            p.plain,
            ratio(&p.speedup),
            list(&p.better),
            list(&p.worse),
            list(&p.no_difference)
        );
    }
}

fn target(o: &mut String, t: &TargetResult, heads: &[String]) {
    let _ = writeln!(
        o,
        "\n## {}\n\n{} {:.4}; threshold regret {:.2} (×100).\n",
        t.target,
        if t.reference_is_best_found {
            "Best metric found by any run (the space knows no best):"
        } else {
            "Best metric in the benchmark:"
        },
        t.reference_metric,
        t.threshold * 100.0
    );
    let _ = writeln!(
        o,
        "| variant | {} | evaluations to threshold | reached | s / run |",
        heads.join(" | ")
    );
    let _ = writeln!(o, "|---{}|---|---|---|", "|---".repeat(heads.len()));
    for v in &t.variants {
        let cells: Vec<String> = v.regret.iter().map(|r| r.value.cell(100.0)).collect();
        let e = &v.evaluations_to_threshold;
        let _ = writeln!(
            o,
            "| {} | {} | {} | {}/{} | {:.1} |",
            v.variant,
            cells.join(" | "),
            e.mean.cell(1.0),
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
                    "@{}: W = {:.1}, p = {:.3} ({})",
                    x.budget,
                    w.statistic.abs(),
                    w.p_value,
                    x.verdict
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
        "{}: {} targets × {} seeds, regret ×100 after {} evaluations (mean over targets, ± {:.0} % interval):",
        s.name,
        s.targets.len(),
        s.seeds.len(),
        s.budget,
        s.confidence * 100.0
    );
    let width = s
        .variants
        .iter()
        .map(|v| v.chars().count())
        .max()
        .unwrap_or(0);
    for v in &s.overall {
        if let Some(r) = v.regret.last() {
            let rank = v.average_rank.last().map_or(f64::NAN, |r| r.value);
            let _ = writeln!(
                o,
                "  {:<width$}  {}   average rank {rank:.2}",
                v.variant,
                r.value.cell(100.0)
            );
        }
    }
    for p in &s.overall_pairs {
        let _ = writeln!(
            o,
            "  {} vs {}: speed-up {}; better on {}, worse on {}, no difference on {} of {} targets",
            p.transfer,
            p.plain,
            ratio(&p.speedup),
            p.better.len(),
            p.worse.len(),
            p.no_difference.len(),
            s.per_target.len()
        );
    }
    if !s.missing_runs.is_empty() {
        let _ = writeln!(o, "  ({} runs missing)", s.missing_runs.len());
    }
    o
}
