//! A token view of any search space, for sequence models (NAO's encoder/decoder, RL controllers).
//!
//! Built from the space's `SpaceDesc` alone, generalising NAO's token encoding and decoder masks
//! (Luo et al. 2018; renqianluo/NAO_pytorch NAO_V1/utils.py `parse_arch_to_seq`, decoder.py):
//! * token 0 is SOS and EOS (one id, as in NAO);
//! * positions of one `group` share a token range: group `g` owns `offset_g .. offset_g + width_g`,
//!   where `width_g` is the largest choice count among its positions and offsets follow the
//!   groups' first appearance; a position with an empty group name is a group of its own;
//! * gene `c` at a position of group `g` is token `offset_g + c`;
//! * at each position only the tokens of its own choices are allowed (constrained decoding).
//!
//! On NASNet cells with positions `[in1, op1, in2, op2] × B` (groups "node", "op"), B = 5 and
//! 5 ops, this is exactly NAO's variant A: nodes are tokens 1..=6, ops 7..=11, vocabulary 12, and
//! block b's inputs allow tokens 1..=b+2.

use std::ops::Range;
use xnas_core::{PluginError, PluginResult, SpaceDesc};

/// SOS = EOS.
pub const SOS: i64 = 0;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Group {
    name: String,
    offset: i64,
    width: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Slot {
    group: usize,
    choices: i64,
}

/// The token view of one search space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenView {
    groups: Vec<Group>,
    slots: Vec<Slot>,
    vocab: i64,
}

impl TokenView {
    pub fn new(desc: &SpaceDesc) -> PluginResult<Self> {
        let mut groups: Vec<Group> = Vec::new();
        let mut slots = Vec::with_capacity(desc.positions.len());
        for p in desc.positions.iter() {
            if p.choices == 0 {
                return Err(PluginError::data(format!(
                    "token view: position `{}` has no choices",
                    p.name
                )));
            }
            let choices = i64::from(p.choices);
            // An unnamed group is private to its position: match on nothing.
            let existing = (!p.group.is_empty())
                .then(|| groups.iter().position(|g| g.name == p.group.as_str()))
                .flatten();
            let group = match existing {
                Some(g) => {
                    groups[g].width = groups[g].width.max(choices);
                    g
                }
                None => {
                    groups.push(Group {
                        name: p.group.to_string(),
                        offset: 0,
                        width: choices,
                    });
                    groups.len() - 1
                }
            };
            slots.push(Slot { group, choices });
        }
        // Offsets once widths are final: SOS first, then each group's range in order.
        let mut next = SOS + 1;
        for g in &mut groups {
            g.offset = next;
            next += g.width;
        }
        Ok(TokenView {
            groups,
            slots,
            vocab: next,
        })
    }

    /// Number of token ids, SOS included.
    pub fn vocab_size(&self) -> usize {
        self.vocab as usize
    }

    /// Sequence length: one token per position (SOS not counted).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The token range of the group named `name` (`None` if no position has that group).
    pub fn group_range(&self, name: &str) -> Option<Range<i64>> {
        self.groups
            .iter()
            .find(|g| !g.name.is_empty() && g.name == name)
            .map(|g| g.offset..g.offset + g.width)
    }

    /// The tokens allowed at `position` (its own choices, in its group's range).
    pub fn allowed(&self, position: usize) -> Range<i64> {
        let s = &self.slots[position];
        let offset = self.groups[s.group].offset;
        offset..offset + s.choices
    }

    /// The tokens of a genome.
    pub fn encode(&self, genome: &[u32]) -> PluginResult<Vec<i64>> {
        self.check_len(genome.len(), "genome")?;
        genome
            .iter()
            .enumerate()
            .map(|(i, &gene)| {
                let allowed = self.allowed(i);
                let token = allowed.start + i64::from(gene);
                if allowed.contains(&token) {
                    Ok(token)
                } else {
                    Err(PluginError::invalid_architecture(format!(
                        "token view: gene {gene} at position {i} is out of range (it has {} choices)",
                        allowed.end - allowed.start
                    )))
                }
            })
            .collect()
    }

    /// The genome of a token sequence; every token must be allowed at its position.
    pub fn decode(&self, tokens: &[i64]) -> PluginResult<Vec<u32>> {
        self.check_len(tokens.len(), "token sequence")?;
        tokens
            .iter()
            .enumerate()
            .map(|(i, &token)| {
                let allowed = self.allowed(i);
                if allowed.contains(&token) {
                    Ok((token - allowed.start) as u32)
                } else {
                    Err(PluginError::invalid_architecture(format!(
                        "token view: token {token} is not allowed at position {i} (allowed {}..={})",
                        allowed.start,
                        allowed.end - 1
                    )))
                }
            })
            .collect()
    }

    /// Teacher-forcing decoder input: `[SOS] ++ tokens[..len-1]` (NAO_pytorch NAO_V1 decoder's teacher forcing).
    pub fn shift_right(&self, tokens: &[i64]) -> Vec<i64> {
        std::iter::once(SOS)
            .chain(tokens.iter().copied().take(tokens.len().saturating_sub(1)))
            .collect()
    }

    /// `mask[t]` is `true` for the tokens allowed at position `position`.
    pub fn mask(&self, position: usize) -> Vec<bool> {
        let allowed = self.allowed(position);
        (0..self.vocab).map(|t| allowed.contains(&t)).collect()
    }

    /// Additive logit masks for every position, row-major `len × vocab_size`: 0 where allowed,
    /// −∞ elsewhere. Add it to the decoder's logits before the argmax or softmax.
    pub fn additive_masks(&self) -> Vec<f32> {
        (0..self.len())
            .flat_map(|p| {
                self.mask(p)
                    .into_iter()
                    .map(|ok| if ok { 0.0 } else { f32::NEG_INFINITY })
            })
            .collect()
    }

    fn check_len(&self, len: usize, what: &str) -> PluginResult<()> {
        if len == self.len() {
            Ok(())
        } else {
            Err(PluginError::invalid_architecture(format!(
                "token view: the {what} has {len} entries, the space has {} positions",
                self.len()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xnas_core::abi_stable::std_types::RVec;
    use xnas_core::Position;

    fn pos(name: &str, choices: u32, group: &str) -> Position {
        Position {
            name: name.into(),
            choices,
            group: group.into(),
            labels: RVec::new(),
        }
    }

    fn desc(positions: Vec<Position>) -> SpaceDesc {
        SpaceDesc {
            positions: positions.into(),
            tasks: RVec::new(),
            size: 0,
        }
    }

    /// NASNet cells as NAO_pytorch encodes them (NAO_V1/utils.py `generate_arch`):
    /// `[in1, op1, in2, op2] × B` per cell, two cells.
    fn nasnet(blocks: u32, ops: u32) -> SpaceDesc {
        let mut v = Vec::new();
        for cell in ["normal", "reduce"] {
            for b in 0..blocks {
                for branch in 1..=2 {
                    v.push(pos(&format!("{cell}.b{b}.in{branch}"), b + 2, "node"));
                    v.push(pos(&format!("{cell}.b{b}.op{branch}"), ops, "op"));
                }
            }
        }
        desc(v)
    }

    /// NAS-Bench-Graph: one link pattern (9) then four ops (9 each).
    fn nasbench_graph() -> SpaceDesc {
        let mut v = vec![pos("link", 9, "link")];
        for i in 1..=4 {
            v.push(pos(&format!("op{i}"), 9, "op"));
        }
        desc(v)
    }

    #[test]
    fn nasnet_matches_nao_variant_a() {
        let view = TokenView::new(&nasnet(5, 5)).unwrap();
        assert_eq!(view.vocab_size(), 12);
        assert_eq!(view.len(), 40);
        assert_eq!(view.group_range("node"), Some(1..7));
        assert_eq!(view.group_range("op"), Some(7..12));
        // NAO: per block [i1+1, o1+7, i2+1, o2+7].
        let mut genome = Vec::new();
        for b in 0..10u32 {
            genome.extend([b % 5 + 1, 4, 0, b % 5]);
        }
        let tokens = view.encode(&genome).unwrap();
        assert_eq!(&tokens[..8], &[2, 11, 1, 7, 3, 11, 1, 8]);
        assert_eq!(view.decode(&tokens).unwrap(), genome);
        // NAO's decoder masks (NAO_V1/decoder.py): block b's node positions allow [1, b+2]; op positions allow [7, 12).
        for t in 0..40 {
            let b = (t / 4) % 5;
            let want = if t % 2 == 0 { 1..(b as i64 + 3) } else { 7..12 };
            assert_eq!(view.allowed(t), want, "position {t}");
        }
    }

    #[test]
    fn nasbench_graph_shares_op_tokens_across_positions() {
        let view = TokenView::new(&nasbench_graph()).unwrap();
        assert_eq!(view.vocab_size(), 1 + 9 + 9);
        assert_eq!(view.group_range("link"), Some(1..10));
        assert_eq!(view.group_range("op"), Some(10..19));
        let genome = vec![8, 0, 3, 8, 5];
        let tokens = view.encode(&genome).unwrap();
        assert_eq!(tokens, vec![9, 10, 13, 18, 15]);
        assert_eq!(view.decode(&tokens).unwrap(), genome);
        assert_eq!(view.shift_right(&tokens), vec![SOS, 9, 10, 13, 18]);
    }

    #[test]
    fn masks_allow_exactly_each_positions_choices() {
        let view = TokenView::new(&nasbench_graph()).unwrap();
        let masks = view.additive_masks();
        assert_eq!(masks.len(), view.len() * view.vocab_size());
        for p in 0..view.len() {
            let row = &masks[p * 19..(p + 1) * 19];
            let mask = view.mask(p);
            for t in 0..19 {
                assert_eq!(mask[t], view.allowed(p).contains(&(t as i64)));
                assert_eq!(row[t] == 0.0, mask[t]);
                assert!(mask[t] || row[t] == f32::NEG_INFINITY);
            }
            // SOS/EOS is never a valid gene token.
            assert!(!mask[SOS as usize]);
            assert_eq!(mask.iter().filter(|&&ok| ok).count(), 9);
        }
    }

    #[test]
    fn every_genome_round_trips_and_bad_input_is_refused() {
        let view = TokenView::new(&nasnet(2, 3)).unwrap();
        // Every 97th genome of the 2-block space, enumerated by mixed-radix index.
        let choices: Vec<u32> = (0..view.len())
            .map(|p| (view.allowed(p).end - view.allowed(p).start) as u32)
            .collect();
        let total: u64 = choices.iter().map(|&c| u64::from(c)).product();
        for index in (0..total).step_by(97) {
            let mut rest = index;
            let genome: Vec<u32> = choices
                .iter()
                .map(|&c| {
                    let g = (rest % u64::from(c)) as u32;
                    rest /= u64::from(c);
                    g
                })
                .collect();
            let tokens = view.encode(&genome).unwrap();
            assert_eq!(view.decode(&tokens).unwrap(), genome);
        }
        // Gene 2 at block 0's input (2 choices), a too-short genome, SOS inside a sequence.
        let mut genome = vec![0u32; view.len()];
        genome[0] = 2;
        assert!(view.encode(&genome).is_err());
        assert!(view.encode(&[0, 0]).is_err());
        let mut tokens = view.encode(&vec![0; view.len()]).unwrap();
        tokens[3] = SOS;
        let e = view.decode(&tokens).unwrap_err();
        assert!(
            e.message().contains("token 0 is not allowed at position 3"),
            "{e}"
        );
    }

    #[test]
    fn unnamed_groups_are_private_and_empty_choices_refused() {
        let view = TokenView::new(&desc(vec![pos("a", 3, ""), pos("b", 2, "")])).unwrap();
        assert_eq!(view.allowed(0), 1..4);
        assert_eq!(view.allowed(1), 4..6);
        assert_eq!(view.vocab_size(), 6);
        assert_eq!(view.group_range(""), None);
        assert!(TokenView::new(&desc(vec![pos("a", 0, "x")])).is_err());
    }
}
