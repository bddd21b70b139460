//! Parameters of `tabular` and the genome layout they describe: positions, choice counts, labels,
//! and the mixed-radix index that numbers every genome of the space (`u64`, position 0 most
//! significant, so index order is lexicographic genome order).

use serde::Deserialize;
use std::collections::HashSet;

/// Parameters of `[search_space.params]` for `tabular`.
///
/// Checked when parsed (so `xnas validate` reports them without opening the table): at least one
/// position, every choice count at least 1, `names` and `labels` as long as `choices`, each label
/// list exactly `choices[i]` long with distinct, non-empty labels free of `-`.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawParams")]
pub struct TabularParams {
    /// Number of choices of each genome position.
    pub choices: Vec<u32>,
    /// Position names; `g0`, `g1`, ... when not given.
    pub names: Vec<String>,
    /// Per-position choice labels, used in genome text; `None` writes genomes as integers.
    pub labels: Option<Vec<Vec<String>>>,
    /// The CSV table; a relative path is resolved against the experiment's base folder (`[experiment] base_dir`, else its file's).
    pub table: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParams {
    choices: Vec<u32>,
    #[serde(default)]
    names: Option<Vec<String>>,
    #[serde(default)]
    labels: Option<Vec<Vec<String>>>,
    table: String,
}

impl TryFrom<RawParams> for TabularParams {
    type Error = String;

    fn try_from(raw: RawParams) -> Result<Self, String> {
        let n = raw.choices.len();
        if n == 0 {
            return Err(
                "`choices` is empty: give the choice count of every genome position".into(),
            );
        }
        if let Some(i) = raw.choices.iter().position(|&c| c == 0) {
            return Err(format!(
                "`choices[{i}]` is 0: every position needs at least 1 choice"
            ));
        }
        let mut size: u64 = 1;
        for &c in &raw.choices {
            size = size.checked_mul(u64::from(c)).ok_or_else(|| {
                "`choices` describe more than 2^64 genomes; tabular numbers genomes with a u64"
                    .to_string()
            })?;
        }
        if raw.table.trim().is_empty() {
            return Err("`table` is empty: give the path of the CSV table".into());
        }
        let names = match raw.names {
            Some(names) => {
                if names.len() != n {
                    return Err(format!(
                        "`names` has {} entries but `choices` has {n}",
                        names.len()
                    ));
                }
                let mut seen = HashSet::new();
                for name in &names {
                    if name.is_empty() {
                        return Err("`names` contains an empty name".into());
                    }
                    if !seen.insert(name.as_str()) {
                        return Err(format!("`names` contains `{name}` twice"));
                    }
                }
                names
            }
            None => (0..n).map(|i| format!("g{i}")).collect(),
        };
        if let Some(labels) = &raw.labels {
            if labels.len() != n {
                return Err(format!(
                    "`labels` has {} lists but `choices` has {n} positions",
                    labels.len()
                ));
            }
            for (i, list) in labels.iter().enumerate() {
                if list.len() != raw.choices[i] as usize {
                    return Err(format!(
                        "`labels[{i}]` (position `{}`) has {} labels but `choices[{i}]` is {}",
                        names[i],
                        list.len(),
                        raw.choices[i]
                    ));
                }
                let mut seen = HashSet::new();
                for label in list {
                    if label.is_empty() || label.trim() != label || label.contains('-') {
                        return Err(format!(
                            "`labels[{i}]` has the label `{label}`: labels must be non-empty, \
                             without surrounding spaces and without `-` (the genome separator)"
                        ));
                    }
                    if !seen.insert(label.as_str()) {
                        return Err(format!("`labels[{i}]` contains `{label}` twice"));
                    }
                }
            }
        }
        Ok(TabularParams {
            choices: raw.choices,
            names,
            labels: raw.labels,
            table: raw.table,
        })
    }
}

/// The shape of a genome: validation, text form, parsing and the mixed-radix index.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub choices: Vec<u32>,
    pub names: Vec<String>,
    pub labels: Option<Vec<Vec<String>>>,
    /// `strides[i]` = product of `choices[i+1..]`.
    strides: Vec<u64>,
    /// Number of genomes (product of `choices`).
    pub size: u64,
}

impl Layout {
    pub fn new(params: &TabularParams) -> Self {
        let n = params.choices.len();
        let mut strides = vec![1u64; n];
        for i in (0..n.saturating_sub(1)).rev() {
            strides[i] = strides[i + 1] * u64::from(params.choices[i + 1]);
        }
        let size = strides.first().copied().unwrap_or(1) * u64::from(params.choices[0]);
        Layout {
            choices: params.choices.clone(),
            names: params.names.clone(),
            labels: params.labels.clone(),
            strides,
            size,
        }
    }

    pub fn len(&self) -> usize {
        self.choices.len()
    }

    /// Checks length and ranges; the message names the offending position.
    pub fn validate(&self, genome: &[u32]) -> Result<(), String> {
        if genome.len() != self.len() {
            return Err(format!(
                "genome has {} positions, the space has {}",
                genome.len(),
                self.len()
            ));
        }
        for (i, (&g, &c)) in genome.iter().zip(&self.choices).enumerate() {
            if g >= c {
                return Err(format!(
                    "position {i} (`{}`) has value {g}, but it has {c} choice{} (0..={})",
                    self.names[i],
                    if c == 1 { "" } else { "s" },
                    c - 1
                ));
            }
        }
        Ok(())
    }

    /// Index of a genome already validated.
    pub fn index(&self, genome: &[u32]) -> u64 {
        genome
            .iter()
            .zip(&self.strides)
            .map(|(&g, &s)| u64::from(g) * s)
            .sum()
    }

    /// Index of the genome `genome` (whose index is `index`) with position `p` set to `value`.
    pub fn replace(&self, index: u64, genome: &[u32], p: usize, value: u32) -> u64 {
        index - u64::from(genome[p]) * self.strides[p] + u64::from(value) * self.strides[p]
    }

    /// The genome of an index `< size`.
    pub fn decode(&self, mut index: u64) -> Vec<u32> {
        self.strides
            .iter()
            .map(|&s| {
                let g = index / s;
                index %= s;
                g as u32
            })
            .collect()
    }

    /// Text form of a validated genome: values (or labels) joined by `-`.
    pub fn text(&self, genome: &[u32]) -> String {
        let mut out = String::new();
        for (i, &g) in genome.iter().enumerate() {
            if i > 0 {
                out.push('-');
            }
            match &self.labels {
                Some(labels) => out.push_str(&labels[i][g as usize]),
                None => out.push_str(&g.to_string()),
            }
        }
        out
    }

    /// Parses text written by [`Layout::text`] into `out` (cleared first). With labels a token is
    /// matched against the position's labels first, then read as an integer.
    pub fn parse_into(&self, text: &str, out: &mut Vec<u32>) -> Result<(), String> {
        out.clear();
        for (i, token) in text.split('-').enumerate() {
            if i >= self.len() {
                let count = text.split('-').count();
                return Err(format!(
                    "`{text}` has {count} positions, the space has {}",
                    self.len()
                ));
            }
            let token = token.trim();
            out.push(self.parse_token(i, token)?);
        }
        if out.len() != self.len() {
            return Err(format!(
                "`{text}` has {} positions, the space has {}",
                out.len(),
                self.len()
            ));
        }
        Ok(())
    }

    fn parse_token(&self, i: usize, token: &str) -> Result<u32, String> {
        if let Some(labels) = &self.labels {
            if let Some(v) = labels[i].iter().position(|l| l == token) {
                return Ok(v as u32);
            }
        }
        let c = self.choices[i];
        match token.parse::<u32>() {
            Ok(v) if v < c => Ok(v),
            Ok(v) => Err(format!(
                "position {i} (`{}`) has value {v}, but it has {c} choice{} (0..={})",
                self.names[i],
                if c == 1 { "" } else { "s" },
                c - 1
            )),
            Err(_) => Err(match &self.labels {
                Some(labels) => format!(
                    "position {i} (`{}`): `{token}` is neither one of its labels ({}) nor a \
                     number below {c}",
                    self.names[i],
                    labels[i].join(", ")
                ),
                None => format!(
                    "position {i} (`{}`): `{token}` is not a number (expected 0..={})",
                    self.names[i],
                    c - 1
                ),
            }),
        }
    }
}
