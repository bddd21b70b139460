//! [`ToySpace`]: a small benchmark space for testing optimizers without data files.

use abi_stable::std_types::{RSome, RString, RVec};
use xnas_core::{
    derive_seed, fnv1a64, Arch, EvalRequest, EvalResult, PluginError, PluginResult, Position,
    SearchSpace, SpaceDesc, SplitMix64,
};

/// The ops of the two branches.
const OPS: [&str; 4] = ["conv", "pool", "attn", "skip"];
/// Choices of each position: `left`, `right` (ops), `width`, `depth`, `residual`.
const CHOICES: [u32; 5] = [4, 4, 3, 3, 2];
const NAMES: [&str; 5] = ["left", "right", "width", "depth", "residual"];

/// A small benchmark search space for testing optimizers: a cell with two parallel branches
/// (`left`, `right`: one of four ops each), a `width` and a `depth` (3 choices each) and a
/// `residual` switch. 288 genomes describe 180 architectures: the branches are interchangeable,
/// so `canonical` puts the smaller op first, and a genome an optimizer proposes can differ from
/// the canonical genome it is told, as in real cell spaces. The text form is
/// `conv+attn|w1|d2|r0`.
///
/// Evaluation is deterministic and needs no data: every task id is accepted, and each task scores
/// the architectures with its own additive table (derived from the task's name), so
/// [`SearchSpace::best_metric`] is known for every task. [`SearchSpace::mutate`] changes one
/// position; [`SearchSpace::symmetric_variants`] gives the genome with its branches swapped.
#[derive(Clone, Copy, Debug, Default)]
pub struct ToySpace;

impl ToySpace {
    fn check(&self, genome: &[u32]) -> PluginResult<()> {
        if genome.len() != CHOICES.len() {
            return Err(PluginError::invalid_architecture(format!(
                "a toy genome has {} genes [left, right, width, depth, residual], this one has \
                 {}: {genome:?}",
                CHOICES.len(),
                genome.len()
            )));
        }
        for (i, (&g, &c)) in genome.iter().zip(CHOICES.iter()).enumerate() {
            if g >= c {
                return Err(PluginError::invalid_architecture(format!(
                    "gene `{}` of {genome:?} is {g}: it takes 0..{c}",
                    NAMES[i]
                )));
            }
        }
        Ok(())
    }

    fn canonical_genome(genome: &[u32]) -> Vec<u32> {
        let mut g = genome.to_vec();
        if g[0] > g[1] {
            g.swap(0, 1);
        }
        g
    }

    /// The score of choice `value` at position `p` (the branches share one table) on `task`.
    fn weight(task: &str, p: usize, value: u32) -> f64 {
        let p = p.max(1) as u64; // left and right score alike, so a branch swap keeps the metric
        let h = derive_seed(fnv1a64(task.as_bytes()), (p << 8) | u64::from(value));
        (h >> 11) as f64 / (1u64 << 53) as f64
    }

    fn metric(task: &str, genome: &[u32]) -> f64 {
        let sum: f64 = genome
            .iter()
            .enumerate()
            .map(|(p, &v)| Self::weight(task, p, v))
            .sum();
        sum / genome.len() as f64
    }
}

impl SearchSpace for ToySpace {
    fn describe(&self) -> PluginResult<SpaceDesc> {
        let positions = NAMES
            .iter()
            .zip(CHOICES)
            .enumerate()
            .map(|(i, (name, choices))| Position {
                name: (*name).into(),
                choices,
                group: if i < 2 { "op" } else { *name }.into(),
                labels: if i < 2 {
                    OPS.iter().map(|&o| RString::from(o)).collect()
                } else {
                    RVec::new()
                },
            })
            .collect();
        Ok(SpaceDesc {
            positions,
            tasks: RVec::new(),
            size: 10 * 3 * 3 * 2,
        })
    }

    fn sample(&self, seed: u64) -> PluginResult<Vec<u32>> {
        let mut rng = SplitMix64::new(seed);
        Ok(CHOICES.iter().map(|&c| rng.below(c)).collect())
    }

    fn mutate(&self, genome: &[u32], seed: u64) -> PluginResult<Vec<u32>> {
        self.check(genome)?;
        let mut rng = SplitMix64::new(seed);
        let p = rng.below(CHOICES.len() as u32) as usize;
        let mut child = genome.to_vec();
        child[p] = rng.below_except(CHOICES[p], genome[p]);
        Ok(child)
    }

    fn canonical(&self, genome: &[u32]) -> PluginResult<Arch> {
        self.check(genome)?;
        let g = Self::canonical_genome(genome);
        let text = format!(
            "{}+{}|w{}|d{}|r{}",
            OPS[g[0] as usize], OPS[g[1] as usize], g[2], g[3], g[4]
        );
        Ok(Arch {
            genome: g.into(),
            text: text.into(),
        })
    }

    fn parse(&self, text: &str) -> PluginResult<Vec<u32>> {
        let bad = |why: &str| {
            PluginError::invalid_architecture(format!(
                "cannot parse toy architecture `{text}`: {why} (expected `OP+OP|wN|dN|rN` like \
                 `conv+attn|w1|d2|r0`)"
            ))
        };
        let parts: Vec<&str> = text.trim().split('|').collect();
        let [ops, w, d, r] = parts[..] else {
            return Err(bad("expected four parts separated by `|`"));
        };
        let (left, right) = ops
            .split_once('+')
            .ok_or_else(|| bad("no `+` between the ops"))?;
        let op = |name: &str| {
            OPS.iter()
                .position(|&o| o == name.trim())
                .map(|i| i as u32)
                .ok_or_else(|| bad(&format!("unknown op `{}`", name.trim())))
        };
        let number = |part: &str, prefix: char| {
            part.trim()
                .strip_prefix(prefix)
                .and_then(|n| n.parse::<u32>().ok())
                .ok_or_else(|| bad(&format!("`{part}` is not `{prefix}` and a number")))
        };
        let genome = vec![
            op(left)?,
            op(right)?,
            number(w, 'w')?,
            number(d, 'd')?,
            number(r, 'r')?,
        ];
        self.check(&genome)?;
        Ok(genome)
    }

    fn symmetric_variants(&self, genome: &[u32]) -> PluginResult<Vec<Vec<u32>>> {
        self.check(genome)?;
        if genome[0] == genome[1] {
            return Ok(Vec::new());
        }
        let mut swapped = genome.to_vec();
        swapped.swap(0, 1);
        Ok(vec![swapped])
    }

    fn best_metric(&self, task: &str) -> Option<f64> {
        // Additive: the best of each position (the two branches may share their best op).
        let sum: f64 = CHOICES
            .iter()
            .enumerate()
            .map(|(p, &c)| {
                (0..c)
                    .map(|v| Self::weight(task, p, v))
                    .fold(f64::NEG_INFINITY, f64::max)
            })
            .sum();
        Some(sum / CHOICES.len() as f64)
    }

    fn evaluate(&self, request: &EvalRequest) -> PluginResult<EvalResult> {
        self.check(&request.genome)?;
        let g = Self::canonical_genome(&request.genome);
        let metric = Self::metric(&request.task, &g);
        Ok(EvalResult {
            metric,
            test_metric: RSome(metric * 0.99),
            cost_seconds: 1.0 + f64::from(g[3]),
            curve: RVec::new(),
            extras: RString::new(),
        })
    }
}
