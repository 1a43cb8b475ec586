//! Host side of one buffer of a batch: the input staging (stream `s` at `s · max_buffer`, with
//! the NaN policy applied) and the pending read-back. Shared by every GPU batch kind.

use cubeaudio_kernels::util::Buffer;
use cubecl::prelude::*;
use cubecl::server::Handle;

use crate::error::{NamError, Result};

pub(crate) fn device(e: cubecl::server::ServerError) -> NamError {
    NamError::Device(e.into())
}

pub(crate) struct Staging {
    data: Vec<f32>,
    pinned: bool,
    streams: usize,
    max_buffer: usize,
    sanitized: u64,
}

impl Staging {
    pub(crate) fn new(streams: usize, max_buffer: usize) -> Self {
        let pinned = std::env::var("CUBEAUDIO_PINNED").is_ok_and(|v| v == "1");
        Self { data: vec![0.0; streams * max_buffer], pinned, streams, max_buffer, sanitized: 0 }
    }

    /// Room for `streams` streams; the count of sanitised samples carries over.
    pub(crate) fn resize(&mut self, streams: usize) {
        self.data = vec![0.0; streams * self.max_buffer];
        self.streams = streams;
    }

    /// Checks that there is one input per stream, all of the same 1..=max_buffer frames, and
    /// copies them in; non-finite samples become 0 (the CPU engine's policy) and are counted.
    /// Returns the frame count.
    pub(crate) fn fill(&mut self, inputs: &[&[f32]]) -> Result<usize> {
        if inputs.len() != self.streams {
            return Err(NamError::Request(format!("{} inputs for {} streams", inputs.len(), self.streams)));
        }
        let frames = inputs[0].len();
        if frames == 0 || frames > self.max_buffer || inputs.iter().any(|x| x.len() != frames) {
            return Err(NamError::Request(format!(
                "every stream's buffer must hold the same 1..={} frames",
                self.max_buffer
            )));
        }
        for (s, x) in inputs.iter().enumerate() {
            for (d, v) in self.data[s * self.max_buffer..s * self.max_buffer + frames].iter_mut().zip(x.iter()) {
                *d = if v.is_finite() {
                    *v
                } else {
                    self.sanitized += 1;
                    0.0
                };
            }
        }
        Ok(frames)
    }

    /// The staged inputs on the device, and an output buffer of the same layout (every stream
    /// writes the frames it is read back for; no need to initialise it).
    ///
    /// The read-back already lands in page-locked (pinned) memory: cubecl 0.10's CUDA runtime
    /// reads through its pinned pool. Uploads stay pageable by default: asking cubecl for a
    /// pinned upload buffer (`client.staging`) is a blocking round trip to its device thread
    /// plus one more copy, and measured slower — one standard stream, 64-sample buffers, H200:
    /// p50 167 µs pinned against 156 µs pageable (docs/PERFORMANCE.md). `CUBEAUDIO_PINNED=1`
    /// turns pinned uploads on (runtimes without pinned memory upload the plain bytes).
    pub(crate) fn to_device<R: Runtime>(&self, client: &ComputeClient<R>) -> (Buffer, Buffer) {
        let output = Buffer { handle: client.empty(self.data.len() * 4), len: self.data.len() };
        let mut bytes = cubecl::bytes::Bytes::from_bytes_vec(f32::as_bytes(&self.data).to_vec());
        if self.pinned {
            client.staging(std::iter::once(&mut bytes), false);
        }
        (Buffer { handle: client.create(bytes), len: self.data.len() }, output)
    }

    pub(crate) fn sanitized(&self) -> u64 {
        self.sanitized
    }

    /// Submits what is queued and hands back the read of `output`.
    pub(crate) fn pending<R: Runtime>(
        &self,
        client: &ComputeClient<R>,
        output: Buffer,
        frames: usize,
    ) -> Result<PendingBuffer<R>> {
        client.flush().map_err(device)?;
        Ok(PendingBuffer {
            client: client.clone(),
            output: output.handle,
            frames,
            streams: self.streams,
            max_buffer: self.max_buffer,
        })
    }
}

/// A buffer queued on the device by a batch's `process_async`.
#[must_use = "wait on a pending buffer to get its output"]
pub struct PendingBuffer<R: Runtime> {
    client: ComputeClient<R>,
    output: Handle,
    frames: usize,
    streams: usize,
    max_buffer: usize,
}

impl<R: Runtime> PendingBuffer<R> {
    /// Blocks until the outputs are on the host; `outputs[s]` receives stream `s`.
    pub fn wait(self, outputs: &mut [&mut [f32]]) -> Result<()> {
        if outputs.len() != self.streams || outputs.iter().any(|y| y.len() != self.frames) {
            return Err(NamError::Request(format!("{} outputs of {} frames expected", self.streams, self.frames)));
        }
        let bytes = self.client.read_one(self.output).map_err(device)?;
        let all = f32::from_bytes(&bytes);
        for (s, y) in outputs.iter_mut().enumerate() {
            let mine = &all[s * self.max_buffer..s * self.max_buffer + self.frames];
            for (o, v) in y.iter_mut().zip(mine) {
                *o = crate::model::finite_or_zero(*v);
            }
        }
        Ok(())
    }
}
