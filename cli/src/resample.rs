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

/// Offline resampling of whole channels, delay-compensated, output length `len·to/from`.
/// Samples are [`sanitize`]d first, so any input gives finite output and never a panic.
///
/// ```
/// let tone: Vec<f32> = (0..4410).map(|t| (t as f32 * 0.01).sin()).collect();
/// let up = cubeaudio::resample::resample(&[tone], 44_100, 48_000).unwrap();
/// assert_eq!(up[0].len(), 4800);
/// ```
pub fn resample(channels: &[Vec<f32>], from: u32, to: u32) -> Result<Vec<Vec<f32>>> {
    if from == to {
        return Ok(channels.to_vec());
    }
    let n = channels.len();
    let len = channels.first().map_or(0, Vec::len);
    let chunk = 1024;
    let mut rs = FftFixedIn::<f64>::new(from as usize, to as usize, chunk, 2, n)
        .map_err(|e| CliError::Request(format!("cannot resample {from} Hz → {to} Hz: {e}")))?;
    let delay = rs.output_delay();
    let expected = (len as u64 * to as u64).div_ceil(from as u64) as usize;
    let mut out: Vec<Vec<f64>> = vec![Vec::with_capacity(expected + delay + chunk); n];
    let mut pos = 0;
    let input: Vec<Vec<f64>> = channels.iter().map(|c| c.iter().map(|&v| sanitize(v) as f64).collect()).collect();
    let err = |e: rubato::ResampleError| CliError::Request(format!("resampling failed: {e}"));
    while out[0].len() < expected + delay {
        let need = rs.input_frames_next();
        let block: Vec<&[f64]> = input.iter().map(|c| &c[pos.min(len)..(pos + need).min(len)]).collect();
        let produced = if pos + need <= len {
            rs.process(&block, None).map_err(err)?
        } else if pos < len {
            rs.process_partial(Some(&block), None).map_err(err)?
        } else {
            // Past the end: flush the filter's tail with silence.
            rs.process_partial::<&[f64]>(None, None).map_err(err)?
        };
        for (o, p) in out.iter_mut().zip(produced) {
            o.extend(p);
        }
        pos += need;
    }
    Ok(out.into_iter().map(|c| c[delay..delay + expected].iter().map(|&v| v as f32).collect()).collect())
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

    #[test]
    fn sanitize_keeps_ordinary_samples() {
        assert_eq!(sanitize(0.5), 0.5);
        assert_eq!(sanitize(-2.0), -2.0);
        assert_eq!(sanitize(f32::NAN), 0.0);
        assert_eq!(sanitize(1e10), MAX_MAGNITUDE);
    }
}
