//! The process-wide engine: one device thread, one GPU batch per block size, one launch per
//! host cycle for every instance in it.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use cubeaudio_kernels::device::{Backend, DeviceInfo, DeviceJob, Opened};
use cubeaudio_runtime::realtime::BlockRing;
use cubecl::prelude::*;

use super::instance::{Instance, Rings};
use crate::dsp::Dsp;
use crate::error::{NamError, Result};
use crate::gpu::GpuWaveNetBatch;

/// Blocks each queue holds: one being filled, one in flight, one spare for a late reader.
const QUEUE_BLOCKS: usize = 4;

/// What the engine tells its users (editors, status lines, tests). Counters only grow.
#[derive(Debug, Default)]
pub struct EngineStatus {
    /// The engine and device, e.g. `cuda on NVIDIA H200`, `cpu`.
    pub backend: String,
    /// Why no GPU runs the instances, when none does.
    pub cpu_reason: Option<String>,
    /// Instances whose blocks the device thread runs now.
    pub gpu_instances: AtomicUsize,
    /// Group cycles run (all instances of one block size, one cycle).
    pub cycles: AtomicU64,
    /// Kernel launches of those cycles: each cycle is one batch `process`, which is one launch.
    pub launches: AtomicU64,
    /// Cycles run before every instance had handed its block in (the missing ones got silence).
    pub stalled: AtomicU64,
    /// Device round trip of the last cycle (upload, launch, read-back), nanoseconds.
    pub last_cycle_ns: AtomicU64,
    /// Longest device round trip of a cycle so far, nanoseconds.
    pub max_cycle_ns: AtomicU64,
    /// Set when the device failed; instances then miss their blocks and fall back.
    pub faulted: AtomicBool,
    fault: Mutex<Option<String>>,
}

impl EngineStatus {
    /// The device error that stopped the engine, if any.
    pub fn fault(&self) -> Option<String> {
        self.fault.lock().ok().and_then(|f| f.clone())
    }

    fn set_fault(&self, why: String) {
        if let Ok(mut f) = self.fault.lock() {
            f.get_or_insert(why);
        }
        self.faulted.store(true, Ordering::Release);
    }
}

/// A request to the device thread (never sent from an audio thread).
enum Command {
    Join { slot: Slot, dsp: Box<dyn Dsp>, block: usize, reply: SyncSender<std::result::Result<(), String>> },
    Leave { id: u64 },
}

/// The device thread's end of one instance.
struct Slot {
    id: u64,
    rings: Arc<Rings>,
    /// How long the other instances' blocks wait for this one's before a cycle runs without it.
    stall_after: Duration,
}

static GLOBAL: OnceLock<Arc<SharedEngine>> = OnceLock::new();

/// Runs NAM instances of the whole process in shared launches (see the module docs).
pub struct SharedEngine {
    commands: Mutex<Option<Sender<Command>>>,
    status: Arc<EngineStatus>,
    gpu: bool,
    next_id: AtomicU64,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl SharedEngine {
    /// Opens `backend` (`auto`: CUDA, else a hardware wgpu adapter, else the CPU engine) and
    /// starts the device thread when a GPU was opened.
    pub fn start(backend: Backend) -> Result<Arc<Self>> {
        let (opened_tx, opened_rx) = sync_channel(1);
        let (tx, rx) = channel();
        let thread = std::thread::Builder::new()
            .name("cubeaudio-nam-device".into())
            .spawn(move || match backend.open(true) {
                Ok(Opened::Gpu(device)) => {
                    let status = Arc::new(EngineStatus { backend: device.info().to_string(), ..Default::default() });
                    let _ = opened_tx.send(Ok((status.clone(), true)));
                    device.run(DeviceLoop { commands: rx, status });
                }
                Ok(Opened::Cpu { fallback }) => {
                    let status = EngineStatus { backend: "cpu".into(), cpu_reason: fallback, ..Default::default() };
                    let _ = opened_tx.send(Ok((Arc::new(status), false)));
                }
                Err(e) => {
                    let _ = opened_tx.send(Err(e.to_string()));
                }
            })
            .map_err(|e| NamError::Request(format!("cannot start the device thread: {e}")))?;
        let opened = opened_rx.recv().map_err(|_| NamError::Request("the device thread ended while opening".into()))?;
        let (status, gpu) = opened.map_err(|e| NamError::Request(format!("backend {backend}: {e}")))?;
        Ok(Arc::new(Self {
            commands: Mutex::new(gpu.then_some(tx)),
            status,
            gpu,
            next_id: AtomicU64::new(1),
            thread: Mutex::new(Some(thread)),
        }))
    }

    /// The engine every instance of this process shares, started on first use with the backend
    /// `CUBEAUDIO_BACKEND` names (`auto` when unset). If that backend cannot open, the engine
    /// runs on the CPU and says why.
    pub fn global() -> Arc<Self> {
        GLOBAL
            .get_or_init(|| {
                let wanted = std::env::var("CUBEAUDIO_BACKEND").ok();
                let backend = wanted.as_deref().and_then(|b| b.parse().ok()).unwrap_or(Backend::Auto);
                Self::start(backend).unwrap_or_else(|e| {
                    Self::start(Backend::Cpu).map(|cpu| cpu.with_reason(e.to_string())).expect("the CPU engine opens")
                })
            })
            .clone()
    }

    /// The process-wide engine if something started it ([`Self::global`]); never starts one.
    pub fn global_if_started() -> Option<Arc<Self>> {
        GLOBAL.get().cloned()
    }

    fn with_reason(self: Arc<Self>, why: String) -> Arc<Self> {
        match Arc::try_unwrap(self) {
            Ok(mut engine) => {
                Arc::get_mut(&mut engine.status).expect("not shared yet").cpu_reason = Some(why);
                Arc::new(engine)
            }
            Err(shared) => shared,
        }
    }

    /// What runs the instances, and the counters of the device thread.
    pub fn status(&self) -> &Arc<EngineStatus> {
        &self.status
    }

    /// Whether a GPU runs (convolutional) instances.
    pub fn on_gpu(&self) -> bool {
        self.gpu
    }

    /// A new instance of `dsp` for host blocks of up to `block` frames at `sample_rate`. Call
    /// off the audio thread: it prepares the instance's CPU engine, and on a GPU adds a stream
    /// to the batch of this block size (compiling a new kernel shape if needed) and waits for
    /// it. Models the GPU batch does not run (LSTMs, unsupported options) get a CPU instance;
    /// [`Instance::fallback`] says why.
    pub fn join(self: &Arc<Self>, dsp: &dyn Dsp, block: usize, sample_rate: f64) -> Result<Instance> {
        let mut cpu = crate::Model::new(dsp.boxed_clone());
        cpu.reset_like_plugin(block)?;
        if !self.gpu {
            return Ok(Instance::on_cpu(cpu, block, None));
        }
        if dsp.receptive_field().is_none() {
            let why = "an LSTM runs on the CPU engine (a recurrence: one stream per cube on a GPU)";
            return Ok(Instance::on_cpu(cpu, block, Some(why.into())));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let rings = Arc::new(Rings {
            to_device: BlockRing::new(QUEUE_BLOCKS, block + 1),
            from_device: BlockRing::new(QUEUE_BLOCKS, block + 1),
            abandoned: AtomicBool::new(false),
        });
        let period = Duration::from_secs_f64(block as f64 / sample_rate.max(1.0));
        let slot = Slot { id, rings: rings.clone(), stall_after: period.mul_f64(0.75) };
        let (reply, answer) = sync_channel(1);
        let sent = self.commands.lock().ok().and_then(|c| {
            c.as_ref().map(|c| c.send(Command::Join { slot, dsp: dsp.boxed_clone(), block, reply }).is_ok())
        });
        let joined = match (sent, self.status.fault()) {
            (_, Some(fault)) => Err(format!("the GPU engine stopped: {fault}")),
            (Some(true), None) => answer.recv().unwrap_or_else(|_| Err("the device thread ended".into())),
            _ => Err("the device thread ended".into()),
        };
        Ok(match joined {
            Ok(()) => Instance::on_gpu(cpu, block, rings, self.clone(), id),
            Err(why) => Instance::on_cpu(cpu, block, Some(format!("on the CPU engine: {why}"))),
        })
    }

    /// Takes instance `id` out of its batch (from [`Instance`]'s drop).
    pub(super) fn leave(&self, id: u64) {
        if let Ok(c) = self.commands.lock() {
            if let Some(c) = c.as_ref() {
                let _ = c.send(Command::Leave { id });
            }
        }
    }
}

impl Drop for SharedEngine {
    fn drop(&mut self) {
        if let Ok(mut c) = self.commands.lock() {
            c.take();
        }
        if let Some(t) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
        }
    }
}

/// All instances of one block size: one GPU batch, one launch per cycle.
struct Group<R: Runtime> {
    block: usize,
    batch: GpuWaveNetBatch<R>,
    slots: Vec<Slot>,
    inputs: Vec<f32>,
    outputs: Vec<f32>,
    seqs: Vec<f32>,
    first_ready: Option<Instant>,
}

/// A block's sequence number stored in its last float; this one marks a block of silence run
/// for an instance that had not handed its block in (its reader drops it).
const NO_SEQUENCE: u32 = u32::MAX;

impl<R: Runtime> Group<R> {
    /// Runs one cycle when every instance has a block queued (or the oldest waited past its
    /// stall limit). Returns whether it ran.
    fn cycle(&mut self, status: &EngineStatus) -> Result<bool> {
        // Only the blocks of instances still playing start or complete a cycle: a block an
        // instance handed in just before it fell back or was retired must not run a cycle in
        // which the others' blocks are missing (their streams would get a block of silence).
        let playing = |s: &&Slot| !s.rings.abandoned.load(Ordering::Acquire);
        let live = self.slots.iter().filter(playing).count();
        let ready = self.slots.iter().filter(playing).filter(|s| !s.rings.to_device.is_empty()).count();
        if ready == 0 {
            return Ok(false);
        }
        if ready < live {
            let since = *self.first_ready.get_or_insert_with(Instant::now);
            let stall = self.slots.iter().map(|s| s.stall_after).max().unwrap_or_default();
            if since.elapsed() < stall {
                return Ok(false);
            }
            status.stalled.fetch_add(1, Ordering::Relaxed);
        }
        self.first_ready = None;
        let b = self.block;
        for (i, slot) in self.slots.iter().enumerate() {
            let (input, seq) = (&mut self.inputs[i * b..(i + 1) * b], &mut self.seqs[i]);
            if !slot.rings.to_device.pop_with(|q| {
                input.copy_from_slice(&q[..b]);
                *seq = q[b];
            }) {
                input.fill(0.0);
                *seq = f32::from_bits(NO_SEQUENCE);
            }
        }
        let start = Instant::now();
        {
            let ins: Vec<&[f32]> = self.inputs.chunks(b).collect();
            let mut outs: Vec<&mut [f32]> = self.outputs.chunks_mut(b).collect();
            self.batch.process(&ins, &mut outs)?;
        }
        let ns = start.elapsed().as_nanos() as u64;
        status.last_cycle_ns.store(ns, Ordering::Relaxed);
        status.max_cycle_ns.fetch_max(ns, Ordering::Relaxed);
        status.launches.fetch_add(1, Ordering::Relaxed);
        status.cycles.fetch_add(1, Ordering::Relaxed);
        for (i, slot) in self.slots.iter().enumerate() {
            let (output, seq) = (&self.outputs[i * b..(i + 1) * b], self.seqs[i]);
            // A full queue means the instance stopped reading (it fell back): drop the block.
            slot.rings.from_device.push_with(|q| {
                q[..b].copy_from_slice(output);
                q[b] = seq;
            });
        }
        Ok(true)
    }

    fn resize(&mut self) {
        let n = self.slots.len() * self.block;
        self.inputs.resize(n, 0.0);
        self.outputs.resize(n, 0.0);
        self.seqs.resize(self.slots.len(), 0.0);
    }
}

/// The device thread's body, generic over the runtime that was opened.
struct DeviceLoop {
    commands: Receiver<Command>,
    status: Arc<EngineStatus>,
}

impl DeviceJob for DeviceLoop {
    type Output = ();

    fn run<R: Runtime>(self, client: &ComputeClient<R>, _info: &DeviceInfo) {
        let Self { commands, status } = self;
        let mut groups: Vec<Group<R>> = Vec::new();
        let mut idle_since = Instant::now();
        loop {
            loop {
                match commands.try_recv() {
                    Ok(Command::Join { slot, dsp, block, reply }) => {
                        let joined = join(client, &mut groups, slot, dsp.as_ref(), block);
                        let _ = reply.send(joined.map_err(|e| e.to_string()));
                    }
                    Ok(Command::Leave { id }) => leave(&mut groups, id),
                    Err(std::sync::mpsc::TryRecvError::Empty) => break,
                    // The engine was dropped: nobody can join or read any more.
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => return,
                }
            }
            // Instances that fell back stay in their batch as silent streams until they leave
            // (dropped, off the audio path): removing a stream rebuilds the batch, and doing it
            // while the others run would make them late too.
            groups.retain(|g| !g.slots.is_empty());
            let live = |s: &Slot| !s.rings.abandoned.load(Ordering::Acquire);
            status
                .gpu_instances
                .store(groups.iter().map(|g| g.slots.iter().filter(|s| live(s)).count()).sum(), Ordering::Relaxed);
            let mut ran = false;
            for g in &mut groups {
                match g.cycle(&status) {
                    Ok(r) => ran |= r,
                    Err(e) => {
                        // Instances see no more blocks and fall back to their CPU engines.
                        status.set_fault(e.to_string());
                        groups.clear();
                        status.gpu_instances.store(0, Ordering::Relaxed);
                        break;
                    }
                }
            }
            if ran {
                idle_since = Instant::now();
            } else if idle_since.elapsed() < Duration::from_micros(500) {
                // Blocks of a cycle come in within microseconds of each other while a host
                // is running: spin briefly, then sleep so an idle host costs no core.
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
    }
}

fn join<R: Runtime>(
    client: &ComputeClient<R>,
    groups: &mut Vec<Group<R>>,
    slot: Slot,
    dsp: &dyn Dsp,
    block: usize,
) -> Result<()> {
    match groups.iter_mut().find(|g| g.block == block) {
        Some(g) => {
            g.batch.add_stream(dsp)?;
            g.slots.push(slot);
            g.resize();
        }
        None => {
            let batch = GpuWaveNetBatch::new(client, &[dsp], block)?;
            let mut g = Group {
                block,
                batch,
                slots: vec![slot],
                inputs: Vec::new(),
                outputs: Vec::new(),
                seqs: Vec::new(),
                first_ready: None,
            };
            g.resize();
            groups.push(g);
        }
    }
    Ok(())
}

fn leave<R: Runtime>(groups: &mut [Group<R>], id: u64) {
    for g in groups {
        leave_group(g, id);
    }
}

fn leave_group<R: Runtime>(g: &mut Group<R>, id: u64) {
    let Some(at) = g.slots.iter().position(|s| s.id == id) else { return };
    if g.slots.len() == 1 {
        // A batch keeps one stream; the group goes when its last instance leaves.
        g.slots.clear();
        return;
    }
    if g.batch.remove_stream(at).is_ok() {
        g.slots.remove(at);
        g.resize();
    }
}
