use std::path::Path;

use cubeaudio_kernels::routed::MAX_FIR_TAPS;
use cubecl::prelude::*;

use super::fir::FirBatch;
use super::{channels, known_settings, mono_ports};
use crate::engine::Engine;
use crate::processor::{BatchProcessor, Description, InstanceSetup, PrepareContext, ProcessorType, Settings};

/// Cabinet impulse response from a WAV file, convolved directly (up to 16,384 samples, 0.34 s at
/// 48 kHz — cabinet IRs are typically 10–200 ms). Settings: `path` (relative to the rig file),
/// `channels`, `normalize` (default true: scale to unit energy so swapping cabs keeps the
/// level). A mono IR serves every channel; a multichannel IR must have one channel per processor
/// channel. Its sample rate must equal the graph's.
pub struct ImpulseResponse;

fn path_setting(settings: &Settings) -> Result<&str, String> {
    settings.get("path").and_then(|v| v.as_str()).ok_or_else(|| "setting `path` (the IR's WAV file) is required".to_string())
}

/// Reads an IR as one `Vec` per channel.
pub fn read_ir(path: &Path, sample_rate: f64) -> Result<Vec<Vec<f32>>, String> {
    let shown = path.display();
    let mut reader = hound::WavReader::open(path).map_err(|e| format!("{shown}: cannot read WAV: {e}"))?;
    let spec = reader.spec();
    if spec.sample_rate as f64 != sample_rate {
        return Err(format!("{shown}: IR is at {} Hz but the graph runs at {sample_rate} Hz; resample the IR", spec.sample_rate));
    }
    let ch = spec.channels.max(1) as usize;
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().collect::<Result<_, _>>(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(8, 32) - 1)) as f32;
            reader.samples::<i32>().map(|s| s.map(|v| v as f32 * scale)).collect::<Result<_, _>>()
        }
    }
    .map_err(|e| format!("{shown}: {e}"))?;
    let frames = samples.len() / ch;
    if frames == 0 {
        return Err(format!("{shown}: the IR is empty"));
    }
    if frames > MAX_FIR_TAPS {
        return Err(format!("{shown}: the IR has {frames} samples; up to {MAX_FIR_TAPS} are accepted (trim it)"));
    }
    if let Some(i) = samples.iter().position(|v| !v.is_finite()) {
        return Err(format!("{shown}: sample {i} is not finite"));
    }
    Ok((0..ch).map(|c| (0..frames).map(|t| samples[t * ch + c]).collect()).collect())
}

impl<R: Runtime> ProcessorType<R> for ImpulseResponse {
    fn name(&self) -> &'static str {
        "ir"
    }

    fn describe(&self, settings: &Settings) -> Result<Description, String> {
        known_settings(settings, &["channels", "path", "normalize"])?;
        path_setting(settings)?;
        if settings.get("normalize").is_some_and(|v| !v.is_boolean()) {
            return Err("setting `normalize` must be true or false".into());
        }
        let (inputs, outputs) = mono_ports(channels(settings)?);
        Ok(Description { type_name: "ir", inputs, outputs, params: Vec::new() })
    }

    fn prepare(&self, engine: &Engine<R>, ctx: &PrepareContext, instances: &[InstanceSetup]) -> Result<Box<dyn BatchProcessor<R>>, String> {
        let mut taps = Vec::new();
        for inst in instances {
            let path = ctx.base_dir.join(path_setting(inst.settings)?);
            let mut ir = read_ir(&path, ctx.sample_rate)?;
            let want = inst.input_slots.len();
            if ir.len() == 1 && want > 1 {
                ir = vec![ir[0].clone(); want];
            }
            if ir.len() != want {
                return Err(format!("{}: the IR has {} channels, the processor {want}", path.display(), ir.len()));
            }
            if inst.settings.get("normalize").and_then(|v| v.as_bool()).unwrap_or(true) {
                for h in &mut ir {
                    let energy: f64 = h.iter().map(|v| (*v as f64).powi(2)).sum();
                    if energy == 0.0 {
                        return Err(format!("{}: the IR is silent", path.display()));
                    }
                    let scale = (1.0 / energy.sqrt()) as f32;
                    h.iter_mut().for_each(|v| *v *= scale);
                }
            }
            taps.push(ir);
        }
        FirBatch::prepare(engine, ctx, instances, taps)
    }
}
