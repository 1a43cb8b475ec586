//! NAM on the GPU: a batch of streams (different models and architectures allowed) processed
//! by one launch per buffer, histories kept on the device.
//!
//! - [`GpuWaveNetBatch`]: the convolutional architectures — WaveNet with every option the CPU
//!   engine has (channel counts up to 32, any kernel sizes and dilations, gating per layer,
//!   layer1x1, head1x1, FiLM at all eight sites, condition_dsp, post-stack heads, several
//!   arrays, A2 and slimmable models through their active submodel), ConvNet (BatchNorm folded
//!   into the conv) and Linear FIRs. Not run: per-channel PReLU slopes and models that are not
//!   mono in/out — [`GpuWaveNetBatch::new`] says which.
//! - [`GpuLstmBatch`]: LSTM models (one cube per stream).

mod engine;
pub mod kernel;
pub mod lstm;
pub mod plan;
pub mod processor;
mod staging;

pub use engine::GpuWaveNetBatch;
pub use staging::PendingBuffer;
pub use lstm::GpuLstmBatch;

/// What the benchmark and renders need from any batch of streams.
pub trait StreamBatch {
    /// One buffer of every stream (`inputs[s]`, `outputs[s]` of the same length).
    fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) -> crate::error::Result<()>;
    /// The launch shape, for reports.
    fn shape_label(&self) -> String;
}

impl<R: cubecl::Runtime> StreamBatch for GpuWaveNetBatch<R> {
    fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) -> crate::error::Result<()> {
        GpuWaveNetBatch::process(self, inputs, outputs)
    }
    fn shape_label(&self) -> String {
        let (s, threads) = self.shape();
        format!("{} × {}, {threads}", s.tile, s.rows)
    }
}

impl<R: cubecl::Runtime> StreamBatch for GpuLstmBatch<R> {
    fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) -> crate::error::Result<()> {
        GpuLstmBatch::process(self, inputs, outputs)
    }
    fn shape_label(&self) -> String {
        let (s, threads) = self.shape();
        format!("lstm {} × {}, {threads}", s.layers, s.hidden)
    }
}

/// A batch of `streams` copies of `model` on the engine its architecture needs (the
/// convolutional kernel for WaveNet, ConvNet and Linear; the LSTM kernel), prewarmed as the CPU
/// engine's `reset(max_buffer)`.
pub fn batch_of<R: cubecl::Runtime>(
    client: &cubecl::prelude::ComputeClient<R>,
    model: &dyn crate::dsp::Dsp,
    streams: usize,
    max_buffer: usize,
) -> crate::error::Result<Box<dyn StreamBatch>> {
    if let Some(l) = model.as_lstm() {
        return Ok(Box::new(GpuLstmBatch::new(client, &vec![l; streams], max_buffer, &[max_buffer])?));
    }
    Ok(Box::new(GpuWaveNetBatch::new(client, &vec![model; streams], max_buffer)?))
}
