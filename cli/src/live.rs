//! `cubeaudio live`: a JACK client that plays a NAM model in real time.
//!
//! Ports `in` and `out` (mono), buffer size and rate from the server. The model runs as one
//! instance of the process's [`SharedEngine`] (a GPU when one opens, else the CPU engine), with
//! the engine's latency contract: one JACK buffer, reported on the output port. Xruns are
//! counted from the server's notifications; Ctrl-C (or `--seconds` of server time) stops the
//! client cleanly and prints a summary.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cubeaudio_kernels::device::Backend;
use cubeaudio_nam::live::{SharedEngine, Wait};
use cubeaudio_nam::{load_file, LoadOptions};

use crate::error::{CliError, Result};

/// What `live` runs.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// The .nam model.
    pub model: PathBuf,
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
    /// Why the instance ran on the CPU engine, if it did.
    pub fallback: Option<String>,
}

/// Counters shared with the callbacks.
#[derive(Default)]
struct Counters {
    cycles: AtomicU64,
    frames: AtomicU64,
    xruns: AtomicU64,
    max_callback_ns: AtomicU64,
    max_callback_cpu_ns: AtomicU64,
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

/// Runs the model as a JACK client until `stop` is set, the server shuts down or `--seconds`
/// of server time have passed; `tick` is called about once a second with the counters so far.
pub fn run_live(opts: &LiveOptions, stop: &AtomicBool, tick: &mut dyn FnMut(&LiveReport)) -> Result<LiveReport> {
    let loaded = load_file(&opts.model, LoadOptions { fast_tanh: true })?;
    if loaded.dsp.in_channels() != 1 || loaded.dsp.out_channels() != 1 {
        return Err(CliError::Request(format!("{}: live needs a mono-in/mono-out model", opts.model.display())));
    }
    let (client, _status) = jack::Client::new(&opts.name, jack::ClientOptions::NO_START_SERVER)
        .map_err(|e| CliError::Request(format!("cannot reach a JACK server ({e}); start one, e.g. `jackd -d alsa`")))?;
    let rate = client.sample_rate();
    let buffer = client.buffer_size() as usize;
    if let Some(model_rate) = loaded.sample_rate {
        if (model_rate - rate as f64).abs() > 0.5 {
            return Err(CliError::Request(format!(
                "{} is a {model_rate} Hz model; the JACK server runs at {rate} Hz (live does not resample: restart the server at the model's rate)",
                opts.model.display()
            )));
        }
    }
    let engine = match opts.backend {
        Backend::Auto => SharedEngine::global(),
        b => SharedEngine::start(b)?,
    };
    let mut instance = engine.join(loaded.dsp.as_ref(), buffer, rate as f64)?;
    let status = instance.status();
    let cpu_reason = instance.fallback();
    let input = client.register_port("in", jack::AudioIn::default()).map_err(jack_error)?;
    let mut output = client.register_port("out", jack::AudioOut::default()).map_err(jack_error)?;
    let latency = instance.latency() as u32;
    output.set_latency_range(jack::LatencyType::Playback, (latency, latency));
    let counters = Arc::new(Counters::default());
    let period = Duration::from_secs_f64(buffer as f64 / rate as f64);
    let budget = period.mul_f64(opts.wait_fraction.clamp(0.0, 1.0));
    let shared = counters.clone();
    let process = jack::contrib::ClosureProcessHandler::new(move |_: &jack::Client, ps: &jack::ProcessScope| {
        let (start, cpu_start) = (Instant::now(), thread_cpu_ns());
        let x = input.as_slice(ps);
        let y = output.as_mut_slice(ps);
        instance.process(x, y, Wait::Until(start + budget));
        shared.cycles.fetch_add(1, Ordering::Relaxed);
        let wall = start.elapsed().as_nanos() as u64;
        shared.max_callback_ns.fetch_max(wall, Ordering::Relaxed);
        let cpu = cpu_start.and_then(|c| Some(thread_cpu_ns()? - c)).unwrap_or(wall);
        shared.max_callback_cpu_ns.fetch_max(cpu, Ordering::Relaxed);
        shared.frames.fetch_add(x.len() as u64, Ordering::Relaxed);
        jack::Control::Continue
    });
    let active = client.activate_async(Notifications(counters.clone()), process).map_err(jack_error)?;
    let name = active.as_client().name().to_string();
    for (from, to) in
        [(opts.connect_in.clone(), Some(format!("{name}:in"))), (Some(format!("{name}:out")), opts.connect_out.clone())]
    {
        if let (Some(from), Some(to)) = (from, to) {
            active
                .as_client()
                .connect_ports_by_name(&from, &to)
                .map_err(|e| CliError::Request(format!("cannot connect {from} to {to}: {e}")))?;
        }
    }
    // Xruns of other clients' start-up are not ours: count from here on.
    let xruns0 = counters.xruns.load(Ordering::Relaxed);
    let report = |fallback: Option<String>| LiveReport {
        backend: engine.status().backend.clone(),
        buffer,
        rate,
        cycles: counters.cycles.load(Ordering::Relaxed),
        xruns: counters.xruns.load(Ordering::Relaxed) - xruns0,
        max_callback_us: counters.max_callback_ns.load(Ordering::Relaxed) as f64 / 1e3,
        max_callback_cpu_us: counters.max_callback_cpu_ns.load(Ordering::Relaxed) as f64 / 1e3,
        fallback,
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
            tick(&report(None));
        }
    }
    let server_gone = counters.shutdown.load(Ordering::Relaxed);
    let (_client, _notifications, process) = active.deactivate().map_err(jack_error)?;
    drop(process); // the instance leaves its batch here, off the audio thread
    if server_gone {
        return Err(CliError::Request("the JACK server shut down".into()));
    }
    let missed = status.missed().map(|(miss, at)| format!("{miss:?} at block {at}: the CPU engine took over"));
    let engine_reason = (!engine.on_gpu()).then(|| engine.status().cpu_reason.clone()).flatten();
    Ok(report(missed.or(cpu_reason).or(engine_reason)))
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
