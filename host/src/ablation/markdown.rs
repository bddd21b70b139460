//! `correlation.md`: one table per target (rows: source knowledge, columns: target knowledge).

use super::plan::AblationSection;
use super::stats::Summary;
use std::fmt::Write as _;

pub fn markdown(s: &Summary, sec: &AblationSection) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# Ablation `{}`\n\nSpearman's ρ between the transferred surrogate's predictions and the true metric on {} held-out target architectures; \
         mean ± half-width of the {:.0} % Student-t interval over {} splits. Rows: source knowledge (architectures per source task); \
         columns: target knowledge (evaluated target architectures).",
        s.name,
        s.held_out,
        s.confidence * 100.0,
        s.splits
    );
    for t in &s.tables {
        let _ = writeln!(o, "\n## {}\n", t.target);
        let heads: Vec<String> = sec
            .target_knowledge
            .iter()
            .map(|k| format!("K = {k}"))
            .collect();
        let _ = writeln!(o, "| S per source | {} |", heads.join(" | "));
        let _ = writeln!(o, "|---{}|", "|---".repeat(heads.len()));
        for &sk in &sec.source_knowledge {
            let row: Vec<String> = t
                .cells
                .iter()
                .filter(|c| c.source_knowledge == sk)
                .map(|c| c.spearman.cell(1.0))
                .collect();
            let _ = writeln!(o, "| {sk} | {} |", row.join(" | "));
        }
    }
    o
}
