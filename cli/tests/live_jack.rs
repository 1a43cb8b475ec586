//! `cubeaudio live` under a real JACK server (Debian's jackd2, dummy driver: headless, clocked
//! like a sound card): a model for 30 s of server time at 128 frames on the CPU engine, no
//! callback of the client's taking half a period (an xrun its callbacks did not cause — the
//! server's timer, a hypervisor — is reported loudly, not failed), its output — captured by a
//! second JACK client that also plays the input — equal to `cubeaudio render` of that input,
//! delayed by whole buffers; and a rig on a GPU runtime (lavapipe in CI) equal to `cubeaudio
//! graph` the same way.
//!
//! Without `jackd` on the PATH the test fails under `CI=true` (CI installs jackd2) and skips
//! loudly elsewhere.

mod binary;
#[path = "../../nam/tests/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cubeaudio_runtime::wav::{self, SampleFormat};

const RATE: usize = 48_000;

/// One server at a time: the probe finds its server through the process-wide environment.
static ONE_SERVER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A JACK server of our own (unique name), stopped on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM: jackd then frees its slot in JACK's shared-memory server registry; a killed
        // server keeps it, and after a few the registry refuses new servers ("Too many servers
        // already active").
        // SAFETY: a plain kill(2) on our child's pid.
        unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn jackd() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .map(|d| d.join("jackd"))
        .find(|p| p.is_file())
}

/// The probe client's audio side: plays `signal` (after `start`) and records what comes back.
struct Probe {
    src: jack::Port<jack::AudioOut>,
    cap: jack::Port<jack::AudioIn>,
    signal: Vec<f32>,
    sent: Vec<f32>,
    captured: Vec<f32>,
    at: Arc<AtomicUsize>,
    start: Arc<AtomicBool>,
}

impl jack::ProcessHandler for Probe {
    fn process(&mut self, _: &jack::Client, ps: &jack::ProcessScope) -> jack::Control {
        let y = self.src.as_mut_slice(ps);
        let x = self.cap.as_slice(ps);
        let at = self.at.load(Ordering::Relaxed);
        let n = y.len().min(self.sent.len().saturating_sub(at));
        let playing = self.start.load(Ordering::Acquire);
        for i in 0..n {
            let s = if playing { self.signal[at + i] } else { 0.0 };
            y[i] = s;
            self.sent[at + i] = s;
            self.captured[at + i] = x[i];
        }
        y[n..].fill(0.0);
        self.at.store(at + n, Ordering::Release);
        jack::Control::Continue
    }
}

/// CPU time stolen by the hypervisor so far (all CPUs, /proc/stat), milliseconds.
fn steal_ms() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let steal: u64 = stat.lines().next()?.split_whitespace().nth(8)?.parse().ok()?;
    Some(steal * 10) // USER_HZ = 100
}

fn touched(n: usize) -> Vec<f32> {
    let mut v = vec![1.0f32; n];
    v.iter_mut().for_each(|x| *x = std::hint::black_box(0.0));
    v
}

/// What a live run gave.
struct LiveRun {
    stderr: String,
    sent: Vec<f32>,
    captured: Vec<f32>,
    xruns: u64,
    /// CPU time the hypervisor took from this machine during the run.
    steal_ms: Option<u64>,
}

/// Starts a JACK server (dummy driver, `buffer` frames), runs `cubeaudio live ARGS --name live
/// --seconds SECONDS` against it, plays a signal into its `in` port and captures its `out`
/// port from a second client. `None` (after saying so) when jackd is missing outside CI.
fn run_live(live_args: &[&str], buffer: usize, seconds: usize) -> Option<LiveRun> {
    let Some(jackd) = jackd() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("jackd not found: CI must install jackd2");
        }
        eprintln!("SKIPPED: jackd not found (Debian: apt install jackd2); `cubeaudio live` was not tested");
        return None;
    };
    let _one = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let name = format!("cubeaudio-test-{}-{buffer}", std::process::id());
    std::env::set_var("JACK_DEFAULT_SERVER", &name);
    std::env::set_var("JACK_NO_AUDIO_RESERVATION", "1");
    let _server = Server(
        Command::new(&jackd)
            // Real-time scheduling, as a user's server runs: without it the dummy driver's own
            // timer wakes late on a loaded machine and reports xruns no client caused.
            .args(["-n", &name, "-R", "-P", "70", "-d", "dummy", "-r", &RATE.to_string(), "-p", &buffer.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("jackd starts"),
    );
    let started = Instant::now();
    let client = loop {
        match jack::Client::new("probe", jack::ClientOptions::NO_START_SERVER) {
            Ok((c, _)) => break c,
            Err(e) if started.elapsed() > Duration::from_secs(10) => panic!("jackd did not come up: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    assert_eq!(client.buffer_size() as usize, buffer);
    let live = Command::new(env!("CARGO_BIN_EXE_cubeaudio"))
        .arg("live")
        .args(live_args)
        .args(["--name", "live", "--seconds", &seconds.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let total = (seconds - 2) * RATE;
    let signal: Vec<f32> = (0..total)
        .map(|t| {
            let t = t as f32;
            0.5 * (t * 0.013).sin() * (0.6 + 0.4 * (t * 0.0003).sin()) + 0.1 * (t * 0.27).sin()
        })
        .collect();
    let (at, start) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
    let probe = Probe {
        src: client.register_port("src", jack::AudioOut::default()).unwrap(),
        cap: client.register_port("cap", jack::AudioIn::default()).unwrap(),
        signal,
        // Written before the callback runs: a first touch of a fresh page there is a page fault
        // on the real-time thread.
        sent: touched(total),
        captured: touched(total),
        at: at.clone(),
        start: start.clone(),
    };
    let steal0 = steal_ms();
    let active = client.activate_async((), probe).unwrap();
    // A rig compiles its graph before it registers its ports (lavapipe: tens of seconds).
    while active.as_client().port_by_name("live:out").is_none() {
        assert!(started.elapsed() < Duration::from_secs(300), "cubeaudio live did not register its ports");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The ports exist before the client is activated, and JACK refuses connections to an
    // inactive client: retry until it is active.
    for (from, to) in [("probe:src", "live:in"), ("live:out", "probe:cap")] {
        while let Err(e) = active.as_client().connect_ports_by_name(from, to) {
            assert!(started.elapsed() < Duration::from_secs(300), "connecting {from} to {to}: {e}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    // Connections take effect at a cycle boundary: play only once they surely have.
    std::thread::sleep(Duration::from_millis(200));
    start.store(true, Ordering::Release);
    let playing = Instant::now();
    while at.load(Ordering::Acquire) < total {
        assert!(playing.elapsed() < Duration::from_secs(seconds as u64 + 30), "the probe stalled");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, _, probe) = active.deactivate().unwrap();
    let out = live.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "live failed: {stdout}{stderr}");
    println!("{stdout}{stderr}");
    let steal_ms = steal_ms().zip(steal0).map(|(b, a)| b - a);
    let xruns: u64 = stdout
        .split("xruns: ")
        .nth(1)
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no xrun count in: {stdout}"));
    let cycles: u64 = stdout.split(" cycles").next().and_then(|s| s.rsplit(' ').next()?.parse().ok()).unwrap();
    assert!(cycles as usize >= (seconds - 2) * RATE / buffer, "{cycles} cycles for {seconds} s");
    let cpu_us: f64 = stdout
        .split(" µs of CPU")
        .next()
        .and_then(|s| s.rsplit('(').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no callback CPU time in: {stdout}"));
    // `cubeaudio live` reads its callback thread's scheduling policy.
    let realtime = stdout.contains("| audio thread real-time");
    assert!(realtime || stdout.contains("| audio thread not real-time"), "no audio-thread scheduling in: {stdout}");
    let period_us = buffer as f64 / RATE as f64 * 1e6;
    assert!(cpu_us < 0.5 * period_us, "a callback took {cpu_us} µs of CPU, over half the {period_us:.0} µs period");
    // The first progress report (about a second in) covers the client's start: the probe's
    // ports being connected to it, a graph change in which JACK may count an xrun before any
    // signal is played (CI, 2026-12-03: one xrun in the first 378 cycles, none in the 10,900
    // after, longest callback 202 µs). Steady state is what a player hears; xruns from there on
    // are attributed below.
    let at_start: u64 = stderr
        .lines()
        .find_map(|l| {
            l.rsplit(" cycles, ").next().filter(|_| l.contains(" cycles, "))?.strip_suffix(" xruns")?.parse().ok()
        })
        .unwrap_or(0);
    if at_start > 0 {
        println!("{at_start} xrun(s) in the first progress report (connecting the probe), not counted");
    }
    let wall_us: f64 = stdout
        .split("longest callback ")
        .nth(1)
        .and_then(|s| s.split(" µs").next()?.parse().ok())
        .unwrap_or_else(|| panic!("no longest callback in: {stdout}"));
    let scheduling = if realtime { "real-time" } else { "not real-time" };
    let steal = steal_ms.map_or("unknown".to_string(), |ms| format!("{ms} ms"));
    match xruns.saturating_sub(at_start) {
        0 => println!("0 xruns in {seconds} s after the start"),
        // A client makes the server late only by a callback that runs long (its work, or its
        // thread preempted mid-callback). None came within half a period of the deadline: the
        // xruns came from the server's own timer waking late (JackTimedDriver) or the OS
        // scheduling the server's threads — a hypervisor taking the VM's CPUs (steal time,
        // which not every hypervisor reports), or a server that could not make its threads
        // real-time (no CAP_SYS_NICE). CI, 2026-12-03: 3 xruns, callbacks ≤ 79 µs of 2,667,
        // no steal time reported.
        n if wall_us < 0.5 * period_us => eprintln!(
            "WARNING: {n} xruns after the start that this client's work did not cause: its longest callback took {wall_us} µs of the {period_us:.0} µs period ({cpu_us} µs of CPU); audio thread {scheduling}; hypervisor steal time during the run {steal}"
        ),
        // A long callback whose CPU time (checked above) was short: the thread was preempted.
        // With the hypervisor stealing CPU, or an audio thread that is not real-time, that is
        // the machine; a real-time thread on a machine that lost no CPU fails.
        n if steal_ms.is_some_and(|ms| ms > 0) || !realtime => eprintln!(
            "WARNING: {n} xruns; the longest callback took {wall_us} µs of wall time but {cpu_us} µs of CPU: preempted, with JACK's audio thread {scheduling} and hypervisor steal time {steal}"
        ),
        n => panic!(
            "{n} xruns after the start of {seconds} s at {buffer} frames, a callback of {wall_us} µs on a real-time thread, no steal time: {stdout}{stderr}"
        ),
    }
    Some(LiveRun { stderr: stderr.into_owned(), sent: probe.sent, captured: probe.captured, xruns, steal_ms })
}

/// The capture against the offline render of what was sent: the captured output is the
/// rendered one delayed by the instance's buffer plus however many cycles the JACK graph adds
/// between the two clients. An xrun (or a block the device returned late) can change that
/// for the rest of the run, so each block is also matched on its own at any whole-buffer shift.
/// With no xrun and no late block, the whole capture must match at one delay.
fn check_capture(run: &LiveRun, rendered: &[f32], buffer: usize, tolerance: f32, late_blocks: u64) {
    let peak = rendered.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1.0);
    let shifts = 0..=8;
    let blocks = run.sent.len() / buffer - 10;
    let block_error = |j: usize, shift: usize| {
        let t = j * buffer;
        (t..t + buffer).map(|t| (run.captured[t + shift] - rendered[t]).abs()).fold(0.0f32, f32::max) / peak
    };
    let whole = |shift: usize| (0..blocks).map(|j| block_error(j, shift)).fold(0.0f32, f32::max);
    let (shift, err) =
        shifts.clone().map(|k| (k * buffer, whole(k * buffer))).min_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
    // Blocks matched at each whole-buffer delay (a block of silence matches none).
    let mut at_delay = [0usize; 9];
    for j in 0..blocks {
        if let Some(k) = shifts.clone().find(|&k| block_error(j, k * buffer) <= tolerance) {
            at_delay[k] += 1;
        }
    }
    let matched: usize = at_delay.iter().sum();
    println!(
        "captured = render delayed by {shift} frames ({} buffers): error {err:.2e} over the run; {matched} of {blocks} blocks within {tolerance:.0e} at a whole-buffer delay (blocks per delay 0..8: {at_delay:?})",
        shift / buffer
    );
    if run.xruns == 0 && late_blocks == 0 {
        assert!(err <= tolerance, "no xrun, yet the capture is not the render at one delay (best: {shift}, {err:.2e})");
        assert!(shift >= buffer, "a delay of {shift} frames is below the instance's own buffer of latency");
    } else {
        assert!(
            matched * 10 >= blocks * 9,
            "{} xruns, {late_blocks} late blocks, and only {matched} of {blocks} blocks equal the render at a whole-buffer delay",
            run.xruns
        );
    }
    assert!(rendered.iter().any(|v| v.abs() > 0.01), "the render is silent: nothing was compared");
}

fn temp_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cubeaudio-live-{what}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn live_plays_30_seconds_at_128_frames_and_equals_render() {
    const BUFFER: usize = 128;
    let model = common::shared_nam().join("models/core_wavenet.nam");
    let Some(run) = run_live(&["--model", model.to_str().unwrap(), "--backend", "cpu"], BUFFER, 30) else { return };
    let _ = run.steal_ms;

    // What the probe sent, rendered by `cubeaudio render` at the same buffer size.
    let dir = temp_dir("model");
    let (input, output) = (dir.join("sent.wav"), dir.join("rendered.wav"));
    wav::write(&input, std::slice::from_ref(&run.sent), RATE as u32, SampleFormat::Float32).unwrap();
    binary::render(&model, &input, &output, &["--backend", "cpu", "--buffer", &BUFFER.to_string()]);
    let rendered = wav::read(&output).unwrap().channels.remove(0);
    std::fs::remove_dir_all(&dir).ok();
    check_capture(&run, &rendered, BUFFER, 1e-6, 0);
}

/// A rig of small processors on a GPU runtime (lavapipe here and in CI: a software GPU, so a
/// rig light enough for it; the amp-and-cab example runs at 0.2× real time there), through the
/// runtime's real-time bridge, against `cubeaudio graph` of the same input.
#[test]
fn live_plays_a_rig_on_a_gpu_runtime_and_equals_graph_render() {
    const BUFFER: usize = 256;
    let dir = temp_dir("rig");
    let rig = dir.join("pedals.json");
    std::fs::write(
        &rig,
        r#"{
  "inputs": [{ "name": "guitar", "channels": 1 }],
  "outputs": [{ "name": "out", "channels": 1 }],
  "processors": [
    { "id": "drive", "type": "gain", "params": { "gain_db": 6 } },
    { "id": "presence", "type": "eq", "settings": { "shape": "peak" }, "params": { "freq_hz": 3200, "q": 0.9, "gain_db": 2.5 } },
    { "id": "level", "type": "gain", "params": { "gain_db": -3 } }
  ],
  "connections": [
    { "from": "guitar", "to": "drive.in" },
    { "from": "drive.out", "to": "presence.in" },
    { "from": "presence.out", "to": "level.in" },
    { "from": "level.out", "to": "out" }
  ]
}"#,
    )
    .unwrap();
    let Some(run) = run_live(&["--rig", rig.to_str().unwrap(), "--backend", "wgpu"], BUFFER, 12) else { return };
    let late: u64 = run
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("live: ")?.split(" blocks of silence").next()?.parse().ok())
        .unwrap_or(0);
    let (input, output) = (dir.join("sent.wav"), dir.join("rendered.wav"));
    wav::write(&input, std::slice::from_ref(&run.sent), RATE as u32, SampleFormat::Float32).unwrap();
    let (code, out, err) = binary::cubeaudio(&[
        "graph",
        "--config",
        rig.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "--backend",
        "wgpu",
        "--buffer",
        &BUFFER.to_string(),
    ]);
    assert_eq!(code, 0, "cubeaudio graph failed: {out}{err}");
    let rendered = wav::read(&output).unwrap().channels.remove(0);
    std::fs::remove_dir_all(&dir).ok();
    println!("{late} blocks came back late from the device (silence played)");
    check_capture(&run, &rendered, BUFFER, 1e-6, late);
}
