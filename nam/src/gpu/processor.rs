//! `nam`: NAM amp models as a processor type of the runtime's graphs. Every `nam` instance of a
//! graph stage — any mix of WaveNet models — runs in one launch of the batched WaveNet kernel,
//! reading its input straight from the graph's arena; one copy launch puts the outputs back.
//!
//! Settings: `model` (path to a `.nam`, relative to the rig file). No parameters: put `gain`
//! processors before and after for input and output level. The model's sample rate must equal
//! the graph's. Only WaveNet-family models (standard, feather, A2, …) run on the GPU graph;
//! LSTM, ConvNet and Linear models are refused with that reason.

use std::sync::Arc;

use cubeaudio_kernels::routed::copy_routes;
use cubeaudio_kernels::util::{Buffer, IndexBuffer};
use cubeaudio_runtime::engine::Engine;
use cubeaudio_runtime::processor::{
    BatchProcessor, Description, InstanceSetup, ParamView, PortDesc, PrepareContext, ProcessorType, Settings,
};
use cubeaudio_runtime::registry::Registry;
use cubeaudio_runtime::RuntimeError;
use cubecl::prelude::*;

use super::GpuWaveNetBatch;
use crate::loader::{load_file, LoadOptions, LoadedModel};

pub struct NamProcessor;

/// Adds `nam` to a registry.
pub fn register<R: Runtime>(registry: &mut Registry<R>) {
    registry.register(Arc::new(NamProcessor));
}

fn model_setting(settings: &Settings) -> Result<&str, String> {
    settings.get("model").and_then(|v| v.as_str()).ok_or_else(|| "setting `model` (path to a .nam file) is required".to_string())
}

impl<R: Runtime> ProcessorType<R> for NamProcessor {
    fn name(&self) -> &'static str {
        "nam"
    }

    fn describe(&self, settings: &Settings) -> Result<Description, String> {
        if let Some(k) = settings.keys().find(|k| k.as_str() != "model") {
            return Err(format!("unknown setting `{k}` (known: model)"));
        }
        model_setting(settings)?;
        Ok(Description {
            type_name: "nam",
            inputs: vec![PortDesc { name: "in", channels: 1, required: true }],
            outputs: vec![PortDesc { name: "out", channels: 1, required: true }],
            params: Vec::new(),
        })
    }

    fn prepare(&self, engine: &Engine<R>, ctx: &PrepareContext, instances: &[InstanceSetup]) -> Result<Box<dyn BatchProcessor<R>>, String> {
        let mut loaded: Vec<LoadedModel> = Vec::with_capacity(instances.len());
        for inst in instances {
            let path = ctx.base_dir.join(model_setting(inst.settings)?);
            let model = load_file(&path, LoadOptions::default()).map_err(|e| e.to_string())?;
            let rate = model.sample_rate.unwrap_or(48_000.0);
            if (rate - ctx.sample_rate).abs() > 0.5 {
                return Err(format!("{}: the model expects {rate} Hz but the graph runs at {} Hz; resample the input", path.display(), ctx.sample_rate));
            }
            if model.dsp.as_wavenet().is_none() {
                return Err(format!("{}: {} models do not run on the GPU graph yet (WaveNet family only)", path.display(), model.architecture));
            }
            loaded.push(model);
        }
        let nets: Vec<_> = loaded.iter().filter_map(|m| m.dsp.as_wavenet()).collect();
        let stride = ctx.max_buffer as u32;
        let mut batch = GpuWaveNetBatch::new(engine.client(), &nets, ctx.max_buffer).map_err(|e| e.to_string())?;
        let offsets: Vec<u32> = instances.iter().map(|i| i.input_slots[0] * stride).collect();
        batch.set_input_offsets(&offsets).map_err(|e| e.to_string())?;
        let routes: Vec<u32> = instances.iter().enumerate().flat_map(|(s, i)| [s as u32 * stride, i.output_slots[0] * stride]).collect();
        Ok(Box::new(NamBatch {
            output: engine.zeros(instances.len() * ctx.max_buffer),
            routes: IndexBuffer::upload(engine.client(), &routes),
            batch,
        }))
    }
}

struct NamBatch<R: Runtime> {
    batch: GpuWaveNetBatch<R>,
    output: Buffer,
    routes: IndexBuffer,
}

impl<R: Runtime> BatchProcessor<R> for NamBatch<R> {
    fn process(&mut self, engine: &Engine<R>, arena: &Buffer, stride: usize, _params: ParamView, frames: usize) -> Result<u32, RuntimeError> {
        if stride != self.batch.max_buffer() {
            return Err(RuntimeError::Request(format!("arena stride {stride} differs from the NAM batch's {}", self.batch.max_buffer())));
        }
        // The kernel reads its input binding and writes a separate output (one buffer may not
        // be bound read-only and writable in one dispatch), then one copy lands it in the arena.
        self.batch.launch_device(arena, &self.output, frames);
        copy_routes(engine.client(), &self.output, arena, &self.routes, frames)?;
        Ok(2)
    }

    fn reset(&mut self, _engine: &Engine<R>) -> Result<(), RuntimeError> {
        self.batch.reset().map_err(|e| RuntimeError::Device(e.to_string()))
    }
}
