//! Offline rate conversion of whole channels between a file's rate and a model's.

use rubato::{FftFixedIn, Resampler};

use crate::error::{CliError, Result};

/// Offline resampling of whole channels, delay-compensated, output length `len·to/from`.
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
    let input: Vec<Vec<f64>> = channels.iter().map(|c| c.iter().map(|&v| v as f64).collect()).collect();
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
