//! One instance's audio-thread end: blocks in and out of the shared engine's queues, the CPU
//! engine when the GPU cannot serve it. Allocates nothing, locks nothing, waits only until the
//! caller's deadline.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cubeaudio_runtime::realtime::BlockRing;

use super::engine::SharedEngine;
use crate::Model;

/// The two queues between an instance and the device thread; blocks carry their sequence
/// number in one extra float.
pub(super) struct Rings {
    pub(super) to_device: BlockRing,
    pub(super) from_device: BlockRing,
    /// Set by the instance when it stops reading (it fell back, or was retired): cycles no
    /// longer wait for its blocks.
    pub(super) abandoned: AtomicBool,
}

/// How long [`Instance::process`] may wait for the device's block.
#[derive(Debug, Clone, Copy)]
pub enum Wait {
    /// Real time: give up at this instant and fall back to the CPU engine.
    Until(Instant),
    /// Offline rendering (a host's bounce, a test): wait as long as the device is alive, up to
    /// [`OFFLINE_LIMIT`] for one block.
    Offline,
}

/// The longest an offline wait lasts before the instance gives up on the device.
pub const OFFLINE_LIMIT: Duration = Duration::from_secs(20);

/// Blocks after joining during which a late block is waited for (up to [`WARMUP_WAIT`]) rather
/// than ending the instance's time on the GPU: the first launches after a batch changes size
/// allocate its staging buffers (3.5–5.8 ms for the first cycle on an H200, 2026-11-30, against
/// ~0.25 ms after), which says nothing about the device keeping up.
pub const WARMUP_BLOCKS: u32 = 32;

/// See [`WARMUP_BLOCKS`].
pub const WARMUP_WAIT: Duration = Duration::from_millis(50);

/// Why an instance left the GPU while running (set on the audio thread, read anywhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Miss {
    /// The block was not back by the deadline.
    Deadline = 1,
    /// The device failed.
    DeviceFault = 2,
    /// The device thread stopped taking blocks.
    QueueFull = 3,
}

/// What other threads may read about an instance while it runs.
#[derive(Debug, Default)]
pub struct InstanceStatus {
    on_gpu: AtomicBool,
    missed: AtomicU8,
    missed_at: AtomicU64,
    blocks: AtomicU64,
}

impl InstanceStatus {
    /// Whether the GPU produces this instance's output now.
    pub fn on_gpu(&self) -> bool {
        self.on_gpu.load(Ordering::Relaxed)
    }

    /// Blocks produced so far.
    pub fn blocks(&self) -> u64 {
        self.blocks.load(Ordering::Relaxed)
    }

    /// Why the instance left the GPU while running, and at which block.
    pub fn missed(&self) -> Option<(Miss, u64)> {
        let at = self.missed_at.load(Ordering::Relaxed);
        match self.missed.load(Ordering::Acquire) {
            1 => Some((Miss::Deadline, at)),
            2 => Some((Miss::DeviceFault, at)),
            3 => Some((Miss::QueueFull, at)),
            _ => None,
        }
    }

    /// Why the instance left the GPU while running, in words (`fault`: the engine's device
    /// error, if it had one); `None` while it never left.
    pub fn miss_reason(&self, fault: Option<String>) -> Option<String> {
        let (miss, at) = self.missed()?;
        Some(match miss {
            Miss::Deadline => format!("the GPU missed the deadline of block {at}; running on the CPU engine"),
            Miss::DeviceFault => format!(
                "the GPU failed at block {at} ({}); running on the CPU engine",
                fault.unwrap_or_else(|| "device error".into())
            ),
            Miss::QueueFull => format!("the GPU stopped taking blocks at block {at}; running on the CPU engine"),
        })
    }
}

/// The GPU side of an instance that joined a batch.
struct GpuLink {
    rings: Arc<Rings>,
    engine: Arc<SharedEngine>,
    id: u64,
    next_seq: u32,
    in_flight: bool,
    /// Blocks taken from the device so far (for the warm-up rule).
    taken: u32,
}

/// One NAM instance of a host (see the module docs for the latency contract). Create it with
/// [`SharedEngine::join`]; drop it off the audio thread (leaving the batch sends a message).
pub struct Instance {
    block: usize,
    filled: usize,
    /// The block being filled, plus its sequence number.
    input: Vec<f32>,
    /// The output played while `input` fills.
    playing: Vec<f32>,
    need_output: bool,
    last: f32,
    gpu: Option<GpuLink>,
    /// The link of an instance that left the GPU, kept so that the audio thread never frees it.
    parked: Option<GpuLink>,
    cpu: Model,
    cpu_out: Vec<f32>,
    cpu_ready: bool,
    fade_in: bool,
    cpu_reason: Option<String>,
    status: Arc<InstanceStatus>,
}

impl Instance {
    fn new(cpu: Model, block: usize, gpu: Option<GpuLink>, cpu_reason: Option<String>) -> Self {
        let status = Arc::new(InstanceStatus::default());
        status.on_gpu.store(gpu.is_some(), Ordering::Relaxed);
        Self {
            block,
            filled: 0,
            input: vec![0.0; block + 1],
            playing: vec![0.0; block],
            need_output: true,
            last: 0.0,
            gpu,
            parked: None,
            cpu,
            cpu_out: vec![0.0; block],
            cpu_ready: false,
            fade_in: false,
            cpu_reason,
            status,
        }
    }

    pub(super) fn on_cpu(cpu: Model, block: usize, why: Option<String>) -> Self {
        Self::new(cpu, block, None, why)
    }

    pub(super) fn on_gpu(cpu: Model, block: usize, rings: Arc<Rings>, engine: Arc<SharedEngine>, id: u64) -> Self {
        Self::new(cpu, block, Some(GpuLink { rings, engine, id, next_seq: 0, in_flight: false, taken: 0 }), None)
    }

    /// Frames of latency this instance adds (its block).
    pub fn latency(&self) -> usize {
        self.block
    }

    /// Counters and state readable from other threads.
    pub fn status(&self) -> Arc<InstanceStatus> {
        self.status.clone()
    }

    /// Tells the engine this instance will not be processed again (a plugin instance replaced
    /// by a new one and waiting to be dropped off the audio thread): cycles stop waiting for its
    /// blocks. Allocates nothing and never blocks. Processing it afterwards still works, but
    /// its blocks are no longer waited for: they can miss their deadline and fall back.
    pub fn retire(&mut self) {
        if let Some(link) = &self.gpu {
            link.rings.abandoned.store(true, Ordering::Release);
        }
    }

    /// Why this instance runs on the CPU engine, `None` while a GPU serves it.
    pub fn fallback(&self) -> Option<String> {
        let fault = self.parked.as_ref().and_then(|g| g.engine.status().fault());
        self.status.miss_reason(fault).or_else(|| self.cpu_reason.clone())
    }

    /// Processes `input` into `output` (same length, any length): `output` is the model's
    /// output `latency()` frames ago. Allocates nothing and locks nothing; waits for the
    /// device's block at most as `wait` allows.
    pub fn process(&mut self, input: &[f32], output: &mut [f32], wait: Wait) {
        let n = input.len().min(output.len());
        let b = self.block;
        let mut at = 0;
        while at < n {
            if self.need_output {
                self.next_output(wait);
                self.need_output = false;
            }
            let take = (b - self.filled).min(n - at);
            let k = self.filled;
            output[at..at + take].copy_from_slice(&self.playing[k..k + take]);
            self.input[k..k + take].copy_from_slice(&input[at..at + take]);
            self.filled += take;
            at += take;
            if self.filled == b {
                self.filled = 0;
                self.need_output = true;
                self.submit();
            }
        }
        output[n..].fill(0.0);
    }

    /// Hands the full input block to the GPU, or runs it on the CPU engine.
    fn submit(&mut self) {
        let b = self.block;
        if let Some(link) = &mut self.gpu {
            let seq = link.next_seq;
            let input = &self.input;
            if link.rings.to_device.push_with(|q| {
                q[..b].copy_from_slice(&input[..b]);
                q[b] = f32::from_bits(seq);
            }) {
                link.next_seq = seq.wrapping_add(1);
                link.in_flight = true;
                return;
            }
            self.leave_gpu(Miss::QueueFull);
        }
        self.cpu.process(&self.input[..b], &mut self.cpu_out);
        self.cpu_ready = true;
    }

    /// Fills `playing` with the output of the block submitted last.
    fn next_output(&mut self, wait: Wait) {
        let b = self.block;
        match &mut self.gpu {
            Some(link) if link.in_flight => match take(link, &mut self.playing, b, warm_up(link.taken, wait)) {
                Ok(()) => {
                    link.in_flight = false;
                    link.taken = link.taken.saturating_add(1);
                }
                Err(miss) => {
                    self.leave_gpu(miss);
                    // No step: from the last sample played down to silence over the block.
                    let last = self.last;
                    for (i, y) in self.playing.iter_mut().enumerate() {
                        *y = last * (1.0 - (i + 1) as f32 / b as f32);
                    }
                }
            },
            Some(_) => self.playing.fill(0.0),
            None if self.cpu_ready => {
                self.playing.copy_from_slice(&self.cpu_out);
                if std::mem::take(&mut self.fade_in) {
                    // From the last sample played (the GPU's, or 0 after a ramp) into the CPU
                    // engine's output: no step.
                    let last = self.last;
                    for (i, y) in self.playing.iter_mut().enumerate() {
                        let w = (i + 1) as f32 / b as f32;
                        *y = last * (1.0 - w) + *y * w;
                    }
                }
                self.cpu_ready = false;
            }
            None => self.playing.fill(0.0),
        }
        self.last = self.playing[b - 1];
        self.status.blocks.fetch_add(1, Ordering::Relaxed);
    }

    /// Leaves the GPU for good; the CPU engine (idle since it was prepared) takes over from the
    /// next block on, fading in.
    fn leave_gpu(&mut self, miss: Miss) {
        if let Some(link) = &self.gpu {
            link.rings.abandoned.store(true, Ordering::Release);
            self.status.missed_at.store(self.status.blocks(), Ordering::Relaxed);
            self.status.missed.store(miss as u8, Ordering::Release);
            self.status.on_gpu.store(false, Ordering::Relaxed);
        }
        if let Some(link) = self.gpu.take() {
            self.parked = Some(link);
        }
        self.fade_in = true;
        self.cpu_ready = false;
    }
}

/// `wait`, extended to [`WARMUP_WAIT`] from now during the first blocks.
fn warm_up(taken: u32, wait: Wait) -> Wait {
    match wait {
        Wait::Until(t) if taken < WARMUP_BLOCKS => Wait::Until(t.max(Instant::now() + WARMUP_WAIT)),
        w => w,
    }
}

/// Takes the block with the expected sequence number, dropping older ones, waiting as `wait`
/// allows.
fn take(link: &GpuLink, playing: &mut [f32], b: usize, wait: Wait) -> Result<(), Miss> {
    let expected = link.next_seq.wrapping_sub(1);
    let started = Instant::now();
    loop {
        let mut got = false;
        while !got
            && link.rings.from_device.pop_with(|q| {
                if q[b].to_bits() == expected {
                    playing.copy_from_slice(&q[..b]);
                    got = true;
                }
            })
        {}
        if got {
            return Ok(());
        }
        if link.engine.status().faulted.load(Ordering::Acquire) {
            return Err(Miss::DeviceFault);
        }
        let late = match wait {
            Wait::Until(deadline) => Instant::now() >= deadline,
            Wait::Offline => started.elapsed() >= OFFLINE_LIMIT,
        };
        if late {
            return Err(Miss::Deadline);
        }
        std::hint::spin_loop();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        for link in [self.gpu.take(), self.parked.take()].into_iter().flatten() {
            link.engine.leave(link.id);
        }
    }
}
