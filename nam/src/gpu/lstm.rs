//! LSTM streams on the GPU: one cube per stream walks its samples in order (an LSTM is a
//! recurrence), 4H threads compute the gate rows of a layer in parallel, H of them update the
//! cell; states stay in shared memory for the buffer and in device memory between buffers.
//! Streams of different LSTM sizes share a launch; the plan sits in each stream's meta record.
// cubecl 0.10's #[cube] adds an undocumented `pub mod <fn>` (expand, launch) beside every
// device function, which no attribute reaches; the functions themselves are documented.
#![allow(missing_docs)]

use cubeaudio_kernels::activation::{exact_tanh, fast_tanh, sigmoid};
use cubeaudio_kernels::util::Buffer;
use cubecl::prelude::*;

use super::staging::{device, PendingBuffer, Staging};
use crate::error::{NamError, Result};
use crate::lstm::Lstm;

/// u32 per stream: weights, state, input and output offsets, layers, hidden, fast tanh, head.
pub const LSTM_META: usize = 8;
/// Largest hidden size and layer count the GPU engine runs.
pub const MAX_LSTM_HIDDEN: usize = 64;
/// Most LSTM layers a GPU stream may have.
pub const MAX_LSTM_LAYERS: usize = 8;

/// Shared-memory shape of a launch: gates `4·hidden`, then `h` and `c` of every layer.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub struct LstmShape {
    /// Hidden size of every layer.
    pub hidden: usize,
    /// Layers.
    pub layers: usize,
}

#[allow(unused_assignments)]
#[cube]
fn lstm_sigmoid(x: f32, fast: u32) -> f32 {
    let mut y = 0.0f32;
    if fast != 0 {
        y = 0.5 * (fast_tanh(0.5 * x) + 1.0);
    } else {
        y = sigmoid(x);
    }
    y
}

#[allow(unused_assignments)]
#[cube]
fn lstm_tanh(x: f32, fast: u32) -> f32 {
    let mut y = 0.0f32;
    if fast != 0 {
        y = fast_tanh(x);
    } else {
        y = exact_tanh(x);
    }
    y
}

/// One cube per stream runs its LSTM over the buffer, sample by sample, state kept in `state` between launches.
#[allow(unused_assignments)]
#[cube(launch)]
pub fn lstm_streams_kernel(
    meta: &Array<u32>,
    weights: &Array<f32>,
    state: &mut Array<f32>,
    input: &Array<f32>,
    output: &mut Array<f32>,
    frames: u32,
    #[comptime] shape: LstmShape,
) {
    let m = CUBE_POS * LSTM_META;
    let wb = meta[m] as usize;
    let sb = meta[m + 1] as usize;
    let in_off = meta[m + 2] as usize;
    let out_off = meta[m + 3] as usize;
    let layers = meta[m + 4] as usize;
    let h = meta[m + 5] as usize;
    let fast = meta[m + 6];
    let w_head = meta[m + 7] as usize;
    let hmax = shape.hidden;
    let h_at = 4 * hmax;
    let c_at = 4 * hmax + shape.layers * hmax;
    let mut sh = SharedMemory::<f32>::new(4 * hmax + 2 * shape.layers * hmax);
    let j = UNIT_POS as usize;
    let step = CUBE_DIM as usize;

    let mut i = j;
    while i < layers * h {
        let l = i / h;
        let k = i % h;
        sh[h_at + l * hmax + k] = state[sb + l * 2 * h + k];
        sh[c_at + l * hmax + k] = state[sb + l * 2 * h + h + k];
        i += step;
    }
    sync_cube();

    for t in 0..frames as usize {
        let x = input[in_off + t];
        let mut wl = wb;
        for l in 0..layers {
            // Layer 0 reads the one input sample (`l + 1` is a runtime 1 here).
            let mut inputs = h;
            if l == 0 {
                inputs = l + 1;
            }
            let cols = inputs + h;
            if j < 4 * h {
                let mut acc = weights[wl + 4 * h * cols + j];
                let mut wi = wl + j * cols;
                if l == 0 {
                    acc += weights[wi] * x;
                    wi += 1;
                } else {
                    let prev = h_at + (l - 1) * hmax;
                    for k in 0..h {
                        acc += weights[wi] * sh[prev + k];
                        wi += 1;
                    }
                }
                let own = h_at + l * hmax;
                for k in 0..h {
                    acc += weights[wi] * sh[own + k];
                    wi += 1;
                }
                sh[j] = acc;
            }
            sync_cube();
            if j < h {
                let c = lstm_sigmoid(sh[h + j], fast) * sh[c_at + l * hmax + j]
                    + lstm_sigmoid(sh[j], fast) * lstm_tanh(sh[2 * h + j], fast);
                sh[c_at + l * hmax + j] = c;
                sh[h_at + l * hmax + j] = lstm_sigmoid(sh[3 * h + j], fast) * lstm_tanh(c, fast);
            }
            sync_cube();
            wl += 4 * h * cols + 4 * h;
        }
        if j == 0 {
            let last = h_at + (layers - 1) * hmax;
            let mut y = weights[w_head + h];
            for k in 0..h {
                y += weights[w_head + k] * sh[last + k];
            }
            output[out_off + t] = y;
        }
    }

    sync_cube();
    let mut i = j;
    while i < layers * h {
        let l = i / h;
        let k = i % h;
        state[sb + l * 2 * h + k] = sh[h_at + l * hmax + k];
        state[sb + l * 2 * h + h + k] = sh[c_at + l * hmax + k];
        i += step;
    }
}

fn unsupported(what: String) -> NamError {
    NamError::Unsupported { architecture: "LSTM (GPU engine)".into(), reason: what }
}

/// A batch of LSTM streams (any sizes within the limits), one launch per buffer.
pub struct GpuLstmBatch<R: Runtime> {
    client: ComputeClient<R>,
    streams: usize,
    max_buffer: usize,
    meta: Vec<u32>,
    weights: Buffer,
    state: Buffer,
    staging: Staging<R>,
    shape: LstmShape,
    threads: u32,
}

impl<R: Runtime> GpuLstmBatch<R> {
    /// Uploads `models` (one stream each), sets their initial states and prewarms each with
    /// silence as the core's resets do: for every block size `b` of `prewarm_blocks`,
    /// `ceil(P / b) · b` zeros (the CPU engine's `reset(b)`; `[2048, host block]` is the
    /// plugin's load sequence). An LSTM's state carries over, so the count matters.
    pub fn new(
        client: &ComputeClient<R>,
        models: &[&Lstm],
        max_buffer: usize,
        prewarm_blocks: &[usize],
    ) -> Result<Self> {
        crate::dsp::check_buffer(max_buffer)?;
        if models.is_empty() {
            return Err(NamError::Request("a GPU batch needs at least one stream".into()));
        }
        let (mut meta, mut weights, mut state) = (Vec::new(), Vec::new(), Vec::new());
        let mut shape = LstmShape { hidden: 1, layers: 1 };
        for (s, m) in models.iter().enumerate() {
            use crate::dsp::Dsp;
            let h = m.hidden();
            let layers = m.layers_for_gpu();
            let (outs, head) = m.head_for_gpu();
            if h > MAX_LSTM_HIDDEN || layers.len() > MAX_LSTM_LAYERS {
                return Err(unsupported(format!(
                    "{} layers × {h} hidden (the GPU engine runs up to {MAX_LSTM_LAYERS} × {MAX_LSTM_HIDDEN})",
                    layers.len()
                )));
            }
            if m.in_channels() != 1 || outs != 1 {
                return Err(unsupported("models that are not mono in/out".into()));
            }
            shape.hidden = shape.hidden.max(h);
            shape.layers = shape.layers.max(layers.len());
            let w0 = weights.len();
            let s0 = state.len();
            for l in &layers {
                weights.extend_from_slice(&l.weights_and_bias);
                state.extend_from_slice(&l.h0);
                state.extend_from_slice(&l.c0);
            }
            let w_head = weights.len();
            weights.extend_from_slice(&head);
            meta.extend_from_slice(&[
                w0 as u32,
                s0 as u32,
                (s * max_buffer) as u32,
                (s * max_buffer) as u32,
                layers.len() as u32,
                h as u32,
                u32::from(m.fast_tanh()),
                w_head as u32,
            ]);
        }
        shape.hidden = shape.hidden.div_ceil(8) * 8;
        let threads = ((4 * shape.hidden) as u32).div_ceil(32) * 32;
        let mut batch = Self {
            client: client.clone(),
            streams: models.len(),
            max_buffer,
            meta,
            weights: Buffer::upload(client, &weights),
            state: Buffer::upload(client, &state),
            staging: Staging::new(client, models.len(), max_buffer),
            shape,
            threads,
        };
        use crate::dsp::Dsp;
        let counts: Vec<usize> = models
            .iter()
            .map(|m| {
                let p = m.prewarm_samples();
                if p == 0 {
                    0
                } else {
                    prewarm_blocks.iter().map(|b| p.div_ceil(*b) * b).sum()
                }
            })
            .collect();
        batch.prewarm(&counts)?;
        Ok(batch)
    }

    /// The device this batch runs on.
    pub fn client(&self) -> &ComputeClient<R> {
        &self.client
    }

    /// Streams in the batch.
    pub fn streams(&self) -> usize {
        self.streams
    }

    /// Non-finite input samples replaced by 0 so far.
    pub fn sanitized_samples(&self) -> u64 {
        self.staging.sanitized()
    }

    /// The compiled shape (largest layers × hidden, rounded) and threads per stream.
    pub fn shape(&self) -> (LstmShape, u32) {
        (self.shape, self.threads)
    }

    /// Runs `counts[s]` zeros through stream `s` (the others do not move).
    fn prewarm(&mut self, counts: &[usize]) -> Result<()> {
        let silence = Buffer::filled(&self.client, self.streams * self.max_buffer, 0.0);
        let sink = Buffer::filled(&self.client, self.streams * self.max_buffer, 0.0);
        let mut done = 0;
        loop {
            let records: Vec<u32> = (0..self.streams)
                .filter(|&s| counts[s] > done)
                .flat_map(|s| self.meta[s * LSTM_META..(s + 1) * LSTM_META].iter().copied())
                .collect();
            if records.is_empty() {
                break;
            }
            let n = (counts.iter().copied().filter(|&c| c > done).min().unwrap_or(0) - done).min(self.max_buffer);
            self.launch(&records, &silence, &sink, n);
            done += n;
        }
        self.client.flush().map_err(device)
    }

    fn launch(&self, records: &[u32], input: &Buffer, output: &Buffer, frames: usize) {
        let meta = self.client.create_from_slice(u32::as_bytes(records));
        // SAFETY: the length is that of the slice the handle was created from.
        let meta_arg = unsafe { ArrayArg::from_raw_parts(meta, records.len()) };
        lstm_streams_kernel::launch::<R>(
            &self.client,
            CubeCount::Static((records.len() / LSTM_META) as u32, 1, 1),
            CubeDim::new_1d(self.threads),
            meta_arg,
            self.weights.arg(),
            self.state.arg(),
            input.arg(),
            output.arg(),
            frames as u32,
            self.shape,
        );
    }

    /// Largest buffer `process` takes.
    pub fn max_buffer(&self) -> usize {
        self.max_buffer
    }

    /// Where each stream reads its input in the buffer given to [`Self::launch_device`]
    /// (`s · max_buffer` by default; `process` needs the default).
    pub fn set_input_offsets(&mut self, offsets: &[u32]) -> Result<()> {
        if offsets.len() != self.streams {
            return Err(NamError::Request(format!("{} input offsets for {} streams", offsets.len(), self.streams)));
        }
        for (s, &o) in offsets.iter().enumerate() {
            self.meta[s * LSTM_META + 2] = o;
        }
        Ok(())
    }

    /// Queues one buffer reading device memory: stream `s` reads `frames` samples at its input
    /// offset in `input` and writes them at `s · max_buffer` in `output`. The caller keeps the
    /// input finite (the processing graph sanitises its inputs).
    pub fn launch_device(&mut self, input: &Buffer, output: &Buffer, frames: usize) {
        self.launch(&self.meta, input, output, frames);
    }

    /// Whether inputs go up from page-locked memory through a copy stream of the batch's own
    /// (CUDA; `kernels::transfer_slot`) rather than through cubecl's pageable copies.
    pub fn pinned_uploads(&self) -> bool {
        self.staging.pinned()
    }

    /// Queues one buffer of every stream and returns at once (see
    /// [`super::GpuWaveNetBatch::process_async`]).
    pub fn process_async(&mut self, inputs: &[&[f32]]) -> Result<PendingBuffer<R>> {
        let frames = self.staging.fill(inputs)?;
        let (input, output) = self.staging.upload()?;
        self.launch(&self.meta, &input, &output, frames);
        self.staging.pending(frames)
    }

    /// One buffer of every stream (`inputs[s]`, `outputs[s]` of the same 1..=max_buffer frames).
    pub fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) -> Result<()> {
        if outputs.len() != self.streams {
            return Err(NamError::Request(format!("{} outputs for {} streams", outputs.len(), self.streams)));
        }
        self.process_async(inputs)?.wait(outputs)
    }
}
