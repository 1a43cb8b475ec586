//! Host side of one buffer of a batch: the input staging (stream `s` at `s · max_buffer`, with
//! the NaN policy applied) and the pending read-back. Shared by every GPU batch kind.

use cubeaudio_kernels::transfer_slot::{fill_finite, Ticket, TransferSlot};
use cubeaudio_kernels::util::Buffer;
use cubecl::prelude::*;

use crate::error::{NamError, Result};

pub(crate) fn device(e: cubecl::server::ServerError) -> NamError {
    NamError::Device(e.into())
}

/// Two slots, so buffer k+1 is filled and uploaded while buffer k runs (`process_async`).
const SLOTS: usize = 2;

pub(crate) struct Staging<R: Runtime> {
    client: ComputeClient<R>,
    /// Empty until the batch has a stream; then [`SLOTS`] slots of one capacity.
    slots: Vec<TransferSlot<R>>,
    /// The slot the next `fill`/`upload` uses (the last `upload` used the one before it).
    next: usize,
    streams: usize,
    max_buffer: usize,
    sanitized: u64,
}

impl<R: Runtime> Staging<R> {
    pub(crate) fn new(client: &ComputeClient<R>, streams: usize, max_buffer: usize) -> Self {
        let mut staging =
            Self { client: client.clone(), slots: Vec::new(), next: 0, streams: 0, max_buffer, sanitized: 0 };
        staging.resize(streams);
        staging
    }

    /// Room for `streams` streams (host memory and device buffers are made here, never in
    /// `fill`/`upload`); the count of sanitised samples carries over. Slots only grow, at least
    /// doubling: on CUDA a slot is page-locked memory, a copy stream and a checked round trip,
    /// too slow to remake for every stream that joins or leaves. A batch that shrank uploads and
    /// reads back only the floats its streams use.
    pub(crate) fn resize(&mut self, streams: usize) {
        self.streams = streams;
        let needed = streams * self.max_buffer;
        let capacity = self.slots.first().map_or(0, |s| s.capacity());
        if needed > capacity {
            let grown = needed.max(2 * capacity);
            self.slots = (0..SLOTS).map(|_| TransferSlot::new(&self.client, grown)).collect();
            self.next = 0;
        }
    }

    /// Whether inputs go up from page-locked memory of the batch's own (CUDA).
    pub(crate) fn pinned(&self) -> bool {
        self.slots.first().is_some_and(|s| s.is_pinned())
    }

    /// Checks that there is one input per stream, all of the same 1..=max_buffer frames, and
    /// copies them into the next slot's host memory; non-finite samples become 0 (the CPU
    /// engine's policy) and are counted. Returns the frame count.
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
        self.sanitized += fill_finite(self.slots[self.next].host_input(), inputs, self.max_buffer);
        Ok(frames)
    }

    /// Uploads the filled slot and hands out its input and output buffers (every stream writes
    /// the frames it is read back for: the output needs no initialising); [`Self::pending`]
    /// follows the launch.
    pub(crate) fn upload(&mut self) -> Result<(Buffer, Buffer)> {
        let slot = &mut self.slots[self.next];
        let buffers = slot.send(self.streams * self.max_buffer)?;
        self.next = (self.next + 1) % SLOTS;
        Ok(buffers)
    }

    pub(crate) fn sanitized(&self) -> u64 {
        self.sanitized
    }

    /// Queues the read-back of the slot just sent, behind its launch, and submits everything.
    pub(crate) fn pending(&self, frames: usize) -> Result<PendingBuffer<R>> {
        let sent = (self.next + SLOTS - 1) % SLOTS;
        let ticket = self.slots[sent].read_back(self.streams * self.max_buffer)?;
        Ok(PendingBuffer { ticket, frames, streams: self.streams, max_buffer: self.max_buffer })
    }
}

/// A buffer queued on the device by a batch's `process_async`.
#[must_use = "wait on a pending buffer to get its output"]
pub struct PendingBuffer<R: Runtime> {
    ticket: Ticket<R>,
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
        let (frames, max_buffer) = (self.frames, self.max_buffer);
        self.ticket.fetch(|all| {
            for (s, y) in outputs.iter_mut().enumerate() {
                let mine = &all[s * max_buffer..s * max_buffer + frames];
                for (o, v) in y.iter_mut().zip(mine) {
                    *o = crate::model::finite_or_zero(*v);
                }
            }
        })?;
        Ok(())
    }
}
