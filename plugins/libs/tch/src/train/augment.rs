//! Batched augmentation on the training device: random crop after zero padding, random
//! horizontal flip, cutout (DARTS's `Cutout`: a square of zeros at a uniform centre, clipped at
//! the border, on the normalised image). Every draw comes from the caller's generator.

use super::Recipe;
use tch::Tensor;
use xnas_core::SplitMix64;

/// Batched random crop (after zero padding), horizontal flip and cutout.
pub(crate) struct Augment {
    pad: usize,
    flip: bool,
    cutout: usize,
    /// `[C, H, W]`.
    shape: [usize; 3],
}

impl Augment {
    pub(crate) fn new(cfg: &Recipe, shape: [usize; 3]) -> Self {
        Augment {
            pad: cfg.crop_padding,
            flip: cfg.flip,
            cutout: cfg.cutout,
            shape,
        }
    }

    /// `x`: `[B, C, H, W]`. One gather for crop+flip (indices into the padded image, computed
    /// here from per-image offsets), one multiply for cutout.
    pub(crate) fn apply(&self, x: Tensor, rng: &mut SplitMix64) -> Tensor {
        let b = x.size()[0] as usize;
        let [c, h, w] = self.shape;
        let device = x.device();
        let mut x = x;
        if self.pad > 0 || self.flip {
            let p = self.pad;
            let (hp, wp) = (h + 2 * p, w + 2 * p);
            let padded = if p > 0 {
                let p = p as i64;
                x.constant_pad_nd([p, p, p, p])
            } else {
                x
            };
            let mut idx = Vec::with_capacity(b * h * w);
            for _ in 0..b {
                let oy = rng.below(2 * p as u32 + 1) as usize;
                let ox = rng.below(2 * p as u32 + 1) as usize;
                let flip = self.flip && rng.next_u64() & 1 == 1;
                for i in 0..h {
                    let row = (oy + i) * wp + ox;
                    if flip {
                        idx.extend((0..w).rev().map(|j| (row + j) as i64));
                    } else {
                        idx.extend((0..w).map(|j| (row + j) as i64));
                    }
                }
            }
            let (bi, ci, hw) = (b as i64, c as i64, (h * w) as i64);
            let idx = Tensor::from_slice(&idx)
                .to_device(device)
                .view([bi, 1, hw])
                .expand([bi, ci, hw], false);
            x = padded
                .view([bi, ci, (hp * wp) as i64])
                .gather(2, &idx, false)
                .view([bi, ci, h as i64, w as i64]);
        }
        if self.cutout > 0 {
            let half = self.cutout / 2;
            let mut mask = vec![1f32; b * h * w];
            for img in mask.chunks_mut(h * w) {
                let cy = rng.below(h as u32) as usize;
                let cx = rng.below(w as u32) as usize;
                let (y1, y2) = (cy.saturating_sub(half), (cy + half).min(h));
                let (x1, x2) = (cx.saturating_sub(half), (cx + half).min(w));
                for y in y1..y2 {
                    img[y * w + x1..y * w + x2].fill(0.0);
                }
            }
            let mask = Tensor::from_slice(&mask)
                .to_device(device)
                .view([b as i64, 1, h as i64, w as i64]);
            // In place: `x` is this batch's own copy (index_select or gather made it).
            x *= mask;
        }
        x
    }
}
