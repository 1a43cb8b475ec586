//! `cubeaudio live`: a JACK client that plays a NAM model or a rig in real time.
//!
//! Buffer size and rate from the server. A model: ports `in` and `out`, one instance of the
//! process's [`SharedEngine`] (a GPU when one opens, else the CPU engine) with the engine's
//! latency contract. A rig: ports per graph channel (`in_1`…, `out_1`…; `in`/`out` when mono),
//! the compiled graph on a GPU behind the runtime's real-time bridge. Either way one JACK buffer
//! of latency, reported on the output ports. Xruns are
//! counted from the server's notifications; Ctrl-C (or `--seconds` of server time) stops the
//! client cleanly and prints a summary.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cubeaudio_kernels::device::{Backend, DeviceInfo, DeviceJob};
use cubeaudio_nam::gpu::processor::registry;
use cubeaudio_nam::live::{SharedEngine, Wait};
use cubeaudio_nam::{load_file, LoadOptions};
use cubeaudio_runtime::graph::{CompiledGraph, GraphOptions, GraphSpec};
use cubeaudio_runtime::realtime::realtime_bridge;
use cubeaudio_runtime::Engine;
use cubecl::prelude::*;

use crate::error::{CliError, Result};

/// What `live` plays.
#[derive(Debug, Clone)]
pub enum Source {
    /// One NAM model, mono in and out.
    Model(PathBuf),
    /// A rig file (a processing graph, docs/GRAPHS.md): ports per graph channel, run on a GPU.
    Rig(PathBuf),
}

/// What `live` runs.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// The model or rig.
    pub source: Source,
    /// Engine choice (`auto`: CUDA, else a hardware wgpu adapter, else the CPU engine).
    pub backend: Backend,
    /// JACK client name.
    pub name: String,
    /// Stop after this much server time (frames processed / rate); `None`: until Ctrl-C.
    pub seconds: Option<f64>,
    /// Ports to connect ours to at start (`in` from, `out` to), if any.
    pub connect_in: Option<String>,
    /// See `connect_in`.
    pub connect_out: Option<String>,
    /// Fraction of a JACK period the callback may wait for the device's block before the
    /// instance falls back to the CPU engine.
    pub wait_fraction: f64,
}

/// What a live session did.
#[derive(Debug, Clone)]
pub struct LiveReport {
    /// Engine and device.
    pub backend: String,
    /// JACK's buffer size and rate.
    pub buffer: usize,
    /// See `buffer`.
    pub rate: u32,
    /// Process callbacks run.
    pub cycles: u64,
    /// Xruns the server reported while we were active.
    pub xruns: u64,
    /// Longest process callback, microseconds of wall time (the server's period is
    /// `buffer / rate`); includes time the thread was preempted.
    pub max_callback_us: f64,
    /// Longest process callback in CPU time of its thread, microseconds: what our work cost,
    /// without preemption (Linux; equal to the wall time elsewhere).
    pub max_callback_cpu_us: f64,
    /// Blocks a rig's device thread did not return in time (silence played).
    pub underruns: u64,
    /// Why the instance ran on the CPU engine (a model), or why silence played (a rig).
    pub fallback: Option<String>,
    /// How the OS scheduled JACK's audio thread, seen from its first callback.
    pub scheduling: Scheduling,
}

/// The audio thread's scheduling: a JACK server started without real-time priority (or not
/// allowed it: `jackd -R` needs CAP_SYS_NICE or an rtprio limit for its user) runs its clients'
/// callbacks as ordinary threads, which the OS may preempt past the period on a loaded machine
/// — xruns that no client's work caused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduling {
    /// No callback ran yet (or the platform does not say).
    Unknown,
    /// An ordinary time-shared thread.
    TimeShared,
    /// SCHED_FIFO or SCHED_RR at this priority.
    RealTime(i32),
}

impl std::fmt::Display for Scheduling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scheduling::Unknown => write!(f, "scheduling unknown"),
            Scheduling::TimeShared => write!(f, "not real-time"),
            Scheduling::RealTime(p) => write!(f, "real-time, priority {p}"),
        }
    }
}

/// Codes of the atomic beside real-time priorities, which Linux keeps in 1..=99: 0 is also the
/// counters' default, before the first callback.
const SCHEDULING_UNKNOWN: i32 = 0;
const SCHEDULING_TIME_SHARED: i32 = -1;

impl Scheduling {
    fn from_code(code: i32) -> Self {
        match code {
            SCHEDULING_UNKNOWN => Scheduling::Unknown,
            SCHEDULING_TIME_SHARED => Scheduling::TimeShared,
            p => Scheduling::RealTime(p),
        }
    }
}

/// The calling thread's scheduling, coded for an atomic: its real-time priority, or
/// `SCHEDULING_TIME_SHARED`. Two system calls, no allocation.
#[cfg(target_os = "linux")]
fn this_thread_scheduling() -> i32 {
    let mut param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 is the calling thread; `param` is owned here.
    let (policy, got_param) = unsafe { (libc::sched_getscheduler(0), libc::sched_getparam(0, &mut param) == 0) };
    // A thread may carry SCHED_RESET_ON_FORK beside its policy.
    match policy & !libc::SCHED_RESET_ON_FORK {
        libc::SCHED_FIFO | libc::SCHED_RR if got_param => param.sched_priority,
        p if p >= 0 => SCHEDULING_TIME_SHARED,
        _ => SCHEDULING_UNKNOWN,
    }
}

#[cfg(not(target_os = "linux"))]
fn this_thread_scheduling() -> i32 {
    SCHEDULING_UNKNOWN
}

/// Counters shared with the callbacks.
#[derive(Default)]
struct Counters {
    cycles: AtomicU64,
    frames: AtomicU64,
    xruns: AtomicU64,
    max_callback_ns: AtomicU64,
    max_callback_cpu_ns: AtomicU64,
    /// `Scheduling` coded (see `from_code`); written by the first callback.
    scheduling: AtomicI32,
    shutdown: AtomicBool,
}

struct Notifications(Arc<Counters>);

impl jack::NotificationHandler for Notifications {
    fn xrun(&mut self, _: &jack::Client) -> jack::Control {
        self.0.xruns.fetch_add(1, Ordering::Relaxed);
        jack::Control::Continue
    }

    unsafe fn shutdown(&mut self, _: jack::ClientStatus, _: &str) {
        self.0.shutdown.store(true, Ordering::Relaxed);
    }
}

/// The audio side of what plays: called from the JACK callback, allocation-free.
trait Player: Send + 'static {
    fn process(&mut self, ins: &[&[f32]], outs: &mut [&mut [f32]], deadline: Instant);
}

impl Player for cubeaudio_nam::live::Instance {
    fn process(&mut self, ins: &[&[f32]], outs: &mut [&mut [f32]], deadline: Instant) {
        cubeaudio_nam::live::Instance::process(self, ins[0], outs[0], Wait::Until(deadline));
    }
}

/// A rig's audio side: blocks through the runtime's bridge to a device thread running the graph
/// (one buffer of latency; a late block plays silence and counts an underrun).
struct RigPlayer(cubeaudio_runtime::realtime::AudioSide);

impl Player for RigPlayer {
    fn process(&mut self, ins: &[&[f32]], outs: &mut [&mut [f32]], _deadline: Instant) {
        if self.0.process(ins, outs).is_err() {
            // A buffer size other than the server's at start: silence rather than a panic.
            outs.iter_mut().for_each(|y| y.fill(0.0));
        }
    }
}

/// Channels a live rig may have on each side (the callback's port arrays are fixed-size).
pub const MAX_RIG_CHANNELS: usize = 8;

/// Runs the model or rig as a JACK client until `stop` is set, the server shuts down or
/// `--seconds` of server time have passed; `tick` is called about once a second with the
/// counters so far.
pub fn run_live(opts: &LiveOptions, stop: &AtomicBool, tick: &mut dyn FnMut(&LiveReport)) -> Result<LiveReport> {
    let (client, _status) = jack::Client::new(&opts.name, jack::ClientOptions::NO_START_SERVER)
        .map_err(|e| CliError::Request(format!("cannot reach a JACK server ({e}); start one, e.g. `jackd -d alsa`")))?;
    let rate = client.sample_rate();
    let buffer = client.buffer_size() as usize;
    match &opts.source {
        Source::Model(model) => {
            let loaded = load_file(model, LoadOptions { fast_tanh: true })?;
            if loaded.dsp.in_channels() != 1 || loaded.dsp.out_channels() != 1 {
                return Err(CliError::Request(format!("{}: live needs a mono-in/mono-out model", model.display())));
            }
            if let Some(model_rate) = loaded.sample_rate {
                if (model_rate - rate as f64).abs() > 0.5 {
                    return Err(CliError::Request(format!(
                        "{} is a {model_rate} Hz model; the JACK server runs at {rate} Hz (live does not resample: restart the server at the model's rate)",
                        model.display()
                    )));
                }
            }
            let engine = match opts.backend {
                Backend::Auto => SharedEngine::global(),
                b => SharedEngine::start(b)?,
            };
            let instance = engine.join(loaded.dsp.as_ref(), buffer, rate as f64)?;
            let status = instance.status();
            let cpu_reason = instance.fallback();
            let backend = engine.status().backend.clone();
            let mut report = play(client, instance, (1, 1), opts, stop, &backend, tick)?;
            let missed = status.missed().map(|(miss, at)| format!("{miss:?} at block {at}: the CPU engine took over"));
            let engine_reason = (!engine.on_gpu()).then(|| engine.status().cpu_reason.clone()).flatten();
            report.fallback = missed.or(cpu_reason).or(engine_reason);
            Ok(report)
        }
        Source::Rig(rig) => {
            let (spec, base_dir) = crate::graph::read_rig(rig)?;
            let (ins, outs): (usize, usize) =
                (spec.inputs.iter().map(|p| p.channels).sum(), spec.outputs.iter().map(|p| p.channels).sum());
            if ins == 0 || outs == 0 || ins > MAX_RIG_CHANNELS || outs > MAX_RIG_CHANNELS {
                return Err(CliError::Request(format!(
                    "{}: live plays rigs of 1..={MAX_RIG_CHANNELS} input and output channels ({ins} in, {outs} out)",
                    rig.display()
                )));
            }
            let options = GraphOptions::new(rate as f64, buffer, base_dir);
            let (audio, device_side) = realtime_bridge(ins, outs, buffer, 1);
            let served = Arc::new(AtomicBool::new(false));
            let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
            let backend = opts.backend;
            let (rig_path, done) = (rig.clone(), served.clone());
            let device_thread = std::thread::spawn(move || -> Result<()> {
                let device = backend.open_gpu()?;
                device.run(RigLoop { rig: rig_path, spec, options, side: device_side, ready: ready_tx, done })
            });
            let backend_line = match ready_rx.recv() {
                Ok(line) => line,
                Err(_) => {
                    return Err(device_thread
                        .join()
                        .map_err(|_| CliError::Request("the rig's device thread panicked".into()))?
                        .err()
                        .unwrap_or_else(|| CliError::Request("the rig's device thread ended".into())));
                }
            };
            let stats = audio.stats_handle();
            let result = play(client, RigPlayer(audio), (ins, outs), opts, stop, &backend_line, tick);
            served.store(true, Ordering::Release);
            device_thread.join().map_err(|_| CliError::Request("the rig's device thread panicked".into()))??;
            let mut report = result?;
            let underruns = stats.underruns.load(Ordering::Relaxed);
            if underruns > 0 {
                report.fallback = Some(format!(
                    "{underruns} blocks of silence: the device did not return them in time ({} came later and were dropped, keeping the latency fixed)",
                    stats.late.load(Ordering::Relaxed)
                ));
            }
            report.underruns = underruns;
            Ok(report)
        }
    }
}

/// The rig's device thread: compiles the graph, then serves blocks until `done`.
struct RigLoop {
    rig: PathBuf,
    spec: GraphSpec,
    options: GraphOptions,
    side: cubeaudio_runtime::realtime::DeviceSide,
    ready: std::sync::mpsc::SyncSender<String>,
    done: Arc<AtomicBool>,
}

impl DeviceJob for RigLoop {
    type Output = Result<()>;

    fn run<R: Runtime>(self, client: &ComputeClient<R>, info: &DeviceInfo) -> Result<()> {
        let Self { rig, spec, options, mut side, ready, done } = self;
        let engine = Engine::new(client.clone(), info.clone());
        let mut graph = CompiledGraph::compile(&engine, &registry::<R>(), &spec, &options)
            .map_err(|error| CliError::Graph { path: rig, error: Box::new(error) })?;
        let _ = ready.send(engine.info().to_string());
        while !done.load(Ordering::Acquire) {
            if !side.serve(|i, o| graph.process(&engine, i, o).map(|_| ()))? {
                std::thread::sleep(Duration::from_micros(20));
            }
        }
        Ok(())
    }
}

/// The JACK side: ports, the callback around `player`, connections, counters, until stopped.
fn play<P: Player>(
    client: jack::Client,
    mut player: P,
    (ins, outs): (usize, usize),
    opts: &LiveOptions,
    stop: &AtomicBool,
    backend: &str,
    tick: &mut dyn FnMut(&LiveReport),
) -> Result<LiveReport> {
    let rate = client.sample_rate();
    let buffer = client.buffer_size() as usize;
    let name = |kind: &str, i: usize, n: usize| if n == 1 { kind.to_string() } else { format!("{kind}_{}", i + 1) };
    let inputs: Vec<jack::Port<jack::AudioIn>> = (0..ins)
        .map(|i| client.register_port(&name("in", i, ins), jack::AudioIn::default()))
        .collect::<std::result::Result<_, _>>()
        .map_err(jack_error)?;
    let mut outputs: Vec<jack::Port<jack::AudioOut>> = (0..outs)
        .map(|i| client.register_port(&name("out", i, outs), jack::AudioOut::default()))
        .collect::<std::result::Result<_, _>>()
        .map_err(jack_error)?;
    for o in &mut outputs {
        o.set_latency_range(jack::LatencyType::Playback, (buffer as u32, buffer as u32));
    }
    let counters = Arc::new(Counters::default());
    let period = Duration::from_secs_f64(buffer as f64 / rate as f64);
    let budget = period.mul_f64(opts.wait_fraction.clamp(0.0, 1.0));
    let shared = counters.clone();
    let process = jack::contrib::ClosureProcessHandler::new(move |_: &jack::Client, ps: &jack::ProcessScope| {
        let (start, cpu_start) = (Instant::now(), thread_cpu_ns());
        if shared.cycles.load(Ordering::Relaxed) == 0 {
            shared.scheduling.store(this_thread_scheduling(), Ordering::Relaxed);
        }
        let mut xs: [&[f32]; MAX_RIG_CHANNELS] = [&[]; MAX_RIG_CHANNELS];
        let mut ys: [&mut [f32]; MAX_RIG_CHANNELS] = Default::default();
        for (x, p) in xs.iter_mut().zip(&inputs) {
            *x = p.as_slice(ps);
        }
        for (y, p) in ys.iter_mut().zip(outputs.iter_mut()) {
            *y = p.as_mut_slice(ps);
        }
        let frames = xs[0].len();
        player.process(&xs[..ins], &mut ys[..outs], start + budget);
        shared.cycles.fetch_add(1, Ordering::Relaxed);
        shared.frames.fetch_add(frames as u64, Ordering::Relaxed);
        let wall = start.elapsed().as_nanos() as u64;
        shared.max_callback_ns.fetch_max(wall, Ordering::Relaxed);
        let cpu = cpu_start.and_then(|c| Some(thread_cpu_ns()? - c)).unwrap_or(wall);
        shared.max_callback_cpu_ns.fetch_max(cpu, Ordering::Relaxed);
        jack::Control::Continue
    });
    let active = client.activate_async(Notifications(counters.clone()), process).map_err(jack_error)?;
    let me = active.as_client().name().to_string();
    for (from, to) in [
        (opts.connect_in.clone(), Some(format!("{me}:{}", name("in", 0, ins)))),
        (Some(format!("{me}:{}", name("out", 0, outs))), opts.connect_out.clone()),
    ] {
        if let (Some(from), Some(to)) = (from, to) {
            active
                .as_client()
                .connect_ports_by_name(&from, &to)
                .map_err(|e| CliError::Request(format!("cannot connect {from} to {to}: {e}")))?;
        }
    }
    // Xruns of other clients' start-up are not ours: count from here on.
    let xruns0 = counters.xruns.load(Ordering::Relaxed);
    let report = || LiveReport {
        backend: backend.to_string(),
        buffer,
        rate,
        cycles: counters.cycles.load(Ordering::Relaxed),
        xruns: counters.xruns.load(Ordering::Relaxed) - xruns0,
        max_callback_us: counters.max_callback_ns.load(Ordering::Relaxed) as f64 / 1e3,
        max_callback_cpu_us: counters.max_callback_cpu_ns.load(Ordering::Relaxed) as f64 / 1e3,
        underruns: 0,
        fallback: None,
        scheduling: Scheduling::from_code(counters.scheduling.load(Ordering::Relaxed)),
    };
    let limit = opts.seconds.map(|s| (s * rate as f64).ceil() as u64);
    let mut last_tick = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let done = limit.is_some_and(|l| counters.frames.load(Ordering::Relaxed) >= l);
        if done || stop.load(Ordering::Relaxed) || counters.shutdown.load(Ordering::Relaxed) {
            break;
        }
        if last_tick.elapsed() >= Duration::from_secs(1) {
            last_tick = Instant::now();
            tick(&report());
        }
    }
    let server_gone = counters.shutdown.load(Ordering::Relaxed);
    let (_client, _notifications, process) = active.deactivate().map_err(jack_error)?;
    drop(process); // a model's instance leaves its batch here, off the audio thread
    if server_gone {
        return Err(CliError::Request("the JACK server shut down".into()));
    }
    Ok(report())
}

/// CPU time of the calling thread, nanoseconds.
#[cfg(target_os = "linux")]
fn thread_cpu_ns() -> Option<u64> {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: writes one timespec owned here.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) } == 0;
    ok.then(|| t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64)
}

#[cfg(not(target_os = "linux"))]
fn thread_cpu_ns() -> Option<u64> {
    None
}

fn jack_error(e: jack::Error) -> CliError {
    CliError::Request(format!("JACK: {e}"))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// An ordinary thread reads as time-shared; one raised to SCHED_FIFO (where this process may:
    /// CAP_SYS_NICE or an rtprio limit) as real-time at its priority, SCHED_RESET_ON_FORK or not.
    #[test]
    fn reads_the_calling_threads_scheduling() {
        std::thread::spawn(|| {
            assert_eq!(Scheduling::from_code(this_thread_scheduling()), Scheduling::TimeShared);
            for flags in [0, libc::SCHED_RESET_ON_FORK] {
                let param = libc::sched_param { sched_priority: 7 };
                // SAFETY: this (spawned) thread's own policy; `param` is owned here.
                if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO | flags, &param) } != 0 {
                    eprintln!(
                        "SKIPPED: this process may not make a thread real-time; the real-time case was not checked"
                    );
                    return;
                }
                assert_eq!(Scheduling::from_code(this_thread_scheduling()), Scheduling::RealTime(7));
                assert_eq!(Scheduling::RealTime(7).to_string(), "real-time, priority 7");
            }
        })
        .join()
        .unwrap();
    }
}
