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

pub mod columns;
mod engine;
pub mod kernel;
pub mod lstm;
pub mod plan;
#[cfg(feature = "graph")]
pub mod processor;
pub mod split;
mod staging;

pub use engine::{GpuWaveNetBatch, KernelChoice, LaunchShape, Products};
pub use lstm::GpuLstmBatch;
pub use staging::PendingBuffer;

/// A measurement knob: the environment variable `name` as a count, if set and a number (each
/// caller checks its own range).
pub(crate) fn knob(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse::<usize>().ok())
}

/// What the benchmark and renders need from any batch of streams.
pub trait StreamBatch {
    /// One buffer of every stream (`inputs[s]`, `outputs[s]` of the same length).
    fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) -> crate::error::Result<()>;
    /// The launch shape, for reports.
    fn shape_label(&self) -> String;
    /// Non-finite input samples replaced by 0 so far.
    fn sanitized_samples(&self) -> u64;
    /// Milliseconds per buffer of `frames` when `buffers` launches are queued back to back on
    /// device-resident input and output, then synchronised once: the device's time per buffer
    /// without the host round trip.
    fn queued_ms(&mut self, frames: usize, buffers: usize) -> crate::error::Result<f64>;
    /// Milliseconds between consecutive results over `count` buffers with two in flight
    /// (buffer k+1 queued before buffer k is read back: a double-buffered host, one buffer
    /// more latency), sorted.
    fn pipelined_ms(
        &mut self,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
        count: usize,
    ) -> crate::error::Result<Vec<f64>>;
}

/// [`StreamBatch::pipelined_ms`] over a batch's `process_async`.
fn pipelined_ms<R: cubecl::Runtime>(
    mut submit: impl FnMut() -> crate::error::Result<PendingBuffer<R>>,
    outputs: &mut [&mut [f32]],
    count: usize,
) -> crate::error::Result<Vec<f64>> {
    let mut times = Vec::with_capacity(count);
    let mut pending = submit()?;
    for k in 0..count + 5 {
        let start = std::time::Instant::now();
        let next = submit()?;
        pending.wait(outputs)?;
        pending = next;
        if k >= 5 {
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    pending.wait(outputs)?;
    times.sort_by(f64::total_cmp);
    Ok(times)
}

/// [`StreamBatch::queued_ms`] for a batch whose `launch` queues one buffer of every stream
/// from `input` to `output` (each `streams · max_buffer` floats).
fn queued_ms<R: cubecl::Runtime>(
    client: &cubecl::prelude::ComputeClient<R>,
    streams: usize,
    max_buffer: usize,
    buffers: usize,
    mut launch: impl FnMut(&cubeaudio_kernels::util::Buffer, &cubeaudio_kernels::util::Buffer),
) -> crate::error::Result<f64> {
    use cubeaudio_kernels::util::Buffer;
    let n = streams * max_buffer;
    let signal: Vec<f32> = (0..n).map(|i| ((i % max_buffer) as f32 * 0.05).sin() * 0.4).collect();
    let input = Buffer::upload(client, &signal);
    let output = Buffer { handle: client.empty(n * 4), len: n };
    let sync = || cubecl::future::block_on(client.sync()).map_err(staging::device);
    launch(&input, &output);
    sync()?;
    let start = std::time::Instant::now();
    for _ in 0..buffers {
        launch(&input, &output);
    }
    sync()?;
    Ok(start.elapsed().as_secs_f64() * 1e3 / buffers as f64)
}

/// The two batch kinds share every method name the trait needs; only the shape label differs.
macro_rules! stream_batch {
    ($batch:ident, |$b:ident, $s:ident, $threads:ident| $label:expr) => {
        impl<R: cubecl::Runtime> StreamBatch for $batch<R> {
            fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) -> crate::error::Result<()> {
                $batch::process(self, inputs, outputs)
            }
            fn sanitized_samples(&self) -> u64 {
                $batch::sanitized_samples(self)
            }
            fn shape_label(&self) -> String {
                let ($b, ($s, $threads)) = (&*self, self.shape());
                let uploads = if self.pinned_uploads() { ", page-locked uploads" } else { "" };
                format!("{}{uploads}", $label)
            }
            fn pipelined_ms(
                &mut self,
                inputs: &[&[f32]],
                outputs: &mut [&mut [f32]],
                count: usize,
            ) -> crate::error::Result<Vec<f64>> {
                pipelined_ms(|| self.process_async(inputs), outputs, count)
            }
            fn queued_ms(&mut self, frames: usize, buffers: usize) -> crate::error::Result<f64> {
                let (client, streams, max_buffer) = (self.client().clone(), self.streams(), self.max_buffer());
                queued_ms(&client, streams, max_buffer, buffers, |i, o| self.launch_device(i, o, frames))
            }
        }
    };
}

stream_batch!(GpuWaveNetBatch, |b, s, threads| match b.columns() {
    Some(c) => c.label(),
    None => format!("{} × {}, {threads}, {}", s.tile, s.rows, products_label(s.conv)),
});

/// How a shape's matrix stages compute, for bench and test output.
pub fn products_label(conv: cubeaudio_kernels::tile_conv::TileConvPath) -> String {
    use cubeaudio_kernels::tile_conv::TileConvPath;
    match conv {
        TileConvPath::Scalar { rows, frames } => format!("{rows}×{frames} tiles"),
        TileConvPath::TensorCore { split: true } => "3×TF32 tensor cores".into(),
        TileConvPath::TensorCore { split: false } => "tf32 tensor cores".into(),
    }
}
stream_batch!(GpuLstmBatch, |_b, s, threads| format!("lstm {} × {}, {threads}", s.layers, s.hidden));

/// A batch of `streams` copies of `model` on the engine its architecture needs (the
/// convolutional kernel for WaveNet, ConvNet and Linear; the LSTM kernel), prewarmed as the CPU
/// engine's `reset(max_buffer)`.
pub fn batch_of<R: cubecl::Runtime>(
    client: &cubecl::prelude::ComputeClient<R>,
    model: &dyn crate::dsp::Dsp,
    streams: usize,
    max_buffer: usize,
) -> crate::error::Result<Box<dyn StreamBatch>> {
    if let Some(l) = model.architecture().lstm() {
        return Ok(Box::new(GpuLstmBatch::new(client, &vec![l; streams], max_buffer, &[max_buffer])?));
    }
    Ok(Box::new(GpuWaveNetBatch::new(client, &vec![model; streams], max_buffer)?))
}
