//! Offline rate conversion of whole channels between a file's rate and a model's.

use rubato::{FftFixedIn, Resampler};

use crate::error::{CliError, Result};

/// Largest magnitude handed to the resampler: 80 dB above full scale. The FFT resampler panics
/// on NaN, infinities and samples around 1e10 (rubato: "Imaginary part of first value was
/// non-zero"); nothing audible lies beyond this bound.
pub const MAX_MAGNITUDE: f32 = 1e4;

/// What the resampler is given for `x`: 0 for NaN and infinities, `x` clamped to
/// ±[`MAX_MAGNITUDE`] otherwise.
pub fn sanitize(x: f32) -> f32 {
    if x.is_finite() {
        x.clamp(-MAX_MAGNITUDE, MAX_MAGNITUDE)
    } else {
        0.0
    }
}

/// Lowest rate converted (telephone audio is 8 kHz).
pub const MIN_RATE: u32 = 1000;
/// Largest ratio between the two rates converted (8 kHz ↔ 128 kHz; 192 kHz → 48 kHz is 4×).
pub const MAX_RATIO: f64 = 16.0;

/// Input frames per resampler step (the FFT resampler's fixed input chunk).
const CHUNK: usize = 1024;

/// Streaming rate conversion of several channels, delay-compensated: fed blocks with
/// [`RateConverter::push`] and told the end with [`RateConverter::finish`], it gives exactly
/// `ceil(len·to/from)` frames in all, the same whatever the blocks (the resampler always steps
/// over the same fixed chunks). Samples are [`sanitize`]d first, so any input gives finite
/// output and never a panic. Memory is bounded by the block sizes, not the signal's length.
pub struct RateConverter {
    resampler: Option<FftFixedIn<f64>>,
    from: u32,
    to: u32,
    /// Input not yet stepped over (less than a chunk once `push` returns).
    pending: Vec<Vec<f64>>,
    /// Output not yet taken.
    ready: Vec<Vec<f32>>,
    /// Leading output frames still to drop (the resampler's delay).
    skip: usize,
    frames_in: u64,
    frames_out: u64,
    /// Total output frames, known once the input ended.
    total_out: Option<u64>,
}

impl RateConverter {
    /// A converter of `channels` channels from `from` Hz to `to` Hz.
    pub fn new(channels: usize, from: u32, to: u32) -> Result<Self> {
        let ratio = from.max(to) as f64 / from.min(to).max(1) as f64;
        if from != to && (from.min(to) < MIN_RATE || ratio > MAX_RATIO) {
            // A 1 Hz file against a 48 kHz model asked rubato for 18.5 GB.
            return Err(CliError::Request(format!(
                "cannot resample {from} Hz → {to} Hz: rates from {MIN_RATE} Hz and at most {MAX_RATIO}× apart are \
                 converted (convert the file first)"
            )));
        }
        let resampler = if from == to {
            None
        } else {
            Some(
                FftFixedIn::<f64>::new(from as usize, to as usize, CHUNK, 2, channels)
                    .map_err(|e| CliError::Request(format!("cannot resample {from} Hz → {to} Hz: {e}")))?,
            )
        };
        let skip = resampler.as_ref().map_or(0, |r| r.output_delay());
        Ok(Self {
            resampler,
            from,
            to,
            pending: vec![Vec::new(); channels],
            ready: vec![Vec::new(); channels],
            skip,
            frames_in: 0,
            frames_out: 0,
            total_out: None,
        })
    }

    /// Feeds a planar block (`block[c]`, all of one length).
    pub fn push(&mut self, block: &[&[f32]]) -> Result<()> {
        self.frames_in += block.first().map_or(0, |c| c.len()) as u64;
        if self.resampler.is_none() {
            for (r, b) in self.ready.iter_mut().zip(block) {
                r.extend_from_slice(b);
            }
            return Ok(());
        }
        for (p, b) in self.pending.iter_mut().zip(block) {
            p.extend(b.iter().map(|&v| sanitize(v) as f64));
        }
        let mut at = 0;
        while self.pending[0].len() - at >= CHUNK {
            let chunk: Vec<&[f64]> = self.pending.iter().map(|p| &p[at..at + CHUNK]).collect();
            let produced = self.resampler.as_mut().expect("checked").process(&chunk, None).map_err(failed)?;
            self.keep(produced);
            at += CHUNK;
        }
        for p in &mut self.pending {
            p.drain(..at);
        }
        Ok(())
    }

    /// Marks the end of the input: the rest of the output becomes ready.
    pub fn finish(&mut self) -> Result<()> {
        let total = (self.frames_in * self.to as u64).div_ceil(self.from as u64);
        self.total_out = Some(total);
        let Some(resampler) = self.resampler.as_mut() else { return Ok(()) };
        if !self.pending[0].is_empty() {
            let rest: Vec<&[f64]> = self.pending.iter().map(Vec::as_slice).collect();
            let produced = resampler.process_partial(Some(&rest), None).map_err(failed)?;
            self.keep(produced);
            self.pending.iter_mut().for_each(Vec::clear);
        }
        // Past the end: flush the filter's tail with silence.
        while self.frames_out + (self.ready[0].len() as u64) < total {
            let produced =
                self.resampler.as_mut().expect("checked").process_partial::<&[f64]>(None, None).map_err(failed)?;
            self.keep(produced);
        }
        Ok(())
    }

    fn keep(&mut self, produced: Vec<Vec<f64>>) {
        let drop = self.skip.min(produced[0].len());
        self.skip -= drop;
        for (r, p) in self.ready.iter_mut().zip(produced) {
            r.extend(p[drop..].iter().map(|&v| v as f32));
        }
    }

    /// Output frames ready to be taken (never past the total once the input ended).
    pub fn available(&self) -> usize {
        let ready = self.ready[0].len();
        match self.total_out {
            Some(total) => ready.min((total - self.frames_out) as usize),
            None => ready,
        }
    }

    /// Whether [`finish`](Self::finish) was called.
    pub fn ended(&self) -> bool {
        self.total_out.is_some()
    }

    /// Whether the input ended and every output frame was taken.
    pub fn done(&self) -> bool {
        self.total_out.is_some_and(|t| self.frames_out == t)
    }

    /// Moves up to `max` ready frames to the end of `out[c]`; returns how many.
    pub fn take(&mut self, max: usize, out: &mut [Vec<f32>]) -> usize {
        let n = self.available().min(max);
        for (o, r) in out.iter_mut().zip(&mut self.ready) {
            o.extend(r.drain(..n));
        }
        self.frames_out += n as u64;
        n
    }
}

fn failed(e: rubato::ResampleError) -> CliError {
    CliError::Request(format!("resampling failed: {e}"))
}

/// Offline resampling of whole channels (a [`RateConverter`] fed one block), output length
/// `ceil(len·to/from)`.
///
/// ```
/// let tone: Vec<f32> = (0..4410).map(|t| (t as f32 * 0.01).sin()).collect();
/// let up = cubeaudio::resample::resample(&[tone], 44_100, 48_000).unwrap();
/// assert_eq!(up[0].len(), 4800);
/// ```
pub fn resample(channels: &[Vec<f32>], from: u32, to: u32) -> Result<Vec<Vec<f32>>> {
    let mut converter = RateConverter::new(channels.len(), from, to)?;
    let block: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
    converter.push(&block)?;
    converter.finish()?;
    let mut out = vec![Vec::new(); channels.len()];
    converter.take(usize::MAX, &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values that made rubato panic, in every position of a block, both directions.
    #[test]
    fn non_finite_and_huge_samples_never_panic_and_give_finite_output() {
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1e10, -3e38, f32::MAX] {
            let mut x: Vec<f32> = (0..5000).map(|t| 0.3 * (t as f32 * 0.02).sin()).collect();
            for at in [0, 1023, 1024, 2500, 4999] {
                x[at] = bad;
            }
            for (from, to) in [(44_100, 48_000), (48_000, 44_100), (96_000, 48_000)] {
                let y = resample(std::slice::from_ref(&x), from, to).unwrap();
                assert!(y[0].iter().all(|v| v.is_finite()), "{bad} at {from} → {to} Hz");
            }
        }
    }

    /// Whatever the blocks pushed and taken, the output is the one-block result, bit for bit.
    #[test]
    fn blocks_of_any_size_give_the_whole_signal_result() {
        let a: Vec<f32> = (0..20_000).map(|t| 0.4 * (t as f32 * 0.013).sin()).collect();
        let b: Vec<f32> = (0..20_000).map(|t| 0.2 * (t as f32 * 0.07).cos()).collect();
        for (from, to) in [(44_100, 48_000), (48_000, 44_100), (48_000, 48_000), (96_000, 48_000)] {
            let whole = resample(&[a.clone(), b.clone()], from, to).unwrap();
            assert_eq!(whole[0].len(), (20_000u64 * to as u64).div_ceil(from as u64) as usize);
            for (block, take) in [(1, 3), (700, usize::MAX), (1024, 333), (5000, 1)] {
                let mut conv = RateConverter::new(2, from, to).unwrap();
                let mut out = vec![Vec::new(); 2];
                for (x, y) in a.chunks(block).zip(b.chunks(block)) {
                    conv.push(&[x, y]).unwrap();
                    conv.take(take, &mut out);
                }
                conv.finish().unwrap();
                while !conv.done() {
                    conv.take(take, &mut out);
                }
                assert_eq!(out, whole, "{from} → {to} Hz in blocks of {block}, taken by {take}");
            }
        }
    }

    /// Issue #16, defect 6: a 1 Hz file asked for 18.5 GB; absurd ratios are refused up front.
    #[test]
    fn absurd_rate_ratios_are_refused() {
        for (from, to) in [(1, 48_000), (48_000, 999), (2_000, 48_000), (48_000, 1_000_000)] {
            let msg = RateConverter::new(1, from, to).err().expect("refused").to_string();
            assert!(msg.contains("at most 16× apart"), "{msg}");
        }
        for (from, to) in [(8_000, 48_000), (192_000, 48_000), (44_100, 48_000), (1, 1)] {
            RateConverter::new(2, from, to).unwrap();
        }
    }

    #[test]
    fn sanitize_keeps_ordinary_samples() {
        assert_eq!(sanitize(0.5), 0.5);
        assert_eq!(sanitize(-2.0), -2.0);
        assert_eq!(sanitize(f32::NAN), 0.0);
        assert_eq!(sanitize(1e10), MAX_MAGNITUDE);
    }
}
