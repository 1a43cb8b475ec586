//! NAM on the GPU: a batch of WaveNet streams (different models allowed) processed by one
//! launch per buffer, histories kept on the device. Supported: the WaveNet family real captures
//! use (any channel counts up to 32, any kernel sizes and dilations, every activation, gating
//! none/gated/blended, layer1x1 on or off, head rechannel of any kernel and dilation, several
//! arrays, A2 and slimmable models through their active WaveNet). Not yet: FiLM, head1x1,
//! condition_dsp, post-stack heads, ConvNet, Linear — [`GpuWaveNetBatch::new`] says which.
//! LSTM models run in their own batch ([`GpuLstmBatch`], one cube per stream).

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

/// A batch of `streams` copies of `model` on the engine its architecture needs (WaveNet or
/// LSTM), prewarmed as the CPU engine's `reset(max_buffer)`.
pub fn batch_of<R: cubecl::Runtime>(
    client: &cubecl::prelude::ComputeClient<R>,
    model: &dyn crate::dsp::Dsp,
    streams: usize,
    max_buffer: usize,
) -> crate::error::Result<Box<dyn StreamBatch>> {
    if let Some(l) = model.as_lstm() {
        return Ok(Box::new(GpuLstmBatch::new(client, &vec![l; streams], max_buffer, &[max_buffer])?));
    }
    match model.as_wavenet() {
        Some(w) => Ok(Box::new(GpuWaveNetBatch::new(client, &vec![w; streams], max_buffer)?)),
        None => Err(crate::error::NamError::Request("the GPU engine runs WaveNet and LSTM models".into())),
    }
}
