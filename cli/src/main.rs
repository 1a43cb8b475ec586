//! `cubeaudio`: render audio through NAM models, inspect models.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
#[cfg(feature = "live")]
use cubeaudio::live::{run_live, LiveOptions, Scheduling, Source};
use cubeaudio::render::{render_files, RenderOptions};
use cubeaudio::{bench, info};
use cubeaudio_kernels::device::Backend;
use cubeaudio_nam::{load_file, load_str, LoadOptions};
use cubeaudio_runtime::graph::StreamFusion;
use cubeaudio_runtime::wav::SampleFormat;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Parser)]
#[command(name = "cubeaudio", version, about = "GPU audio DSP and Neural Amp Modeler rendering")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `--nam-streams` values.
fn parse_streams(s: &str) -> std::result::Result<StreamFusion, String> {
    match s {
        "auto" => Ok(StreamFusion::Auto),
        "program" => Ok(StreamFusion::Program),
        "batch" => Ok(StreamFusion::Batch),
        _ => Err(format!("`{s}` is not one of auto, program, batch")),
    }
}

/// `--backend` values: the names of [`Backend`], the one backend type of the workspace.
fn parse_backend(s: &str) -> std::result::Result<Backend, String> {
    s.parse().map_err(|e: cubeaudio_kernels::device::DeviceError| e.to_string())
}

/// `live --seconds`: a positive, finite length of server time (NaN would stop at once,
/// infinity never).
fn parse_live_seconds(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("`{s}` is not a positive number of seconds (leave --seconds out to play until Ctrl-C)")),
    }
}

/// A whole number in `lo..=hi`: counts whose 0 (or excess) would break a measurement or hold
/// memory without bound are refused before any work.
fn count_in(
    lo: usize,
    hi: usize,
) -> impl Fn(&str) -> std::result::Result<usize, String> + Clone + Send + Sync + 'static {
    move |s| match s.parse::<usize>() {
        Ok(v) if (lo..=hi).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a whole number from {lo} to {hi}")),
    }
}

/// The most streams or instances a bench sweep may try (a batch the device cannot hold ends the
/// sweep like a miss; this bounds the host's side).
const MAX_SWEEP_COUNT: usize = 1 << 20;

/// The longest file `bench --single-file-seconds` renders: the signal and its output are held in
/// memory (8 bytes a sample at 48 kHz: 1.4 GB at this length).
const MAX_SINGLE_FILE_SECONDS: f64 = 3_600.0;

fn parse_single_file_seconds(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=MAX_SINGLE_FILE_SECONDS).contains(&v) => Ok(v),
        _ => Err(format!(
            "`{s}` is not a length from 0 (none) to {MAX_SINGLE_FILE_SECONDS} seconds (the file is rendered in memory)"
        )),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// 32-bit float (default: nothing is lost).
    F32,
    /// 16-bit integer PCM (clipped to ±1).
    I16,
    /// 24-bit integer PCM (clipped to ±1).
    I24,
}

#[derive(clap::Args)]
struct RenderArgs {
    /// The .nam model file.
    #[arg(long)]
    pub model: PathBuf,
    /// Input WAV (16/24/32-bit int or 32-bit float, any rate, any channel count). Repeat for a
    /// batch of files.
    #[arg(long, required = true)]
    input: Vec<PathBuf>,
    /// Output WAV at the input's sample rate; with several inputs, a folder (created if
    /// missing) that receives one `<input name>.wav` per input.
    #[arg(long)]
    output: PathBuf,
    /// auto: CUDA, then a hardware Vulkan/Metal adapter, then the CPU engine — which also
    /// runs models the GPU engine refuses; a software adapter (lavapipe) only when named
    /// with vulkan/wgpu (it renders far slower than the CPU engine). cpu: the CPU engine
    /// (the NAM core's maths, f32). cuda, vulkan, wgpu: the GPU engine on that runtime
    /// (every architecture).
    #[arg(long, default_value = "auto", value_parser = parse_backend, value_name = "auto|cpu|cuda|vulkan|wgpu")]
    backend: Backend,
    /// Frames per processing block. The output does not depend on it, except for LSTM models
    /// without a `sample_rate` (the core prewarms those with one block, so the block size shows
    /// in their first ~0.5 s).
    #[arg(long, default_value_t = 512)]
    buffer: usize,
    /// Use std tanh instead of NAM's fast tanh (the plugin uses fast tanh).
    #[arg(long)]
    exact_tanh: bool,
    /// Slimmable size in [0, 1] for slimmable models (e.g. A2: < 0.5 selects A2-Lite).
    #[arg(long)]
    slim: Option<f64>,
    #[arg(long, value_enum, default_value_t = Format::F32)]
    format: Format,
    /// On a GPU, run every channel as one stream in --buffer blocks, as a live host does. By
    /// default a GPU cuts convolutional models' signals in time into chunks that overlap by the
    /// receptive field and run as parallel streams (same output, far faster for long files);
    /// LSTMs always stream.
    #[arg(long)]
    stream: bool,
    /// CPU engine threads (default: every core). Convolutional models' signals are cut in time
    /// across them, as on a GPU (same output; --stream keeps one thread per channel); LSTMs'
    /// channels and files are spread over them.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    threads: Option<u32>,
}

#[derive(Subcommand)]
enum Command {
    /// Render WAV files through a .nam model; each channel runs through its own instance. Several
    /// `--input` files render as one batch (on a GPU: every channel of every file is a stream of
    /// one launch per buffer). CUDA kernels compiled by one build are kept for its next runs in
    /// ~/.cache/cubeaudio/kernels (CUBEAUDIO_KERNEL_CACHE=off turns that off, =DIR moves it).
    Render(RenderArgs),
    /// Render a WAV file through a processing graph (rig file: processors, params,
    /// connections; format in docs/GRAPHS.md). The WAV's channels feed the graph inputs in order;
    /// the output has one channel per graph output channel, at the input's sample rate.
    Graph {
        /// The rig file (JSON). Relative paths in it (models, IRs) resolve against its folder.
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        output: PathBuf,
        /// auto: CUDA, else wgpu's best adapter (a software one such as lavapipe included: graphs
        /// have no CPU engine); cuda, vulkan, wgpu: that runtime.
        #[arg(long, default_value = "auto", value_parser = parse_backend, value_name = "auto|cuda|vulkan|wgpu")]
        backend: Backend,
        /// Frames per processing block.
        #[arg(long, default_value_t = 128)]
        buffer: usize,
        /// Where NAM models (WaveNet, ConvNet, Linear) run: inside the graph's one launch
        /// (program), as their own batch (batch), or auto (program, except on a hardware GPU
        /// where the program would interpret their plans rather than run the columns kernel:
        /// models of different shapes or options it does not cover).
        #[arg(long, default_value = "auto", value_parser = parse_streams, value_name = "auto|program|batch")]
        nam_streams: StreamFusion,
    },
    /// GPU benchmark: streams held in real time per model × buffer size (synchronous and with two
    /// buffers in flight, plus the device-only time per buffer), one-stream latency, offline
    /// throughput at 256 and 2048 streams, and the CPU engine as the baseline. Writes Markdown
    /// and JSON.
    Bench {
        /// cuda, vulkan, wgpu, or auto (CUDA, else wgpu's best adapter).
        #[arg(long, alias = "runtime", default_value = "cuda", value_parser = parse_backend, value_name = "auto|cuda|vulkan|wgpu")]
        backend: Backend,
        /// Models to measure (any .nam file the GPU engine runs: WaveNet family or LSTM), as
        /// NAME=PATH or NAME=PATH@SLIM. The first one is also used for latency and offline.
        #[arg(long = "model", required_unless_present = "rig", conflicts_with = "rig")]
        models: Vec<String>,
        /// Measure a rig instead (a processing graph, docs/GRAPHS.md): instances held in real
        /// time per buffer size, synchronous and with two buffers in flight (doubling up to
        /// --max-instances, then two bisection steps), launches per buffer, and one instance's
        /// latency at 64 frames over --latency-buffers.
        #[arg(long)]
        rig: Option<PathBuf>,
        /// Fewest rig instances tried (with --rig): the sweep doubles from here (e.g. to
        /// profile one large point without the small ones).
        #[arg(long, default_value_t = 1, value_parser = count_in(1, MAX_SWEEP_COUNT))]
        min_instances: usize,
        /// Most rig instances tried (with --rig).
        #[arg(long, default_value_t = 4096, value_parser = count_in(1, MAX_SWEEP_COUNT))]
        max_instances: usize,
        /// Phase-group counts measured after the sweep (with --rig): instances split into K
        /// graphs whose buffers start 1/K of a buffer apart, paced in real time, as a service
        /// hosting many independent streams can schedule them; 1 for none (one group is the
        /// sweep itself).
        #[arg(long, value_delimiter = ',', default_value = "2,4", value_parser = count_in(1, 256))]
        phase_groups: Vec<usize>,
        /// Where a rig's NAM models run (with --rig), as for `graph`.
        #[arg(long, default_value = "auto", value_parser = parse_streams, value_name = "auto|program|batch")]
        nam_streams: StreamFusion,
        /// Buffer sizes in samples.
        #[arg(long, value_delimiter = ',', default_value = "64,128", value_parser = count_in(1, 65_536))]
        buffers: Vec<usize>,
        /// Largest stream count tried (counts double from 1 until one misses, then two
        /// bisection steps).
        #[arg(long, default_value_t = 16_384, value_parser = count_in(1, MAX_SWEEP_COUNT))]
        max_streams: usize,
        /// Buffers timed for the latency percentiles.
        #[arg(long, default_value_t = 100_000, value_parser = count_in(1, 100_000_000))]
        latency_buffers: usize,
        /// Folder for bench.md and bench.json.
        #[arg(long, default_value = "bench-out")]
        out: PathBuf,
        /// Also sweep streams of N distinct captures of the first model's shape (its weights
        /// scaled by a different factor near 1 per capture), cycled over the streams; 0: none.
        #[arg(long, default_value_t = 0, value_parser = count_in(0, 65_536))]
        distinct: usize,
        /// Length in seconds of one long file of the first model rendered through the
        /// time-split renderer (what `render` does on a GPU); 0: none.
        #[arg(long, default_value_t = 600.0, value_parser = parse_single_file_seconds)]
        single_file_seconds: f64,
    },
    /// Exact warp-alignment packing: reads {"warp_size", "warps", "counts", "costs"?} as JSON on
    /// stdin, writes {"max_occupancy", "max_cost", "warps": [[{"type", "count"}]]} on stdout.
    /// Invalid or infeasible input: one line on stderr, exit code 2.
    Pack,
    /// Play a .nam model (or a rig) live as a JACK client: ports `in` and `out`, the server's
    /// buffer size and rate, one buffer of latency (reported on the outputs). A model runs on
    /// the best backend (a GPU when one opens, else the CPU engine) and falls back to the CPU
    /// engine if the GPU misses a deadline. Prints xruns every second; Ctrl-C stops it cleanly.
    Live {
        /// The .nam model (mono in/out, at the server's sample rate).
        #[arg(long, conflicts_with = "rig", required_unless_present = "rig")]
        model: Option<PathBuf>,
        /// A rig file instead (a processing graph, docs/GRAPHS.md; runs on a GPU, lavapipe
        /// included): ports in_1…/out_1… per graph channel.
        #[arg(long)]
        rig: Option<PathBuf>,
        /// auto (CUDA, else a hardware wgpu adapter, else the CPU engine), cpu, cuda, vulkan, wgpu.
        #[arg(long, default_value = "auto", value_parser = parse_backend, value_name = "auto|cpu|cuda|vulkan|wgpu")]
        backend: Backend,
        /// JACK client name.
        #[arg(long, default_value = "cubeaudio")]
        name: String,
        /// Stop after this many seconds of server time (default: run until Ctrl-C).
        #[arg(long, value_parser = parse_live_seconds)]
        seconds: Option<f64>,
        /// Connect this port to our input at start (e.g. system:capture_1).
        #[arg(long)]
        connect_in: Option<String>,
        /// Connect our output to this port at start (e.g. system:playback_1).
        #[arg(long)]
        connect_out: Option<String>,
    },
    /// Describe a .nam model: architecture, config, receptive field, cost, metadata.
    Info {
        /// The .nam model file.
        model: PathBuf,
    },
}

fn render(args: RenderArgs) -> Result<()> {
    let RenderArgs { model, input: inputs, output, backend, buffer, exact_tanh, slim, format, stream, threads } = args;
    if buffer == 0 || buffer > 65_536 {
        bail!("--buffer {buffer} must be between 1 and 65536");
    }
    let jobs = output_paths(&inputs, &output)?;
    let bar = ProgressBar::new(0);
    bar.set_style(ProgressStyle::with_template("{bar:40} {percent:>3}% {msg}").expect("valid template"));
    let opts = RenderOptions {
        backend,
        buffer,
        fast_tanh: !exact_tanh,
        slim,
        format: match format {
            Format::F32 => SampleFormat::Float32,
            Format::I16 => SampleFormat::Int16,
            Format::I24 => SampleFormat::Int24,
        },
        split: !stream,
        threads: threads.map_or_else(cubeaudio::render::all_cores, |t| t as usize),
    };
    let shown: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    let report = render_files(&model, &jobs, &opts, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .with_context(|| format!("rendering {} through {}", shown.join(", "), model.display()))?;
    bar.finish_and_clear();
    if let Some(why) = &report.fallback {
        eprintln!("backend auto: no GPU used ({why}); rendered on the CPU engine");
    }
    if report.resampled {
        eprintln!("resampled {} Hz → {} Hz (model rate) and back", report.input_rate, report.model_rate);
    }
    if report.sanitized > 0 {
        eprintln!("warning: {} non-finite input samples were replaced by 0", report.sanitized);
    }
    println!(
        "backend {} | {} | {} file(s), {} channel(s), {:.2} s of audio in {:.2} s ({:.2} s opening the backend) | real-time factor {:.1}x | wrote {}",
        report.backend,
        report.method,
        report.files,
        report.channels,
        report.audio_seconds,
        report.elapsed.as_secs_f64(),
        report.opening.as_secs_f64(),
        report.realtime_factor(),
        output.display()
    );
    Ok(())
}

/// One input: `output` is the file. Several: `output` is a folder of `<input name>.wav`.
fn output_paths(inputs: &[PathBuf], output: &std::path::Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    // Outputs that are files the render reads are refused by `render_files`, by file identity.
    if inputs.len() == 1 {
        return Ok(vec![(inputs[0].clone(), output.to_path_buf())]);
    }
    if output.is_file() {
        bail!("with {} inputs, --output must be a folder, and {} is a file", inputs.len(), output.display());
    }
    std::fs::create_dir_all(output).with_context(|| format!("creating {}", output.display()))?;
    let mut jobs: Vec<(PathBuf, PathBuf)> = Vec::new();
    for input in inputs {
        let name = input.file_stem().with_context(|| format!("{} has no file name", input.display()))?;
        let target = output.join(name).with_extension("wav");
        if let Some((other, _)) = jobs.iter().find(|(_, t)| *t == target) {
            bail!("{} and {} would both be written to {}", other.display(), input.display(), target.display());
        }
        jobs.push((input.clone(), target));
    }
    Ok(jobs)
}

fn graph(
    config: PathBuf,
    input: PathBuf,
    output: PathBuf,
    backend: Backend,
    buffer: usize,
    streams: StreamFusion,
) -> Result<()> {
    use cubeaudio::graph::render_graph;
    if buffer == 0 || buffer > 65_536 {
        bail!("--buffer {buffer} must be between 1 and 65536");
    }
    let bar = ProgressBar::new(0);
    bar.set_style(ProgressStyle::with_template("{bar:40} {percent:>3}% {msg}").expect("valid template"));
    let report = render_graph(&config, &input, &output, backend, buffer, streams, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .with_context(|| format!("rendering {} through the graph {}", input.display(), config.display()))?;
    bar.finish_and_clear();
    if report.sanitized > 0 {
        eprintln!("warning: {} non-finite input samples were replaced by 0", report.sanitized);
    }
    if !report.stream_steps.is_empty() {
        println!("NAM models inside the graph program run on {}", report.stream_steps.join("; "));
    }
    println!(
        "backend {} | {} processors in {} stages, {} batches, {} launches per buffer, {} arena slots | {:.2} s of audio in {:.2} s | real-time factor {:.1}x | wrote {} ({} channel(s))",
        report.backend,
        report.processors,
        report.stages,
        report.batches,
        report.launches_per_buffer,
        report.arena_slots,
        report.frames as f64 / report.sample_rate as f64,
        report.elapsed.as_secs_f64(),
        report.realtime_factor(),
        output.display(),
        report.output_channels
    );
    Ok(())
}

/// The bench's optional measurements.
struct BenchExtras {
    distinct: usize,
    single_file_seconds: f64,
}

/// `count` captures with the weights of the model at `path` scaled by factors in [0.95, 1.05],
/// one per capture: the shape of one capture, the weights of many.
fn distinct_captures(path: &std::path::Path, count: usize) -> Result<Vec<cubeaudio_nam::LoadedModel>> {
    let text = cubeaudio_nam::loader::read_text_bounded(path, cubeaudio_nam::loader::MAX_FILE_BYTES)?;
    let json: serde_json::Value = serde_json::from_str(&text)?;
    (0..count)
        .map(|k| {
            let mut j = json.clone();
            let scale = 0.95 + 0.1 * k as f64 / count.max(2).saturating_sub(1) as f64;
            if let Some(w) = j.get_mut("weights").and_then(|w| w.as_array_mut()) {
                for v in w.iter_mut() {
                    *v = serde_json::json!(v.as_f64().unwrap_or(0.0) * scale);
                }
            } else {
                bail!("{}: no weights array to vary for --distinct", path.display());
            }
            Ok(load_str(&j.to_string(), LoadOptions::default())?)
        })
        .collect()
}

fn bench_rig(
    backend: Backend,
    rig: &std::path::Path,
    sweep: &cubeaudio::rig_bench::RigSweep,
    out: &std::path::Path,
) -> Result<()> {
    let (spec, base_dir) = cubeaudio::graph::read_rig(rig)?;
    let device = backend.open_gpu().context("the benchmark measures a GPU (--backend cuda, vulkan, wgpu or auto)")?;
    let job = cubeaudio::rig_bench::RigBenchJob { rig, spec: &spec, base_dir, sweep };
    let report = device.run(job)?;
    let md = cubeaudio::rig_bench::markdown(&report);
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("rig-bench.md"), &md)?;
    std::fs::write(out.join("rig-bench.json"), serde_json::to_string_pretty(&report)?)?;
    print!("{md}");
    Ok(())
}

fn bench(
    backend: Backend,
    models: &[String],
    buffers: &[usize],
    max_streams: usize,
    latency_buffers: usize,
    out: &std::path::Path,
    extra: BenchExtras,
) -> Result<()> {
    // NAME=PATH or NAME=PATH@SLIM (slimmable models at a slim value); each file parsed once.
    let mut gpu_models = Vec::new();
    let mut cpu_models = Vec::new();
    for spec in models {
        let (name, path) = spec
            .split_once('=')
            .filter(|(n, p)| !n.is_empty() && !p.is_empty())
            .with_context(|| format!("--model {spec}: takes NAME=PATH[@SLIM], a name and a path"))?;
        // The last `@` followed by a number is the slim value; a path may hold `@` itself.
        let (path, slim) = match path.rsplit_once('@').and_then(|(p, s)| Some((p, s.parse::<f64>().ok()?))) {
            Some((p, s)) => (p, Some(s)),
            None => (path, None),
        };
        let mut gpu = load_file(std::path::Path::new(path), LoadOptions::default())?;
        let mut cpu = cubeaudio_nam::Model::new(gpu.dsp.clone());
        if let Some(s) = slim {
            gpu.dsp.set_slim(s)?;
            cpu.set_slim(s)?;
        }
        gpu_models.push((name.to_string(), gpu));
        cpu_models.push((name.to_string(), cpu));
    }
    let nets: Vec<(String, &dyn cubeaudio_nam::dsp::Dsp)> =
        gpu_models.iter().map(|(n, m)| (n.clone(), m.dsp.as_ref())).collect();
    let first_path = models.first().and_then(|m| m.split_once('=')).map(|(_, p)| p.split('@').next().unwrap_or(p));
    let distinct = match (extra.distinct, first_path) {
        (0, _) | (_, None) => Vec::new(),
        (n, Some(p)) => distinct_captures(std::path::Path::new(p), n)?,
    };
    let distinct_nets: Vec<&dyn cubeaudio_nam::dsp::Dsp> = distinct.iter().map(|m| m.dsp.as_ref()).collect();
    let device = backend.open_gpu().context("the benchmark measures a GPU (--backend cuda, vulkan, wgpu or auto)")?;
    let mut log = |line: &str| eprintln!("{line}");
    let report = device.run(bench::BenchJob {
        models: &nets,
        cpu_models,
        buffers,
        max_streams,
        latency_buffers,
        distinct: &distinct_nets,
        single_file_seconds: extra.single_file_seconds,
        log: &mut log,
    })?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let md = report.markdown();
    std::fs::write(out.join("bench.md"), &md).with_context(|| format!("writing {}", out.display()))?;
    std::fs::write(out.join("bench.json"), serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("writing {}", out.display()))?;
    print!("{md}");
    Ok(())
}

#[cfg(feature = "live")]
fn live(opts: LiveOptions) -> Result<()> {
    cubeaudio::interrupt::stop_gracefully();
    let stop = &cubeaudio::interrupt::STOP_REQUESTED;
    let report = run_live(&opts, stop, &mut |r| {
        eprintln!("live: {} | {} frames at {} Hz | {} cycles, {} xruns", r.backend, r.buffer, r.rate, r.cycles, r.xruns)
    })
    .with_context(|| match &opts.source {
        Source::Model(p) | Source::Rig(p) => format!("playing {} live", p.display()),
    })?;
    if let Some(why) = &report.fallback {
        eprintln!("live: {why}");
    }
    println!(
        "live: backend {} | {}-frame buffers at {} Hz, latency {} frames | {} cycles, longest callback {:.0} µs ({:.0} µs of CPU) | audio thread {} | xruns: {}",
        report.backend,
        report.buffer,
        report.rate,
        report.buffer,
        report.cycles,
        report.max_callback_us,
        report.max_callback_cpu_us,
        report.scheduling,
        report.xruns
    );
    if report.scheduling == Scheduling::TimeShared {
        eprintln!(
            "live: JACK's audio thread is not real-time: the OS may preempt it past the period on a busy machine (start jackd with -R, which needs CAP_SYS_NICE or an rtprio limit for its user)"
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    cubeaudio::interrupt::clean_up_on_interrupt();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Some(folder) = cubeaudio::kernel_cache::enable() {
        tracing::debug!("compiled CUDA kernels of this build kept under {}", folder.display());
    }
    let result = match cli.command {
        Command::Render(args) => render(args),
        Command::Graph { config, input, output, backend, buffer, nam_streams } => {
            graph(config, input, output, backend, buffer, nam_streams)
        }
        Command::Bench {
            backend,
            rig: Some(rig),
            buffers,
            min_instances,
            max_instances,
            phase_groups,
            latency_buffers,
            nam_streams,
            out,
            ..
        } => {
            if min_instances > max_instances {
                Err(anyhow::anyhow!("--min-instances {min_instances} is above --max-instances {max_instances}"))
            } else {
                let sweep = cubeaudio::rig_bench::RigSweep {
                    buffers,
                    min_instances,
                    max_instances,
                    phase_groups,
                    latency_buffers,
                    streams: nam_streams,
                };
                bench_rig(backend, &rig, &sweep, &out)
            }
        }
        Command::Bench {
            backend,
            models,
            buffers,
            max_streams,
            latency_buffers,
            out,
            distinct,
            single_file_seconds,
            ..
        } => {
            let extra = BenchExtras { distinct, single_file_seconds };
            bench(backend, &models, &buffers, max_streams, latency_buffers, &out, extra)
        }
        #[cfg(feature = "live")]
        Command::Live { model, rig, backend, name, seconds, connect_in, connect_out } => {
            let source = match (model, rig) {
                (Some(m), _) => Source::Model(m),
                (None, Some(r)) => Source::Rig(r),
                (None, None) => unreachable!("clap requires --model or --rig"),
            };
            live(LiveOptions { source, backend, name, seconds, connect_in, connect_out, wait_fraction: 0.5 })
        }
        #[cfg(not(feature = "live"))]
        Command::Live { .. } => Err(anyhow::anyhow!(
            "this build has no live mode: build with `cargo build --release -p cubeaudio --features live` (needs libjack's development files, e.g. `apt install libjack-jackd2-dev`)"
        )),
        Command::Pack => {
            let mut text = String::new();
            if let Err(e) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut text) {
                eprintln!("error: cannot read stdin: {e}");
                return ExitCode::from(2);
            }
            return match cubeaudio_runtime::packer::pack_json(&text) {
                Ok(json) => {
                    println!("{json}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            };
        }
        Command::Info { model } => load_file(&model, LoadOptions::default())
            .map(|m| print!("{}", info::describe(&m)))
            .map_err(anyhow::Error::from),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", causes(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, each cause once: messages that already quote their
/// source (`path: cannot read: <os error>`) do not repeat it.
fn causes(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}
