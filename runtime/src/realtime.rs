//! The audio thread's side of a GPU graph: lock-free, allocation-free, never waits.
//!
//! A GPU launch cannot sit on the audio thread: cubecl takes locks and allocates while
//! queueing work, and a read-back blocks until the device is done. So the audio callback only
//! copies blocks into and out of two single-producer/single-consumer rings of preallocated
//! blocks; a device thread ([`DeviceSide::serve`]) runs the graph. The output comes back
//! `latency` blocks later (fixed, reported to the host as plugin latency). If the device thread
//! falls behind, the callback outputs silence for that block and counts an underrun instead of
//! waiting; blocks carry sequence numbers, so the late block, when it comes, is dropped rather
//! than played one slot late (which would grow the latency for the rest of the run).

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// A fixed number of fixed-size blocks, one writer and one reader: the lock-free,
/// allocation-free queue both ends of a bridge are made of (public for hosts that gather many
/// such queues into one device launch, e.g. `cubeaudio_nam::live`).
pub struct BlockRing {
    blocks: Box<[UnsafeCell<Box<[f32]>>]>,
    head: AtomicUsize,
    tail: AtomicUsize,
}

// SAFETY: a block is written only by the producer between its `head` check and the Release
// store that publishes it, and read only by the consumer after the Acquire load that sees it.
unsafe impl Sync for BlockRing {}
unsafe impl Send for BlockRing {}

impl BlockRing {
    /// `capacity` blocks of `block_len` floats, all allocated here.
    pub fn new(capacity: usize, block_len: usize) -> Self {
        Self {
            blocks: (0..capacity).map(|_| UnsafeCell::new(vec![0.0f32; block_len].into_boxed_slice())).collect(),
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
        }
    }

    /// Blocks queued and not yet taken.
    pub fn len(&self) -> usize {
        self.head.load(Ordering::Acquire) - self.tail.load(Ordering::Acquire)
    }

    /// Whether no block is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The producer's call: fills the next free block and publishes it; false (nothing
    /// written) when every block is queued.
    pub fn push_with(&self, fill: impl FnOnce(&mut [f32])) -> bool {
        let head = self.head.load(Ordering::Relaxed);
        if head - self.tail.load(Ordering::Acquire) == self.blocks.len() {
            return false;
        }
        // SAFETY: see the Sync impl; this slot is not visible to the consumer yet.
        fill(unsafe { &mut *self.blocks[head % self.blocks.len()].get() });
        self.head.store(head + 1, Ordering::Release);
        true
    }

    /// The consumer's call: shows the oldest queued block to `take`, and frees it if `take`
    /// returns true. `None` when none is queued, else what `take` returned.
    pub fn pop_when(&self, take: impl FnOnce(&[f32]) -> bool) -> Option<bool> {
        let tail = self.tail.load(Ordering::Relaxed);
        if tail == self.head.load(Ordering::Acquire) {
            return None;
        }
        // SAFETY: see the Sync impl; the producer does not touch this slot until tail moves.
        let taken = take(unsafe { &*self.blocks[tail % self.blocks.len()].get() });
        if taken {
            self.tail.store(tail + 1, Ordering::Release);
        }
        Some(taken)
    }

    /// The consumer's call: reads the oldest queued block and frees it; false when none is
    /// queued.
    pub fn pop_with(&self, read: impl FnOnce(&[f32])) -> bool {
        self.pop_when(|b| {
            read(b);
            true
        })
        .is_some()
    }
}

/// Counters both sides can read.
#[derive(Debug, Default)]
pub struct BridgeStats {
    /// Blocks the audio side produced silence for because no output was ready.
    pub underruns: AtomicU64,
    /// Input blocks dropped because the device side had not taken the previous ones.
    pub overruns: AtomicU64,
    /// Blocks processed by the device side.
    pub processed: AtomicU64,
    /// Output blocks that came back after their turn (which played silence) and were dropped.
    pub late: AtomicU64,
}

/// Why the audio side refused a call (shapes are fixed when the bridge is built).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeError {
    /// The block has a different channel count than the bridge was built for.
    WrongChannelCount,
    /// The block has a different length than the bridge was built for.
    WrongBlockSize,
}

/// The audio thread's end of the bridge: hands blocks to the device thread and takes results, never allocating, locking or waiting.
pub struct AudioSide {
    to_device: Arc<BlockRing>,
    from_device: Arc<BlockRing>,
    in_channels: usize,
    out_channels: usize,
    block: usize,
    /// Sequence number of the next input block, and of the output block due next.
    next_in: u32,
    next_out: u32,
    stats: Arc<BridgeStats>,
}

/// The device thread's end of the bridge: takes input blocks, runs the graph, returns outputs.
pub struct DeviceSide {
    to_device: Arc<BlockRing>,
    from_device: Arc<BlockRing>,
    in_channels: usize,
    out_channels: usize,
    block: usize,
    input: Vec<f32>,
    output: Vec<f32>,
    stats: Arc<BridgeStats>,
}

/// A bridge for blocks of `block` frames with a fixed latency of `latency` blocks (≥ 1).
pub fn realtime_bridge(
    in_channels: usize,
    out_channels: usize,
    block: usize,
    latency: usize,
) -> (AudioSide, DeviceSide) {
    let latency = latency.max(1);
    let capacity = latency + 2;
    // Each block carries its sequence number (as f32 bits) after the samples. Output block k
    // answers input block k; the first `latency` outputs are silence, so input k plays at call
    // k (counting from the first call), which handed in input k − latency.
    let (in_len, out_len) = (in_channels.max(1) * block, out_channels.max(1) * block);
    let to_device = Arc::new(BlockRing::new(capacity, in_len + 1));
    let from_device = Arc::new(BlockRing::new(capacity, out_len + 1));
    for seq in 0..latency as u32 {
        from_device.push_with(|b| {
            b.fill(0.0);
            b[out_len] = f32::from_bits(seq);
        });
    }
    let stats = Arc::new(BridgeStats::default());
    (
        AudioSide {
            to_device: to_device.clone(),
            from_device: from_device.clone(),
            in_channels,
            out_channels,
            block,
            next_in: latency as u32,
            next_out: 0,
            stats: stats.clone(),
        },
        DeviceSide {
            to_device,
            from_device,
            in_channels,
            out_channels,
            block,
            input: vec![0.0; in_channels * block],
            output: vec![0.0; out_channels * block],
            stats,
        },
    )
}

impl AudioSide {
    /// Hands this block's input to the device side and writes the output of the block
    /// `latency` blocks earlier (silence on an underrun). Allocates nothing, locks nothing.
    pub fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) -> Result<(), BridgeError> {
        if inputs.len() != self.in_channels || outputs.len() != self.out_channels {
            return Err(BridgeError::WrongChannelCount);
        }
        if inputs.iter().any(|x| x.len() != self.block) || outputs.iter().any(|y| y.len() != self.block) {
            return Err(BridgeError::WrongBlockSize);
        }
        let n = self.block;
        let (seq_in, in_len) = (self.next_in, self.in_channels.max(1) * n);
        let pushed = self.to_device.push_with(|b| {
            for (c, x) in inputs.iter().enumerate() {
                b[c * n..(c + 1) * n].copy_from_slice(x);
            }
            b[in_len] = f32::from_bits(seq_in);
        });
        // A dropped input still uses its number: its output slot then plays silence.
        self.next_in = seq_in.wrapping_add(1);
        if !pushed {
            self.stats.overruns.fetch_add(1, Ordering::Relaxed);
        }
        let (due, out_len) = (self.next_out, self.out_channels.max(1) * n);
        self.next_out = due.wrapping_add(1);
        let mut played = false;
        loop {
            let mut stale = false;
            let taken = self.from_device.pop_when(|b| {
                // Wrapping distance: > 0 for a block whose turn has passed.
                let age = due.wrapping_sub(b[out_len].to_bits()) as i32;
                if age > 0 {
                    stale = true;
                    return true;
                }
                if age == 0 {
                    for (c, y) in outputs.iter_mut().enumerate() {
                        y.copy_from_slice(&b[c * n..(c + 1) * n]);
                    }
                    played = true;
                    return true;
                }
                false
            });
            if taken == Some(true) && stale {
                self.stats.late.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            break;
        }
        if !played {
            self.stats.underruns.fetch_add(1, Ordering::Relaxed);
            outputs.iter_mut().for_each(|y| y.fill(0.0));
        }
        Ok(())
    }

    /// Underruns, overruns and blocks processed so far.
    pub fn stats(&self) -> &BridgeStats {
        &self.stats
    }

    /// The same counters, to read after this side moved to the audio thread.
    pub fn stats_handle(&self) -> Arc<BridgeStats> {
        self.stats.clone()
    }
}

impl DeviceSide {
    /// Takes one input block if there is one, runs `run(inputs, outputs)` on it (planar
    /// slices, one per channel) and queues the output for the audio side. Returns whether a
    /// block was processed. If the output ring is full the audio side has stopped reading, and
    /// the block is dropped.
    pub fn serve<E>(&mut self, mut run: impl FnMut(&[&[f32]], &mut [&mut [f32]]) -> Result<(), E>) -> Result<bool, E> {
        let n = self.block;
        let input = &mut self.input;
        let len = input.len();
        let stride = self.in_channels.max(1) * n;
        // The block's sequence number goes back with its output.
        let mut seq = 0;
        if !self.to_device.pop_with(|b| {
            input.copy_from_slice(&b[..len]);
            seq = b[stride].to_bits();
        }) {
            return Ok(false);
        }
        {
            let ins: Vec<&[f32]> = self.input.chunks(n).take(self.in_channels).collect();
            let mut outs: Vec<&mut [f32]> = self.output.chunks_mut(n).take(self.out_channels).collect();
            run(&ins, &mut outs)?;
        }
        let output = &self.output;
        let stride = self.out_channels.max(1) * n;
        self.from_device.push_with(|b| {
            b[..output.len()].copy_from_slice(output);
            b[stride] = f32::from_bits(seq);
        });
        self.stats.processed.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }

    /// Underruns, overruns and blocks processed so far.
    pub fn stats(&self) -> &BridgeStats {
        &self.stats
    }
}
