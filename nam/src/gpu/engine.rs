//! A batch of WaveNet streams on one device: `new` uploads plans and weights, zeroes and
//! prewarms every history; `process` runs one buffer of every stream in one launch.

use cubeaudio_kernels::util::Buffer;
use cubecl::prelude::*;

use super::kernel::{wavenet_streams_kernel, META};
use super::plan::ModelPlan;
use crate::error::{NamError, Result};
use crate::wavenet::WaveNet;

/// Threads per stream (cube): a 32-row × 32-frame block in 4 steps.
const UNITS: u32 = 256;

fn device(e: impl std::fmt::Debug) -> NamError {
    // A failing batch repeats the same launch error once per launch: keep the first.
    let text = format!("{e:?}");
    let first: String = text.chars().take(400).collect();
    NamError::Request(format!("GPU device error: {first}"))
}

pub struct GpuWaveNetBatch<R: Runtime> {
    client: ComputeClient<R>,
    streams: usize,
    max_buffer: usize,
    meta: Vec<u32>,
    plan: cubecl::server::Handle,
    plan_len: usize,
    weights: Buffer,
    state: Buffer,
    /// Host staging of one buffer of every stream (stream `s` at `s · max_buffer`).
    staging: Vec<f32>,
    sanitized: u64,
    /// Samples of silence `new` and `reset` run through every stream.
    prewarm: usize,
}

impl<R: Runtime> GpuWaveNetBatch<R> {
    /// Lays out `models` (one stream each, any mix of supported WaveNets), allocates their
    /// histories for buffers of up to `max_buffer` frames, and prewarms them with silence.
    pub fn new(client: &ComputeClient<R>, models: &[&WaveNet], max_buffer: usize) -> Result<Self> {
        crate::dsp::check_buffer(max_buffer)?;
        if models.is_empty() {
            return Err(NamError::Request("a GPU batch needs at least one stream".into()));
        }
        if models.len() > u16::MAX as usize {
            return Err(NamError::Request(format!("{} streams exceed the limit of {}", models.len(), u16::MAX)));
        }
        let plans = models.iter().map(|m| ModelPlan::build(m)).collect::<Result<Vec<_>>>()?;
        let (mut plan, mut weights, mut meta, mut state_len) = (Vec::new(), Vec::new(), Vec::new(), 0usize);
        for (s, p) in plans.iter().enumerate() {
            meta.extend_from_slice(&[
                plan.len() as u32,
                weights.len() as u32,
                state_len as u32,
                (s * max_buffer) as u32,
                (s * max_buffer) as u32,
                0,
                0,
                0,
            ]);
            plan.extend_from_slice(&p.plan);
            weights.extend_from_slice(&p.weights);
            state_len += p.state_len;
        }
        if state_len > (1 << 30) || weights.len() > (1 << 30) {
            return Err(NamError::Request("the batch's histories exceed 4 GiB".into()));
        }
        let mut batch = Self {
            client: client.clone(),
            streams: models.len(),
            max_buffer,
            meta,
            plan_len: plan.len(),
            plan: client.create_from_slice(u32::as_bytes(&plan)),
            weights: Buffer::upload(client, &weights),
            state: Buffer::filled(client, state_len.max(1), 0.0),
            staging: vec![0.0; models.len() * max_buffer],
            sanitized: 0,
            prewarm: plans.iter().map(|p| p.prewarm).max().unwrap_or(0),
        };
        batch.prewarm()?;
        Ok(batch)
    }

    /// The core's prewarm: at least P zeros through every stream, in blocks of max_buffer,
    /// through the host path (default input offsets).
    fn prewarm(&mut self) -> Result<()> {
        let routed: Vec<u32> = (0..self.streams).map(|s| self.meta[s * META + 3]).collect();
        for s in 0..self.streams {
            self.meta[s * META + 3] = (s * self.max_buffer) as u32;
        }
        let silence = vec![0.0f32; self.max_buffer];
        let inputs: Vec<&[f32]> = vec![&silence; self.streams];
        let mut done = 0;
        while done < self.prewarm {
            self.launch(&inputs, self.max_buffer)?;
            done += self.max_buffer;
        }
        self.set_input_offsets(&routed)?;
        self.client.flush().map_err(device)
    }

    /// Clears every history and prewarms again: the state right after [`Self::new`].
    pub fn reset(&mut self) -> Result<()> {
        self.state = Buffer::filled(&self.client, self.state.len.max(1), 0.0);
        for s in 0..self.streams {
            self.meta[s * META + 5] = 0;
        }
        self.prewarm()
    }

    pub fn streams(&self) -> usize {
        self.streams
    }

    /// Samples replaced by 0 because they were NaN or infinite (the CPU engine's policy).
    pub fn sanitized_samples(&self) -> u64 {
        self.sanitized
    }

    fn launch(&mut self, inputs: &[&[f32]], frames: usize) -> Result<cubecl::server::Handle> {
        for (s, x) in inputs.iter().enumerate() {
            for (d, v) in self.staging[s * self.max_buffer..s * self.max_buffer + frames].iter_mut().zip(x.iter()) {
                *d = if v.is_finite() {
                    *v
                } else {
                    self.sanitized += 1;
                    0.0
                };
            }
        }
        let input = Buffer::upload(&self.client, &self.staging);
        let output = Buffer::filled(&self.client, self.staging.len(), f32::NAN);
        self.launch_device(&input, &output, frames);
        Ok(output.handle)
    }

    /// Queues one buffer of every stream reading from and writing to device buffers: stream `s`
    /// reads `frames` samples at its input offset in `input` (see [`Self::set_input_offsets`];
    /// `s · max_buffer` by default) and writes them at `s · max_buffer` in `output`. The caller
    /// keeps the input finite (the processing graph sanitises its inputs).
    pub fn launch_device(&mut self, input: &Buffer, output: &Buffer, frames: usize) {
        let meta = self.client.create_from_slice(u32::as_bytes(&self.meta));
        // SAFETY: lengths are those of the slices the handles were created from.
        let (meta_arg, plan_arg) = unsafe {
            (ArrayArg::from_raw_parts(meta, self.meta.len()), ArrayArg::from_raw_parts(self.plan.clone(), self.plan_len))
        };
        wavenet_streams_kernel::launch::<R>(
            &self.client,
            CubeCount::Static(self.streams as u32, 1, 1),
            CubeDim::new_1d(UNITS),
            meta_arg,
            plan_arg,
            self.weights.arg(),
            self.state.arg(),
            input.arg(),
            output.arg(),
            frames as u32,
        );
        for s in 0..self.streams {
            let cursor = &mut self.meta[s * META + 5];
            *cursor = cursor.wrapping_add(frames as u32);
        }
    }

    /// Where each stream reads its input in the buffer given to [`Self::launch_device`].
    pub fn set_input_offsets(&mut self, offsets: &[u32]) -> Result<()> {
        if offsets.len() != self.streams {
            return Err(NamError::Request(format!("{} input offsets for {} streams", offsets.len(), self.streams)));
        }
        for (s, &o) in offsets.iter().enumerate() {
            self.meta[s * META + 3] = o;
        }
        Ok(())
    }

    pub fn max_buffer(&self) -> usize {
        self.max_buffer
    }

    /// One buffer of every stream: `inputs[s]` and `outputs[s]` all hold the same number of
    /// frames, at most `max_buffer`. One kernel launch for the whole batch.
    pub fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) -> Result<()> {
        if inputs.len() != self.streams || outputs.len() != self.streams {
            return Err(NamError::Request(format!("{} inputs and {} outputs for {} streams", inputs.len(), outputs.len(), self.streams)));
        }
        let frames = inputs[0].len();
        if frames == 0 || frames > self.max_buffer || inputs.iter().any(|x| x.len() != frames) || outputs.iter().any(|y| y.len() != frames) {
            return Err(NamError::Request(format!("every stream's buffer must hold the same 1..={} frames", self.max_buffer)));
        }
        let handle = self.launch(inputs, frames)?;
        let bytes = self.client.read_one(handle).map_err(device)?;
        let all = f32::from_bytes(&bytes);
        for (s, y) in outputs.iter_mut().enumerate() {
            y.copy_from_slice(&all[s * self.max_buffer..s * self.max_buffer + frames]);
        }
        Ok(())
    }
}
