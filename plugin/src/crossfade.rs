//! Replacing one model by another without a click: the new instance runs unheard until its
//! output has settled (its latency plus its receptive field), then a linear crossfade.

/// Where a replacement stands.
#[derive(Debug, Clone, Copy)]
pub struct Crossfade {
    settle_left: usize,
    at: usize,
    len: usize,
}

impl Crossfade {
    /// A replacement whose new output settles after `settle` frames, faded in over `len`.
    pub fn new(settle: usize, len: usize) -> Self {
        Self { settle_left: settle, at: 0, len: len.max(1) }
    }

    /// Mixes one block in place: `new` (the new instance's output) becomes the blend of `old`
    /// and `new` for this point of the replacement. Returns whether the fade is complete (the old
    /// instance is no longer heard).
    pub fn mix(&mut self, new: &mut [f32], old: &[f32]) -> bool {
        for (y, o) in new.iter_mut().zip(old) {
            let g = if self.settle_left > 0 {
                self.settle_left -= 1;
                0.0
            } else {
                self.at = (self.at + 1).min(self.len);
                self.at as f32 / self.len as f32
            };
            *y = o + (*y - o) * g;
        }
        self.done()
    }

    /// Whether the old instance is no longer heard.
    pub fn done(&self) -> bool {
        self.settle_left == 0 && self.at == self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plays_the_old_output_until_settled_then_ramps_to_the_new_one() {
        let mut fade = Crossfade::new(100, 50);
        let (old, new) = (vec![1.0f32; 64], vec![-1.0f32; 64]);
        let mut heard = Vec::new();
        let mut done_at = None;
        for block in 0..5 {
            let mut y = new.clone();
            if fade.mix(&mut y, &old) && done_at.is_none() {
                done_at = Some(block);
            }
            heard.extend(y);
        }
        assert!(heard[..100].iter().all(|v| *v == 1.0), "the unsettled new output was heard");
        assert_eq!(heard[149], -1.0);
        assert!(heard[150..].iter().all(|v| *v == -1.0));
        // Linear ramp: no step larger than one fade increment (2 / 50 between ±1).
        let step = heard.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0f32, f32::max);
        assert!(step <= 2.0 / 50.0 + 1e-6, "step {step}");
        assert_eq!(done_at, Some(2), "done in the block where frame 150 falls");
    }
}
