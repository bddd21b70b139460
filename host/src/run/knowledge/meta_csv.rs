//! The meta-dataset CSV of `tasks.source_file`: observations on the source tasks, one row each,
//! columns found by their header names.

use super::knowledge_err;
use crate::error::HostResult;
use std::collections::BTreeMap;
use std::io::Read;

/// One usable row of a meta-dataset file (the architecture still as text).
#[derive(Debug, Clone, PartialEq)]
pub struct MetaRow {
    /// 1-based line the row starts on.
    pub line: u64,
    pub task: String,
    pub arch: String,
    pub metric: f64,
    pub test_metric: Option<f64>,
    pub cost_s: f64,
}

/// What a meta-dataset file holds for an experiment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetaRows {
    /// Rows on the source tasks whose status is ok, in file order.
    pub rows: Vec<MetaRow>,
    /// Rows skipped because their task is not a source task, per task.
    pub other_tasks: BTreeMap<String, u64>,
    /// Rows skipped because their `status` column is not `ok`.
    pub not_ok: u64,
}

const META_COLUMNS: &str = "task,arch,metric (optional: test_metric, cost_seconds, status)";

/// Reads a meta-dataset CSV. Columns are found by header name, so their order is free and other
/// columns are ignored; `xnas report`'s `trials.csv` (with `cost_s` and `status`) reads as is.
/// `name` is how messages name the file. Rows of tasks outside `sources` are skipped; a row on
/// `target` is an error, as is any malformed row of a source task.
pub fn read_meta_csv(
    reader: impl Read,
    name: &str,
    target: &str,
    sources: &[String],
) -> HostResult<MetaRows> {
    let mut csv = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let at = |line: u64| format!("{name}:{line}");
    let headers = csv
        .headers()
        .map_err(|e| knowledge_err(at(1), format!("cannot read the header: {e}")))?
        .clone();
    if headers.iter().all(str::is_empty) {
        return Err(knowledge_err(
            at(1),
            format!("the file is empty: it needs a header line naming the columns {META_COLUMNS}"),
        ));
    }
    let names: Vec<&str> = headers
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}'))
        .collect();
    for (i, n) in names.iter().enumerate() {
        if !n.is_empty() && names[..i].contains(n) {
            return Err(knowledge_err(
                at(1),
                format!("column `{n}` appears twice in the header: keep one"),
            ));
        }
    }
    let find = |n: &str| names.iter().position(|h| *h == n);
    let required = |n: &str| {
        find(n).ok_or_else(|| {
            knowledge_err(
                at(1),
                format!(
                    "the header has no `{n}` column (it has: {}); the columns are {META_COLUMNS}",
                    names.join(",")
                ),
            )
        })
    };
    let (task_col, arch_col, metric_col) =
        (required("task")?, required("arch")?, required("metric")?);
    let test_col = find("test_metric");
    let cost_col = find("cost_seconds").or_else(|| find("cost_s"));
    let status_col = find("status");

    let mut out = MetaRows::default();
    for record in csv.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            let message = match e.kind() {
                csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => format!(
                    "the row has {len} fields and the header {expected_len}: give every column a \
                     value (empty for a missing optional one) and quote fields that contain commas"
                ),
                csv::ErrorKind::Utf8 { .. } => {
                    "the row is not valid UTF-8: save the file as UTF-8".into()
                }
                _ => format!("cannot read the row: {e}"),
            };
            knowledge_err(at(line), message)
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |col: usize| record.get(col).unwrap_or("");
        let task = field(task_col);
        if task.is_empty() {
            return Err(knowledge_err(
                at(line),
                "column `task` is empty: name the task the row was measured on",
            ));
        }
        if task == target {
            return Err(knowledge_err(
                at(line),
                format!(
                    "the row is on the target task `{target}`: the target never counts as source \
                     knowledge; remove the target's rows from the file (tasks.source_file)"
                ),
            ));
        }
        if !sources.iter().any(|s| s == task) {
            *out.other_tasks.entry(task.to_string()).or_insert(0) += 1;
            continue;
        }
        if let Some(col) = status_col {
            match field(col) {
                "ok" => {}
                "failed" | "pending" => {
                    out.not_ok += 1;
                    continue;
                }
                other => {
                    return Err(knowledge_err(
                        at(line),
                        format!(
                        "column `status`: `{other}` is not `ok`, `failed` or `pending`; only `ok` \
                             rows are used (or drop the column)"
                    ),
                    ))
                }
            }
        }
        let arch = field(arch_col);
        if arch.is_empty() {
            return Err(knowledge_err(
                at(line),
                "column `arch` is empty: give the architecture in the space's canonical text, as \
                 in the `arch` column of trials.csv",
            ));
        }
        let number = |col: usize, what: &str| -> HostResult<Option<f64>> {
            let text = field(col);
            if text.is_empty() {
                return Ok(None);
            }
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Some(v)),
                _ => Err(knowledge_err(
                    at(line),
                    format!(
                        "column `{}`: `{text}` is not a finite number; write {what}",
                        names[col]
                    ),
                )),
            }
        };
        let metric = number(
            metric_col,
            "the validation metric as a number (higher is better)",
        )?
        .ok_or_else(|| {
            knowledge_err(
                at(line),
                "column `metric` is empty: give the validation metric (leave out rows of failed \
                 evaluations, or mark them with a `status` column saying `failed`)",
            )
        })?;
        let test_metric = test_col
            .map(|c| number(c, "the test metric as a number, or leave it empty"))
            .transpose()?
            .flatten();
        let cost_s = match cost_col {
            None => 0.0,
            Some(c) => {
                let cost = number(c, "the evaluation cost in seconds (≥ 0), or leave it empty")?
                    .unwrap_or(0.0);
                if cost < 0.0 {
                    return Err(knowledge_err(
                        at(line),
                        format!(
                            "column `{}`: {cost} is negative; write the evaluation cost in seconds \
                             (≥ 0), or leave it empty",
                            names[c]
                        ),
                    ));
                }
                cost
            }
        };
        out.rows.push(MetaRow {
            line,
            task: task.to_string(),
            arch: arch.to_string(),
            metric,
            test_metric,
            cost_s,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> HostResult<MetaRows> {
        read_meta_csv(
            text.as_bytes(),
            "meta.csv",
            "cora",
            &["citeseer".to_string(), "pubmed".to_string()],
        )
    }

    fn err(text: &str) -> String {
        read(text).expect_err("must be refused").to_string()
    }

    #[test]
    fn columns_by_name_optional_ones_may_be_missing_or_empty() {
        let m = read(
            "metric,arch,task\n\
             0.7,\"0-0-0-0|gcn,gcn,gcn,gcn\",citeseer\n\
             0.25,x,photo\n\
             0.5,y,pubmed\n",
        )
        .unwrap();
        assert_eq!(
            m.rows,
            vec![
                MetaRow {
                    line: 2,
                    task: "citeseer".into(),
                    arch: "0-0-0-0|gcn,gcn,gcn,gcn".into(),
                    metric: 0.7,
                    test_metric: None,
                    cost_s: 0.0,
                },
                MetaRow {
                    line: 4,
                    task: "pubmed".into(),
                    arch: "y".into(),
                    metric: 0.5,
                    test_metric: None,
                    cost_s: 0.0,
                },
            ]
        );
        assert_eq!(m.other_tasks, BTreeMap::from([("photo".to_string(), 1)]));

        let m = read(
            "task,arch,metric,test_metric,cost_seconds\nciteseer,a,0.7,,\npubmed,b,0.6,0.55,3.5\n",
        )
        .unwrap();
        assert_eq!((m.rows[0].test_metric, m.rows[0].cost_s), (None, 0.0));
        assert_eq!((m.rows[1].test_metric, m.rows[1].cost_s), (Some(0.55), 3.5));
    }

    #[test]
    fn reads_the_trials_csv_that_report_writes() {
        // The header of `report::write_trials_csv`; failed rows are skipped, cost_s is the cost.
        let m = read(
            "trial_id,role,task,arch,genome,metric,test_metric,cost_s,status,seed,error\n\
             0,source,citeseer,\"0-0-0-0|gcn,gcn,gcn,gcn\",0-1-1-1-1,0.7,0.69,2.5,ok,17,\n\
             1,source,pubmed,\"0-0-0-0|gat,gcn,gcn,gcn\",0-0-1-1-1,,,0,failed,18,evaluation failed: x\n\
             2,target,photo,\"0-0-0-0|gat,gcn,gcn,gcn\",0-0-1-1-1,0.9,0.9,1,ok,19,\n",
        )
        .unwrap();
        assert_eq!(m.rows.len(), 1);
        assert_eq!(m.rows[0].task, "citeseer");
        assert_eq!(m.rows[0].arch, "0-0-0-0|gcn,gcn,gcn,gcn");
        assert_eq!((m.rows[0].test_metric, m.rows[0].cost_s), (Some(0.69), 2.5));
        assert_eq!(m.not_ok, 1);
        assert_eq!(m.other_tasks.get("photo"), Some(&1));
    }

    #[test]
    fn a_row_on_the_target_is_an_error_naming_the_line() {
        let e = err("task,arch,metric\nciteseer,a,0.5\ncora,b,0.6\npubmed,c,0.7\n");
        assert!(e.starts_with("meta.csv:3: "), "{e}");
        assert!(e.contains("target task `cora`"), "{e}");
        // Even with a bad metric, the leak is what is reported.
        let e = err("task,arch,metric\ncora,b,oops\n");
        assert!(e.contains("target task `cora`"), "{e}");
    }

    #[test]
    fn bad_values_name_line_column_and_fix() {
        let e = err("task,arch,metric\nciteseer,a,0.5\npubmed,b,abc\n");
        assert!(
            e.starts_with("meta.csv:3: column `metric`: `abc` is not a finite number"),
            "{e}"
        );
        let e = err("task,arch,metric\npubmed,b,NaN\n");
        assert!(e.starts_with("meta.csv:2: column `metric`"), "{e}");
        let e = err("task,arch,metric\npubmed,b,\n");
        assert!(e.starts_with("meta.csv:2: column `metric` is empty"), "{e}");
        let e = err("task,arch,metric\npubmed,,0.5\n");
        assert!(e.starts_with("meta.csv:2: column `arch` is empty"), "{e}");
        let e = err("task,arch,metric\n,a,0.5\n");
        assert!(e.starts_with("meta.csv:2: column `task` is empty"), "{e}");
        let e = err("task,arch,metric,test_metric\npubmed,a,0.5,x\n");
        assert!(e.starts_with("meta.csv:2: column `test_metric`"), "{e}");
        let e = err("task,arch,metric,cost_seconds\npubmed,a,0.5,-1\n");
        assert!(
            e.starts_with("meta.csv:2: column `cost_seconds`: -1 is negative"),
            "{e}"
        );
        let e = err("task,arch,metric,status\npubmed,a,0.5,maybe\n");
        assert!(e.starts_with("meta.csv:2: column `status`"), "{e}");
    }

    #[test]
    fn rows_of_other_tasks_are_not_checked() {
        let m = read("task,arch,metric\nphoto,,not a number\n").unwrap();
        assert!(m.rows.is_empty());
        assert_eq!(m.other_tasks.get("photo"), Some(&1));
    }

    #[test]
    fn unequal_rows_and_header_problems() {
        let e = err("task,arch,metric\npubmed,a,0.5\npubmed,0-0-0-0|gcn,gcn,gcn,gcn,0.5\n");
        assert!(
            e.starts_with("meta.csv:3: the row has 6 fields and the header 3"),
            "{e}"
        );
        assert!(e.contains("quote fields that contain commas"), "{e}");
        let e = err("task,architecture,metric\npubmed,a,0.5\n");
        assert!(
            e.starts_with("meta.csv:1: the header has no `arch` column"),
            "{e}"
        );
        let e = err("task,arch,metric,metric\n");
        assert!(e.contains("column `metric` appears twice"), "{e}");
        let e = err("");
        assert!(e.starts_with("meta.csv:1: the file is empty"), "{e}");
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_column() {
        let m = read("\u{feff}task,arch,metric\npubmed,a,0.5\n").unwrap();
        assert_eq!(m.rows.len(), 1);
    }
}
