//! `cubeaudio-clap-host`: loads the cubeaudio CLAP bundle as a DAW does (a shared library,
//! through its CLAP entry), restores N instances from a project-like state naming a model, runs
//! them for many host cycles on one audio thread, and checks:
//! - every instance's output equals `cubeaudio render` of its input (CPU engine), delayed by
//!   the latency the plugin reports (exactly on the CPU engine, within the references'
//!   tolerance on a GPU);
//! - one launch per cycle for all instances (the engine's counters, read through the bundle's
//!   exported symbols) when a GPU runs them;
//! - state saved from an instance restores the model in a new one.
//!
//! With `--realtime`, cycles are paced at the buffer's duration and their times reported
//! (p50/p99/max of the host's whole cycle: every instance's process call). With `--editor`
//! (needs an X display, e.g. Xvfb), instance 0's editor is open in a host window while the
//! cycles run; its pixels are checked (and with `--screenshot`, saved as PNG).

mod editor;
mod png;

use std::ffi::CStr;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use clack_extensions::gui::{GuiSize, HostGui, HostGuiImpl, PluginGui};
use clack_extensions::latency::PluginLatency;
use clack_extensions::params::{ParamInfoBuffer, PluginParams};
use clack_extensions::render::{PluginRender, RenderMode};
use clack_extensions::state::PluginState;
use clack_host::events::event_types::ParamValueEvent;
use clack_host::prelude::*;
use clap::Parser;
use cubeaudio_runtime::wav;

const PLUGIN_ID: &CStr = c"org.cubeaudio.nam";

#[derive(Parser)]
#[command(about = "Run the cubeaudio CLAP plugin as a DAW would and check it against cubeaudio render")]
struct Args {
    /// The plugin bundle (.clap file, or the built libcubeaudio_plugin.so).
    #[arg(long)]
    bundle: PathBuf,
    /// The .nam model every instance loads (through the plugin's state, as a project does).
    #[arg(long)]
    model: PathBuf,
    /// Instances, all on one audio thread as a DAW's tracks.
    #[arg(long, default_value_t = 8)]
    instances: usize,
    /// Host cycles.
    #[arg(long, default_value_t = 2_000)]
    cycles: usize,
    /// Host buffer size (frames).
    #[arg(long, default_value_t = 128)]
    buffer: usize,
    /// Sample rate.
    #[arg(long, default_value_t = 48_000.0)]
    rate: f64,
    /// Real-time mode: cycles paced at the buffer's duration, times reported. Without it the
    /// host declares offline rendering (CLAP render extension) and runs cycles back to back.
    #[arg(long)]
    realtime: bool,
    /// Instances whose outputs are compared with `cubeaudio render` (the first ones; 0: none).
    #[arg(long, default_value_t = 8)]
    compare: usize,
    /// Write the figures as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Open instance 0's editor (CLAP GUI extension, embedded X11) while the cycles run.
    #[arg(long)]
    editor: bool,
    /// Save the open editor as a PNG here (implies --editor).
    #[arg(long)]
    screenshot: Option<PathBuf>,
    /// At this cycle, move instance 0's `slim` parameter (as host automation does): the plugin
    /// reloads its model in the background and crossfades to it; the output must stay equal to
    /// render throughout (the model is the same, so any step or cold start shows).
    #[arg(long)]
    reload_at: Option<usize>,
}

#[derive(Default)]
struct Shared {
    state: OnceLock<Option<PluginState>>,
    render: OnceLock<Option<PluginRender>>,
    latency: OnceLock<Option<PluginLatency>>,
    gui: OnceLock<Option<PluginGui>>,
    params: OnceLock<Option<PluginParams>>,
}

impl<'a> SharedHandler<'a> for Shared {
    fn initializing(&self, instance: InitializingPluginHandle<'a>) {
        let _ = self.state.set(instance.get_extension());
        let _ = self.render.set(instance.get_extension());
        let _ = self.latency.set(instance.get_extension());
        let _ = self.gui.set(instance.get_extension());
        let _ = self.params.set(instance.get_extension());
    }
    fn request_restart(&self) {}
    fn request_process(&self) {}
    fn request_callback(&self) {}
}

/// The host side of the GUI extension: the editor is embedded in a window of fixed size, so
/// resize requests are refused (nice-plug needs the extension present to create its editor).
impl HostGuiImpl for Shared {
    fn resize_hints_changed(&self) {}
    fn request_resize(&self, _: GuiSize) -> Result<(), HostError> {
        Err(HostError::Message("this host's editor window has a fixed size"))
    }
    fn request_show(&self) -> Result<(), HostError> {
        Ok(())
    }
    fn request_hide(&self) -> Result<(), HostError> {
        Ok(())
    }
    fn closed(&self, _was_destroyed: bool) {}
}

struct Host;

impl HostHandlers for Host {
    type Shared<'a> = Shared;
    type MainThread<'a> = ();
    type AudioProcessor<'a> = ();

    fn declare_extensions(builder: &mut HostExtensions<Self>, _shared: &Self::Shared<'_>) {
        builder.register::<HostGui>();
    }
}

/// The engine counters the bundle exports (see plugin/src/ffi.rs).
struct Counters {
    read: libloading::Symbol<'static, unsafe extern "C" fn(*mut u64, usize) -> usize>,
    backend: libloading::Symbol<'static, unsafe extern "C" fn(*mut u8, usize) -> usize>,
    allocations: libloading::Symbol<'static, unsafe extern "C" fn() -> u64>,
    replacements: libloading::Symbol<'static, unsafe extern "C" fn() -> u64>,
}

impl Counters {
    fn open(bundle: &Path) -> Result<Self> {
        // The same library the CLAP entry loaded (dlopen returns the loaded one): leaked so the
        // symbols stay valid for the process.
        // SAFETY: loading the plugin's own library, whose initialisers already ran.
        let lib: &'static libloading::Library = Box::leak(Box::new(unsafe { libloading::Library::new(bundle)? }));
        // SAFETY: signatures as defined in plugin/src/ffi.rs.
        unsafe {
            Ok(Self {
                read: lib.get(b"cubeaudio_plugin_engine_counters")?,
                backend: lib.get(b"cubeaudio_plugin_engine_backend")?,
                allocations: lib.get(b"cubeaudio_plugin_process_allocations")?,
                replacements: lib.get(b"cubeaudio_plugin_replacements")?,
            })
        }
    }

    /// cycles, launches, stalled, GPU instances, last ns, max ns, on GPU.
    fn now(&self) -> [u64; 7] {
        let mut v = [0u64; 7];
        // SAFETY: seven writable slots.
        unsafe { (self.read)(v.as_mut_ptr(), v.len()) };
        v
    }

    /// Allocations inside the plugin's process calls so far.
    fn process_allocations(&self) -> u64 {
        // SAFETY: no arguments.
        unsafe { (self.allocations)() }
    }

    /// Model replacements completed (crossfades over).
    fn replacements(&self) -> u64 {
        // SAFETY: no arguments.
        unsafe { (self.replacements)() }
    }

    fn backend(&self) -> String {
        let mut buf = vec![0u8; 256];
        // SAFETY: 256 writable bytes.
        let n = unsafe { (self.backend)(buf.as_mut_ptr(), buf.len()) };
        String::from_utf8_lossy(&buf[..n.min(buf.len())]).into()
    }
}

/// A test signal per instance: guitar-like, different for each.
fn signal(len: usize, seed: usize) -> Vec<f32> {
    (0..len)
        .map(|t| {
            let t = t as f32;
            let f = 0.006 + 0.0011 * (seed % 17) as f32;
            0.45 * (t * f).sin() * (0.7 + 0.3 * (t * 0.0004 + seed as f32).sin()) + 0.04 * (t * 0.29).cos()
        })
        .collect()
}

/// The state a project would hold for an instance playing `model`.
fn state_naming(model: &Path) -> Result<Vec<u8>> {
    let path = model.canonicalize().with_context(|| format!("{}", model.display()))?;
    let path = path.to_str().context("model path is not UTF-8")?;
    let state = serde_json::json!({
        "version": "0.1.0",
        "params": {},
        "fields": { "model_path": serde_json::to_string(path)? },
    });
    // nice-plug's CLAP state: the JSON's length (u64, little-endian), then the JSON.
    let json = serde_json::to_vec(&state)?;
    let mut bytes = (json.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(&json);
    Ok(bytes)
}

struct Running {
    instance: PluginInstance<Host>,
    processor: StartedPluginAudioProcessor<Host>,
}

fn start(entry: &PluginEntry, info: &HostInfo, state: &[u8], args: &Args) -> Result<Running> {
    let mut instance = PluginInstance::<Host>::new(|_| Shared::default(), |_| (), entry, PLUGIN_ID, info)?;
    let (state_ext, render_ext) =
        instance.access_shared_handler(|h| (h.state.get().copied().flatten(), h.render.get().copied().flatten()));
    let state_ext = state_ext.context("the plugin has no CLAP state extension")?;
    state_ext.load(&instance.plugin_handle(), &mut Cursor::new(state)).context("loading state")?;
    let mode = if args.realtime { RenderMode::Realtime } else { RenderMode::Offline };
    render_ext.context("the plugin has no CLAP render extension")?.set(&instance.plugin_handle(), mode)?;
    let config = PluginAudioConfiguration {
        sample_rate: args.rate,
        min_frames_count: args.buffer as u32,
        max_frames_count: args.buffer as u32,
    };
    let processor = instance
        .activate(|_, _| (), config)?
        .start_processing()
        .map_err(|_| anyhow::anyhow!("the plugin refused to start processing"))?;
    Ok(Running { instance, processor })
}

fn latency_of(r: &mut Running) -> Result<u32> {
    let ext = r.instance.access_shared_handler(|h| h.latency.get().copied().flatten());
    Ok(ext.context("the plugin has no CLAP latency extension")?.get(&r.instance.plugin_handle()))
}

fn save_state(r: &mut Running) -> Result<Vec<u8>> {
    let ext = r.instance.access_shared_handler(|h| h.state.get().copied().flatten()).context("no state extension")?;
    let mut out = Vec::new();
    ext.save(&r.instance.plugin_handle(), &mut out)?;
    Ok(out)
}

/// The CLAP id of the parameter whose stable id (nice-plug's `#[id]`) is `name`'s.
fn param_id(r: &mut Running, name: &str) -> Result<ClapId> {
    let ext = r.instance.access_shared_handler(|h| h.params.get().copied().flatten());
    let ext = ext.context("the plugin has no CLAP params extension")?;
    let handle = r.instance.plugin_handle();
    let mut buffer = ParamInfoBuffer::new();
    for i in 0..ext.count(&handle) {
        if let Some(info) = ext.get_info(&handle, i, &mut buffer) {
            if info.name.eq_ignore_ascii_case(name.as_bytes()) {
                return Ok(info.id);
            }
        }
    }
    bail!("the plugin has no parameter named {name}")
}

/// One process call of `frames` frames, mono in and out.
fn process(r: &mut Running, ports: &mut (AudioPorts, AudioPorts), x: &mut [f32], y: &mut [f32]) -> Result<()> {
    process_with(r, ports, x, y, &InputEvents::empty())
}

fn process_with(
    r: &mut Running,
    ports: &mut (AudioPorts, AudioPorts),
    x: &mut [f32],
    y: &mut [f32],
    events: &InputEvents,
) -> Result<()> {
    let input = ports.0.with_input_buffers([AudioPortBuffer {
        latency: 0,
        channels: AudioPortBufferType::f32_input_only([InputChannel::variable(x)]),
    }]);
    let mut output = ports.1.with_output_buffers([AudioPortBuffer {
        latency: 0,
        channels: AudioPortBufferType::f32_output_only([y].into_iter()),
    }]);
    r.processor.process(&input, &mut output, events, &mut OutputEvents::void(), None, None)?;
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(args.instances > 0 && args.cycles > 0 && args.buffer > 0, "instances, cycles and buffer must be positive");
    // SAFETY: loading a CLAP bundle runs its initialisers; that is what a host does.
    let entry = unsafe { PluginEntry::load(&args.bundle) }
        .with_context(|| format!("loading the bundle {}", args.bundle.display()))?;
    let info = HostInfo::new("cubeaudio-clap-host", "cubeaudio", "https://github.com/cubeaudio/cubeaudio", "0.1.0")?;
    let counters = Counters::open(&args.bundle)?;
    let state = state_naming(&args.model)?;

    let started = Instant::now();
    let mut running: Vec<Running> =
        (0..args.instances).map(|_| start(&entry, &info, &state, &args)).collect::<Result<_>>()?;
    let prepare_s = started.elapsed().as_secs_f64();
    let latency = latency_of(&mut running[0])? as usize;
    ensure!(latency == args.buffer, "the plugin reports {latency} frames of latency, not one buffer ({})", args.buffer);
    let backend = counters.backend();
    let on_gpu = counters.now()[6] == 1;
    println!(
        "{} instances of {} on {backend} ({}), prepared in {prepare_s:.2} s, latency {latency} frames",
        args.instances,
        args.model.display(),
        if args.realtime { "real time" } else { "offline" }
    );

    let editor = if args.editor || args.screenshot.is_some() {
        let gui = running[0].instance.access_shared_handler(|h| h.gui.get().copied().flatten());
        let gui = gui.context("the plugin has no CLAP GUI extension")?;
        let opened = editor::open(&running[0].instance.plugin_handle(), gui)?;
        println!("editor of instance 0 open in an X11 window of {}×{} pixels", opened.size.0, opened.size.1);
        Some((opened, Instant::now()))
    } else {
        None
    };

    let (b, n) = (args.buffer, args.cycles * args.buffer);
    let inputs: Vec<Vec<f32>> = (0..args.instances).map(|i| signal(n, i)).collect();
    let kept = args.compare.min(args.instances);
    let mut outputs = vec![vec![0.0f32; n]; kept];
    let mut scratch_in = vec![0.0f32; b];
    let mut scratch_out = vec![0.0f32; b];
    let mut ports = (AudioPorts::with_capacity(1, 1), AudioPorts::with_capacity(1, 1));
    let slim = match args.reload_at {
        Some(_) => Some(ParamValueEvent::new(0, param_id(&mut running[0], "slim")?, Pckn::match_all(), 0.5)),
        None => None,
    };
    let replacements0 = counters.replacements();
    let before = counters.now();
    let period = Duration::from_secs_f64(b as f64 / args.rate);
    let mut times = Vec::with_capacity(args.cycles);
    let t0 = Instant::now();
    for c in 0..args.cycles {
        if args.realtime {
            let due = t0 + period * c as u32;
            while Instant::now() < due {
                std::hint::spin_loop();
            }
        }
        let start = Instant::now();
        for (i, r) in running.iter_mut().enumerate() {
            scratch_in.copy_from_slice(&inputs[i][c * b..(c + 1) * b]);
            match (&slim, i == 0 && args.reload_at == Some(c)) {
                (Some(event), true) => {
                    process_with(r, &mut ports, &mut scratch_in, &mut scratch_out, &InputEvents::from_buffer(event))?
                }
                _ => process(r, &mut ports, &mut scratch_in, &mut scratch_out)?,
            }
            if i < kept {
                outputs[i][c * b..(c + 1) * b].copy_from_slice(&scratch_out);
            }
        }
        times.push(start.elapsed().as_secs_f64() * 1e6);
    }
    // The last cycle's launch may still be finishing: its block is read in the next cycle.
    let deadline = Instant::now() + Duration::from_secs(10);
    while on_gpu && counters.now()[1] - before[1] < args.cycles as u64 - 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    let after = counters.now();
    let (cycles, launches, stalled) = (after[0] - before[0], after[1] - before[1], after[2] - before[2]);
    let gpu_instances = after[3];
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let (p50, p99, max) = (percentile(&sorted, 0.5), percentile(&sorted, 0.99), sorted[sorted.len() - 1]);
    let budget_us = period.as_secs_f64() * 1e6;
    println!(
        "{} cycles of {b} frames: host cycle p50 {p50:.1} µs, p99 {p99:.1} µs, max {max:.1} µs (buffer {budget_us:.0} µs; p99 {:.0} % of it)",
        args.cycles,
        100.0 * p99 / budget_us
    );
    println!(
        "engine: {cycles} device cycles, {launches} launches, {stalled} stalled, {gpu_instances} instances on the GPU, last round trip {:.1} µs, longest {:.1} µs",
        after[4] as f64 / 1e3,
        after[5] as f64 / 1e3
    );
    let mut failures = Vec::new();
    if let Some((opened, since)) = editor {
        // The editor draws on its own thread at its refresh rate: give it time for a frame
        // that shows the counters of the cycles just run.
        std::thread::sleep(
            Duration::from_millis(1_500).saturating_sub(since.elapsed()).max(Duration::from_millis(400)),
        );
        let shot = opened.capture(args.screenshot.as_deref())?;
        println!(
            "editor drew {} distinct colours{}",
            shot.colours,
            match &args.screenshot {
                Some(p) => format!("; screenshot {}", p.display()),
                None => String::new(),
            }
        );
        // Text, knobs and their anti-aliasing give hundreds; a window the editor never drew
        // into is one colour.
        if shot.colours < 32 {
            failures.push(format!("the editor window shows {} colours: it did not draw", shot.colours));
        }
        opened.close(&running[0].instance.plugin_handle())?;
    }
    if let Some(at) = args.reload_at {
        let replaced = counters.replacements() - replacements0;
        println!("slim moved at cycle {at}: {replaced} model replacement(s) crossfaded while playing");
        if replaced == 0 {
            failures.push(format!("moving slim at cycle {at} replaced no model before the run ended"));
        }
    }
    let allocations = counters.process_allocations();
    println!("allocations inside the plugin's process calls: {allocations}");
    if allocations != 0 {
        failures.push(format!("{allocations} allocations inside process"));
    }
    if on_gpu {
        // Launches run one cycle behind the host: the block of the last cycle is launched when
        // the next cycle would read it, so cycles − 1 or cycles launches mean one per cycle.
        if !(launches == args.cycles as u64 || launches + 1 == args.cycles as u64) {
            failures
                .push(format!("{launches} launches for {} host cycles of {} instances", args.cycles, args.instances));
        }
        if gpu_instances != args.instances as u64 {
            failures.push(format!("{gpu_instances} of {} instances on the GPU at the end", args.instances));
        }
    }

    // Against `cubeaudio render` (CPU engine, same buffer) of the same inputs.
    let dir = std::env::temp_dir().join(format!("cubeaudio-clap-host-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let tolerance = if on_gpu { 1e-4 } else { 0.0 };
    let mut worst = 0.0f64;
    let reference = |i: usize| -> Result<Vec<f32>> {
        let (wav_in, wav_out) = (dir.join(format!("in{i}.wav")), dir.join(format!("out{i}.wav")));
        wav::write(&wav_in, std::slice::from_ref(&inputs[i]), args.rate as u32, wav::SampleFormat::Float32)?;
        let opts = cubeaudio::render::RenderOptions {
            backend: cubeaudio_kernels::device::Backend::Cpu,
            buffer: b,
            fast_tanh: true,
            slim: None,
            format: wav::SampleFormat::Float32,
            split: false,
            threads: 1,
        };
        cubeaudio::render::render_file(&args.model, &wav_in, &wav_out, &opts, &mut |_, _| {})?;
        Ok(wav::read(&wav_out)?.channels.remove(0))
    };
    // Instance 0's reference also checks the restored instance below.
    let mut first_reference = None;
    for (i, got) in outputs.iter().enumerate() {
        let want = reference(i)?;
        let err = delayed_error(got, &want, latency);
        worst = worst.max(err);
        if err > tolerance {
            failures.push(format!("instance {i}: {err:.2e} from render delayed by {latency} frames"));
        }
        first_reference.get_or_insert(want);
    }
    if kept > 0 {
        println!("{kept} instances against cubeaudio render delayed by {latency} frames: worst {worst:.2e} (tolerance {tolerance:.0e})");
    }

    // State round trip: the saved state of instance 0 restores its model in a new instance.
    let saved = save_state(&mut running[0])?;
    let text = String::from_utf8_lossy(&saved);
    ensure!(text.contains("model_path"), "the saved state does not name the model: {text}");
    let mut restored = start(&entry, &info, &saved, &args)?;
    let check = 200.min(args.cycles);
    let mut got = vec![0.0f32; check * b];
    for c in 0..check {
        scratch_in.copy_from_slice(&inputs[0][c * b..(c + 1) * b]);
        process(&mut restored, &mut ports, &mut scratch_in, &mut scratch_out)?;
        got[c * b..(c + 1) * b].copy_from_slice(&scratch_out);
        // The other instances keep their cycles going, as in a host (and their launches shared).
        for r in running.iter_mut() {
            process(r, &mut ports, &mut scratch_in, &mut scratch_out)?;
        }
    }
    if let Some(want) = &first_reference {
        let err = delayed_error(&got, &want[..check * b], latency);
        println!("state saved and restored into a new instance: {err:.2e} from render over {check} cycles");
        if err > tolerance {
            failures.push(format!("restored instance: {err:.2e}"));
        }
    }
    std::fs::remove_dir_all(&dir).ok();

    if let Some(path) = &args.json {
        let json = serde_json::json!({
            "instances": args.instances, "buffer": b, "cycles": args.cycles, "realtime": args.realtime,
            "backend": backend, "p50_us": p50, "p99_us": p99, "max_us": max, "budget_us": budget_us,
            "launches": launches, "device_cycles": cycles, "stalled": stalled, "gpu_instances": gpu_instances,
            "worst_error": worst, "prepare_s": prepare_s, "process_allocations": allocations,
        });
        std::fs::write(path, serde_json::to_string_pretty(&json)?)?;
    }
    for r in running.into_iter().chain([restored]) {
        let Running { mut instance, processor } = r;
        instance.deactivate(processor.stop_processing());
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("; "));
    }
    println!("ok");
    Ok(())
}

/// Largest |got[t] − want[t − latency]| relative to max(1, peak of want).
fn delayed_error(got: &[f32], want: &[f32], latency: usize) -> f64 {
    let peak = want.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1.0) as f64;
    let head = got[..latency.min(got.len())].iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
    let body = got[latency..].iter().zip(want).map(|(a, b)| (a - b).abs() as f64).fold(0.0, f64::max);
    head.max(body) / peak
}
