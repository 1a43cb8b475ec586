use std::path::{Path, PathBuf};

use cubeaudio_kernels::device::DeviceInfo;
use cubeaudio_kernels::graph_program::KIND_GAIN;
use cubeaudio_kernels::partitioned_conv::MAX_IR_LEN;
use cubeaudio_kernels::routed::MAX_FIR_TAPS;
use cubecl::prelude::*;

use super::convolver::ConvolverBatch;
use super::fir::FirBatch;
use super::{channels, known_settings, mono_ports};
use crate::engine::Engine;
use crate::error::ProcessorError;
use crate::processor::{BatchProcessor, Description, InstanceSetup, PrepareContext, ProcessorType, Settings};
use crate::program_type::ProgramType;
use crate::wav;

/// Cabinet or room impulse response from a WAV file (up to 960,000 samples: 10 s at 96 kHz),
/// with no added latency at any buffer size. Settings: `path` (relative to the rig file),
/// `channels`, `normalize` (default true: scale to unit energy so swapping cabs keeps the
/// level), `convolution`: `"auto"` (default: direct form up to [`direct_max_taps`], the measured
/// crossover, else partitioned), `"direct"` (up to 16,384 taps) or `"partitioned"`. In a fused
/// graph (the default) `"auto"` and `"partitioned"` run as the graph program's convolution —
/// the same partitioned maths in one cube of the program's launch.
/// A mono IR serves every channel; a multichannel IR must have one channel per processor
/// channel. Its sample rate must equal the graph's.
pub struct ImpulseResponse;

/// Longest IR `"auto"` convolves in direct form on `device`; longer ones take the partitioned
/// FFT convolver. Measured with `ir_crossover` on an H200 (docs/PERFORMANCE.md, 2026-12-01): on
/// CUDA the two tie at 1,024 taps (buffers of 64 and 128: ~75 µs launch + sync each) and the
/// convolver wins from 2,048 (66–75 against 128 µs); through Vulkan, where each launch costs
/// more, direct form still wins at 2,048 (185 against 231 µs) and loses from 4,096.
pub fn direct_max_taps(device: &DeviceInfo) -> usize {
    if device.runtime == "cuda" {
        1024
    } else {
        2048
    }
}

/// The partitioned convolver's block (its direct head's length and its FFT partition) for
/// buffers of up to `max_buffer` frames: about one block per buffer, within 64..=512.
pub fn convolution_block(max_buffer: usize) -> usize {
    max_buffer.next_power_of_two().clamp(64, 512)
}

#[derive(Clone, Copy, PartialEq)]
enum Convolution {
    Auto,
    Direct,
    Partitioned,
}

fn convolution_setting(settings: &Settings) -> Result<Convolution, ProcessorError> {
    match settings.get("convolution") {
        None => Ok(Convolution::Auto),
        Some(v) => match v.as_str() {
            Some("auto") => Ok(Convolution::Auto),
            Some("direct") => Ok(Convolution::Direct),
            Some("partitioned") => Ok(Convolution::Partitioned),
            _ => Err(ProcessorError::Setting {
                setting: "convolution",
                reason: format!("is {v}; \"auto\", \"direct\" or \"partitioned\" are accepted"),
            }),
        },
    }
}

fn path_setting(settings: &Settings) -> Result<&str, ProcessorError> {
    settings
        .get("path")
        .and_then(|v| v.as_str())
        .ok_or(ProcessorError::Setting { setting: "path", reason: "the IR's WAV file is required".into() })
}

/// Reads an IR as one `Vec` per channel, refusing what no convolver runs.
pub fn read_ir(path: &Path, sample_rate: f64) -> Result<Vec<Vec<f32>>, ProcessorError> {
    let file = |reason: String| ProcessorError::File { path: path.to_path_buf(), reason };
    // The header's length is checked before any sample is read: a huge file costs nothing.
    let ir = wav::read_limited(path, MAX_IR_LEN as u64)?;
    if ir.sample_rate as f64 != sample_rate {
        return Err(file(format!(
            "IR is at {} Hz but the graph runs at {sample_rate} Hz; resample the IR",
            ir.sample_rate
        )));
    }
    let frames = ir.frames();
    if frames > MAX_IR_LEN {
        return Err(file(format!("the IR has {frames} samples; up to {MAX_IR_LEN} are accepted (trim it)")));
    }
    for (c, h) in ir.channels.iter().enumerate() {
        if let Some(i) = h.iter().position(|v| !v.is_finite()) {
            return Err(file(format!("sample {i} of channel {c} is not finite")));
        }
    }
    Ok(ir.channels)
}

/// An instance's IR file (its path, for errors) as one response per processor channel, scaled
/// to unit energy unless `normalize` is false.
fn load(ctx: &PrepareContext, inst: &InstanceSetup) -> Result<(PathBuf, Vec<Vec<f32>>), ProcessorError> {
    let path = ctx.base_dir.join(path_setting(inst.settings)?);
    let mut ir = read_ir(&path, ctx.sample_rate)?;
    let want = inst.input_slots.len();
    if ir.len() == 1 && want > 1 {
        ir = vec![ir[0].clone(); want];
    }
    if ir.len() != want {
        return Err(ProcessorError::File {
            path,
            reason: format!("the IR has {} channels, the processor {want}", ir.len()),
        });
    }
    if inst.settings.get("normalize").and_then(|v| v.as_bool()).unwrap_or(true) {
        for h in &mut ir {
            let energy: f64 = h.iter().map(|v| (*v as f64).powi(2)).sum();
            if energy == 0.0 {
                return Err(ProcessorError::File { path, reason: "the IR is silent".into() });
            }
            let scale = (1.0 / energy.sqrt()) as f32;
            h.iter_mut().for_each(|v| *v *= scale);
        }
    }
    Ok((path, ir))
}

/// In a graph program an `ir` is the program's convolution (one cube, no launches of its own)
/// whatever its length, unless `"convolution": "direct"` asks for the standalone FIR kernel.
impl ProgramType for ImpulseResponse {
    fn kind(&self, _settings: &Settings) -> u32 {
        // Never asked: instances run as convolutions (see `convolution`).
        KIND_GAIN
    }

    fn device_params(&self, _sample_rate: f64, _settings: &Settings, _params: &[f32], _out: &mut [f32]) {}

    fn fuses(&self, settings: &Settings) -> bool {
        !matches!(convolution_setting(settings), Ok(Convolution::Direct))
    }

    fn convolution(
        &self,
        ctx: &PrepareContext,
        instance: &InstanceSetup,
    ) -> Result<Option<Vec<Vec<f32>>>, ProcessorError> {
        Ok(Some(load(ctx, instance)?.1))
    }
}

impl<R: Runtime> ProcessorType<R> for ImpulseResponse {
    fn name(&self) -> &'static str {
        "ir"
    }

    fn describe(&self, settings: &Settings) -> Result<Description, ProcessorError> {
        known_settings(settings, &["channels", "path", "normalize", "convolution"])?;
        path_setting(settings)?;
        convolution_setting(settings)?;
        if settings.get("normalize").is_some_and(|v| !v.is_boolean()) {
            return Err(ProcessorError::Setting { setting: "normalize", reason: "must be true or false".into() });
        }
        let (inputs, outputs) = mono_ports(channels(settings)?);
        Ok(Description { type_name: "ir", inputs, outputs, params: Vec::new() })
    }

    fn prepare(
        &self,
        engine: &Engine<R>,
        ctx: &PrepareContext,
        instances: &[InstanceSetup],
    ) -> Result<Box<dyn BatchProcessor<R>>, ProcessorError> {
        let mut taps = Vec::new();
        let mut partitioned = false;
        for inst in instances {
            let (path, ir) = load(ctx, inst)?;
            let longest = ir.iter().map(Vec::len).max().unwrap_or(0);
            match convolution_setting(inst.settings)? {
                Convolution::Direct if longest > MAX_FIR_TAPS => {
                    return Err(ProcessorError::File {
                        path,
                        reason: format!(
                            "the IR has {longest} samples; direct convolution takes up to {MAX_FIR_TAPS} \
                             (use \"convolution\": \"auto\" or \"partitioned\")"
                        ),
                    })
                }
                Convolution::Direct => {}
                Convolution::Partitioned => partitioned = true,
                Convolution::Auto => partitioned |= longest > direct_max_taps(engine.info()),
            }
            taps.push(ir);
        }
        // One kernel per batch: if any instance needs the partitioned convolver, every instance
        // of the batch runs on it (a short IR is all head there, exact as well).
        if partitioned {
            return ConvolverBatch::prepare(engine, ctx, instances, &taps, convolution_block(ctx.max_buffer));
        }
        FirBatch::prepare(engine, ctx, instances, &taps)
    }

    fn program(&self) -> Option<&dyn ProgramType> {
        Some(self)
    }
}
