//! A batch of streams of the convolutional architectures (WaveNet, ConvNet, Linear) on one
//! device: `new` uploads plans and weights, zeroes and prewarms every history; `process` runs
//! one buffer of every stream in one launch;
//! `add_stream` / `remove_stream` change the batch between buffers without touching the other
//! streams' histories.

use cubeaudio_kernels::graph_program::StreamTables;
use cubeaudio_kernels::routed::copy_routes;
use cubeaudio_kernels::util::{Buffer, IndexBuffer};
use cubecl::prelude::*;
use cubecl::server::Handle;

use cubeaudio_kernels::tile_conv::{tensor_cores, TileConvPath};

use super::columns::{arrays_of, wavenet_columns_kernel, ColumnsBatch, ColumnsShape, DEFAULT_MULTIPROCESSORS};
use super::kernel::{wavenet_streams_kernel, StreamsShape, MAX_TILE, META};
use super::knob;
use super::plan::ModelPlan;
use super::staging::{device, PendingBuffer, Staging};
use crate::dsp::Dsp;
use crate::error::{NamError, Result};

/// Shared memory one launch may use: the CUDA limit for static shared arrays, which is also the
/// common Vulkan maximum (lavapipe offers 32 KiB and is asked for less).
const SHARED_CAP: usize = 48 * 1024;

/// The largest tile (power of two, 8..=MAX_TILE, not beyond the buffer) whose blocks fit the
/// device's shared memory, and how the cube works on it, by batch size:
/// - up to [`WAVES_FOR_THROUGHPUT`] cubes per multiprocessor (few streams: latency): two
///   elements of a block per thread, 2 × 1 register tiles — the most threads on each stream;
/// - more streams, 128-frame tiles (throughput): 4 × 4 register tiles and an eighth as many
///   threads, so several streams share a multiprocessor and each load feeds four FMAs.
///
/// Measured on an H200 (docs/PERFORMANCE.md, fifth measurement): at 1,024 standard streams of
/// 128 frames the throughput shape takes 0.72 ms of device time per buffer against 1.32 ms; at
/// one stream it is slower (0.21 against 0.14 ms); 64-frame tiles gained nothing from it.
///
/// For measurements: `CUBEAUDIO_NAM_TILE` forces a tile, `CUBEAUDIO_NAM_UNITS` the threads per
/// cube (loops stride by it, any count is correct), `CUBEAUDIO_NAM_STAGED=0` the ring-reading
/// layer conv, `CUBEAUDIO_NAM_RT`/`_FT` the register tile (rows × frames per thread).
fn choose_shape(
    hw: &cubecl::ir::HardwareProperties,
    rows: usize,
    general: bool,
    max_buffer: usize,
    streams: usize,
    policy: LaunchShape,
    products: Products,
) -> (StreamsShape, u32) {
    let rows = rows.div_ceil(8) * 8;
    let cap = hw.max_shared_memory_size.min(SHARED_CAP);
    let staged = knob("CUBEAUDIO_NAM_STAGED") != Some(0);
    let forced = knob("CUBEAUDIO_NAM_TILE").filter(|t| t.is_power_of_two() && (8..=MAX_TILE).contains(t));
    let mut tile = forced.unwrap_or_else(|| max_buffer.next_power_of_two().clamp(8, MAX_TILE));
    let fits = |tile| (StreamsShape { rows, tile, general, staged, conv: SCALAR_LATENCY }).shared_bytes() <= cap;
    while tile > 8 && !fits(tile) {
        tile /= 2;
    }
    let sms = hw.num_streaming_multiprocessors.map_or(DEFAULT_MULTIPROCESSORS, |n| n as usize);
    // The general variant's ring conv is not tiled: it keeps the latency shape.
    let throughput = !general
        && match policy {
            LaunchShape::Auto => tile == MAX_TILE && streams > WAVES_FOR_THROUGHPUT * sms,
            LaunchShape::Latency => false,
            LaunchShape::Throughput => true,
        };
    let (rt, ft, per_thread) = if throughput { (4, 4, 8) } else { (2, 1, 2) };
    let tile_rows = knob("CUBEAUDIO_NAM_RT").filter(|r| (1..=8).contains(r)).unwrap_or(rt);
    let tile_frames = knob("CUBEAUDIO_NAM_FT").filter(|f| [1, 2, 4].contains(f)).unwrap_or(ft);
    let max_units = hw.max_units_per_cube.clamp(64, 1024);
    let units = match knob("CUBEAUDIO_NAM_UNITS") {
        Some(u) if u > 0 => (u as u32).next_power_of_two().clamp(32, max_units),
        _ => ((rows * tile / per_thread) as u32).clamp(64, max_units),
    };
    let conv = match products {
        // The general variant's layers read the ring (FiLM-modulated history), not tile_conv.
        Products::TensorCores { split } if !general => TileConvPath::TensorCore { split },
        _ => TileConvPath::Scalar { rows: tile_rows, frames: tile_frames },
    };
    (StreamsShape { rows, tile, general, staged, conv }, units)
}

/// The latency shape's register tile (2 rows × 1 frame per thread).
const SCALAR_LATENCY: TileConvPath = TileConvPath::Scalar { rows: 2, frames: 1 };

/// How the layer conv and layer1x1 compute their products (`kernels::tile_conv`). Outputs agree
/// within the references' tolerance on every path but plain tf32, which is for measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Products {
    /// Scalar FMAs in register tiles (every runtime).
    Scalar,
    /// tf32 tensor-core MMAs; `split` = error-compensated 3×TF32 (needs
    /// [`tensor_cores`](cubeaudio_kernels::tile_conv::tensor_cores)).
    TensorCores {
        /// 3×TF32 (about fp32 accuracy) rather than plain tf32.
        split: bool,
    },
}

impl Products {
    /// What a batch uses unless told otherwise: scalar register tiles. The tensor-core path
    /// measured no faster on an H200 (docs/PERFORMANCE.md, sixth measurement: the matrix stages
    /// are not what bounds this kernel), so it is opt-in: `CUBEAUDIO_NAM_PRODUCTS=tf32x3`
    /// (3×TF32) or `tf32` (plain, for measurement; outside the references' tolerance) where the
    /// device has tensor cores, or [`GpuWaveNetBatch::set_products`].
    pub fn default_for<R: Runtime>(client: &ComputeClient<R>) -> Self {
        let has = tensor_cores(client);
        match std::env::var("CUBEAUDIO_NAM_PRODUCTS").as_deref() {
            Ok("tf32x3") if has => Products::TensorCores { split: true },
            Ok("tf32") if has => Products::TensorCores { split: false },
            _ => Products::Scalar,
        }
    }
}
/// Which kernel runs a batch's convolutional streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KernelChoice {
    /// The shape-specialised columns kernel ([`super::columns`]) for batches whose every
    /// stream has one shape it covers — rows split over threads for few streams and wherever
    /// the layer weights stage in shared memory — else the
    /// interpreter; the interpreter always on a software adapter (its shader compiler takes
    /// 10 s to minutes per shape-specialised kernel). On an H200 the columns kernel takes 0.52 ms of
    /// device time for 1,024 standard streams of 128 frames against the interpreter's 0.65 ms
    /// (eleventh measurement), and with its rows split 0.054 ms for one stream of 64 frames
    /// against 0.099 ms (nineteenth, docs/PERFORMANCE.md).
    /// `CUBEAUDIO_NAM_KERNEL=interpreter|columns` overrides it (for measurements).
    #[default]
    Auto,
    /// The columns kernel whenever the batch's shape allows it, at any batch size (on a software
    /// adapter for shapes of at most 4 channels).
    Columns,
    /// The plan interpreter ([`super::kernel`]) for every batch.
    Interpreter,
}

impl KernelChoice {
    /// `CUBEAUDIO_NAM_KERNEL=interpreter|columns`, else [`KernelChoice::Auto`].
    pub fn from_env() -> Self {
        match std::env::var("CUBEAUDIO_NAM_KERNEL").as_deref() {
            Ok("interpreter") => KernelChoice::Interpreter,
            Ok("columns") => KernelChoice::Columns,
            _ => KernelChoice::Auto,
        }
    }
}

/// Blocks appended to a store once each: equal blocks get the first one's offset.
#[derive(Default)]
struct Interned {
    /// Hash of a block's contents → (offset, length) of the blocks stored with it.
    seen: std::collections::HashMap<u64, Vec<(usize, usize)>>,
}

impl Interned {
    /// The offset of `block` in `store`, appending it unless an equal block is there already.
    fn offset<T: Copy + PartialEq>(&mut self, store: &mut Vec<T>, block: &[T], bits: impl Fn(&T) -> u64) -> usize {
        use std::hash::Hasher;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        h.write_usize(block.len());
        block.iter().for_each(|v| h.write_u64(bits(v)));
        let candidates = self.seen.entry(h.finish()).or_default();
        if let Some(&(at, _)) =
            candidates.iter().find(|&&(at, len)| len == block.len() && store[at..at + len] == *block)
        {
            return at;
        }
        let at = store.len();
        store.extend_from_slice(block);
        candidates.push((at, block.len()));
        at
    }
}

/// Zeroes `state` (a whole number of [`STATE_CHUNK`]s) on the device, chunk by chunk from one
/// zero chunk: uploading zeros from the host took ~1.4 ms per standard stream (0.5 MB of rings
/// each; 2.9 s for 2,048 streams).
fn zero_state<R: Runtime>(client: &ComputeClient<R>, state: &Buffer) -> Result<()> {
    let zero = Buffer::filled(client, STATE_CHUNK, 0.0);
    let zeroing: Vec<u32> = (0..state.len / STATE_CHUNK).flat_map(|k| [0, (k * STATE_CHUNK) as u32]).collect();
    copy_chunks(client, &zero, state, &zeroing)
}

/// Copies `STATE_CHUNK`-float chunks by (source, destination) offset pairs, in launches of at
/// most 65,535 chunks (one cube each: wgpu's limit per grid dimension).
fn copy_chunks<R: Runtime>(client: &ComputeClient<R>, src: &Buffer, dst: &Buffer, routes: &[u32]) -> Result<()> {
    for part in routes.chunks(2 * 65_535) {
        copy_routes(client, src, dst, &IndexBuffer::upload(client, part), STATE_CHUNK)?;
    }
    Ok(())
}

/// How a batch's launches work on a tile (see `choose_shape`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LaunchShape {
    /// By batch size: the latency shape up to two streams per multiprocessor, then throughput.
    #[default]
    Auto,
    /// Most threads on each stream (fastest for few streams).
    Latency,
    /// 4 × 4 register tiles, fewer threads per stream (fastest for many streams).
    Throughput,
}

/// Batches of more than this many streams per multiprocessor take the throughput shape.
const WAVES_FOR_THROUGHPUT: usize = 2;
/// Widest layer array the columns kernel takes on a software adapter (compile time, see
/// `choose_columns`).
const SOFTWARE_COLUMNS_CHANNELS: usize = 4;
/// Streams' histories start on multiples of this many floats, so moving a stream's state when
/// the batch changes is whole chunks of one copy launch.
const STATE_CHUNK: usize = 256;

/// Streams of convolutional models (WaveNet, ConvNet, Linear; different models may share a batch) processed by one launch per buffer, their histories kept on the device.
pub struct GpuWaveNetBatch<R: Runtime> {
    client: ComputeClient<R>,
    max_buffer: usize,
    plans: Vec<ModelPlan>,
    /// Per stream: plan, weights, state, input and output offsets, cursor (kernel::META u32s).
    /// The cursors lag by `tick`.
    meta: Vec<u32>,
    /// `meta` on the device, uploaded once and reused while only the cursors move: every
    /// stream's cursor advances by the same frames per buffer, so the kernel adds `tick` (frames
    /// since the upload) instead of the host uploading the table each buffer.
    meta_device: Option<Handle>,
    tick: u32,
    plan: Handle,
    plan_len: usize,
    weights: Buffer,
    state: Buffer,
    staging: Staging<R>,
    shape: StreamsShape,
    units: u32,
    policy: LaunchShape,
    products: Products,
    kernel: KernelChoice,
    /// The columns kernel's shape when it runs this batch (boxed: the shape is ~300 bytes).
    columns: Option<Box<ColumnsShape>>,
    /// Forced rows split of the columns kernel (`None`: by batch size).
    row_splits: Option<usize>,
    /// Forced positions per thread of the columns kernel (`None`: by batch size).
    positions: Option<usize>,
    weight_staging: Option<bool>,
}

impl<R: Runtime> GpuWaveNetBatch<R> {
    /// Lays out `models` (one stream each, any mix of WaveNets, ConvNets and Linear models; see
    /// [`ModelPlan::build`]), allocates their histories for buffers of up to `max_buffer`
    /// frames, and prewarms them with silence.
    pub fn new(client: &ComputeClient<R>, models: &[&dyn Dsp], max_buffer: usize) -> Result<Self> {
        Self::with_kernel(client, models, max_buffer, KernelChoice::from_env())
    }

    /// [`Self::new`] with the kernel chosen up front (compiled once, here), rather than by
    /// `CUBEAUDIO_NAM_KERNEL` or [`KernelChoice::Auto`].
    pub fn with_kernel(
        client: &ComputeClient<R>,
        models: &[&dyn Dsp],
        max_buffer: usize,
        kernel: KernelChoice,
    ) -> Result<Self> {
        crate::dsp::check_buffer(max_buffer)?;
        if models.is_empty() {
            return Err(NamError::Request("a GPU batch needs at least one stream".into()));
        }
        let started = std::time::Instant::now();
        // A batch of one model (a split render, `batch_of`) repeats the same `&dyn Dsp`: build
        // its plan once and copy it.
        let mut plans: Vec<ModelPlan> = Vec::with_capacity(models.len());
        for (i, m) in models.iter().enumerate() {
            let plan = match plans.last() {
                Some(prev) if std::ptr::addr_eq(*m, models[i - 1]) => prev.clone(),
                _ => ModelPlan::build(*m)?,
            };
            plans.push(plan);
        }
        let planned = started.elapsed();
        let mut batch = Self {
            client: client.clone(),
            max_buffer,
            plans: Vec::new(),
            meta: Vec::new(),
            meta_device: None,
            tick: 0,
            plan: client.create_from_slice(u32::as_bytes(&[0])),
            plan_len: 1,
            weights: Buffer::filled(client, 1, 0.0),
            state: Buffer::filled(client, 1, 0.0),
            staging: Staging::new(client, 0, max_buffer),
            shape: StreamsShape { rows: 8, tile: 8, general: false, staged: true, conv: SCALAR_LATENCY },
            units: 64,
            policy: LaunchShape::Auto,
            products: Products::default_for(client),
            kernel,
            columns: None,
            row_splits: None,
            positions: None,
            weight_staging: None,
        };
        batch.relayout(plans, &[])?;
        let laid_out = started.elapsed();
        let all: Vec<usize> = (0..batch.streams()).collect();
        batch.prewarm(&all)?;
        tracing::debug!(
            streams = batch.streams(),
            max_buffer,
            "GPU batch: plans built in {planned:?}, laid out and uploaded by {laid_out:?}, prewarmed by {:?}",
            started.elapsed()
        );
        Ok(batch)
    }

    /// The device this batch runs on.
    pub fn client(&self) -> &ComputeClient<R> {
        &self.client
    }

    /// Streams in the batch.
    pub fn streams(&self) -> usize {
        self.plans.len()
    }

    /// Largest buffer `process` takes.
    pub fn max_buffer(&self) -> usize {
        self.max_buffer
    }

    /// The columns kernel's shape when it runs this batch (else the interpreter does).
    pub fn columns_shape(&self) -> Option<ColumnsShape> {
        self.columns.as_deref().copied()
    }

    /// The interpreter's compiled shape and threads per cube (what runs the batch when
    /// [`Self::columns_shape`] is `None`).
    pub fn shape(&self) -> (StreamsShape, u32) {
        (self.shape, self.units)
    }

    /// Chooses how launches work on a tile ([`LaunchShape::Auto`] unless set); a new shape is
    /// compiled here, not in the next `process`. Outputs do not depend on it.
    pub fn set_launch_shape(&mut self, policy: LaunchShape) -> Result<()> {
        self.policy = policy;
        let offsets = self.input_offsets();
        self.relayout(self.plans.clone(), &(0..self.streams()).map(Some).collect::<Vec<_>>())?;
        self.set_input_offsets(&offsets)
    }

    /// Chooses how the matrix stages compute ([`Products::default_for`] the device unless set);
    /// compiled here, not in the next `process`. Tensor cores on a device without them are an
    /// error, and the batch keeps its products.
    pub fn set_products(&mut self, products: Products) -> Result<()> {
        if matches!(products, Products::TensorCores { .. }) && !tensor_cores(&self.client) {
            return Err(NamError::Request("this device has no tf32 tensor cores (m16n8k8 MMA)".into()));
        }
        self.products = products;
        let offsets = self.input_offsets();
        self.relayout(self.plans.clone(), &(0..self.streams()).map(Some).collect::<Vec<_>>())?;
        self.set_input_offsets(&offsets)
    }

    /// Chooses the kernel ([`KernelChoice::Auto`] unless set or `CUBEAUDIO_NAM_KERNEL` says);
    /// compiled here, not in the next `process`. Outputs agree within the references' tolerance.
    pub fn set_kernel(&mut self, kernel: KernelChoice) -> Result<()> {
        self.kernel = kernel;
        let offsets = self.input_offsets();
        self.relayout(self.plans.clone(), &(0..self.streams()).map(Some).collect::<Vec<_>>())?;
        self.set_input_offsets(&offsets)
    }

    /// Forces how many threads share a position's rows in the columns kernel (1: unsplit; a
    /// power of two dividing every array's channels and bottleneck, else the largest that does;
    /// `None`: split for batches of at most two streams per multiprocessor). Compiled here.
    pub fn set_row_splits(&mut self, splits: Option<usize>) -> Result<()> {
        self.row_splits = splits;
        self.set_kernel(self.kernel)
    }

    /// Forces the positions each thread of the columns kernel carries (1, 2, 4 or 8; `None`: the
    /// engine's choice by batch size and shape). Compiled here.
    pub fn set_positions(&mut self, positions: Option<usize>) -> Result<()> {
        self.positions = positions;
        self.set_kernel(self.kernel)
    }

    /// Forces whether the columns kernel with split rows stages each layer's weights in shared
    /// memory (`None`: wherever two layers' weights fit; `Some(true)` cannot stage what does
    /// not fit). Compiled here.
    pub fn set_weight_staging(&mut self, staging: Option<bool>) -> Result<()> {
        self.weight_staging = staging;
        self.set_kernel(self.kernel)
    }

    /// The columns kernel's shape when it runs this batch (`None`: the interpreter).
    pub fn columns(&self) -> Option<ColumnsShape> {
        self.columns.as_deref().copied()
    }

    /// Samples replaced by 0 because they were NaN or infinite (the CPU engine's policy).
    pub fn sanitized_samples(&self) -> u64 {
        self.staging.sanitized()
    }

    /// Moves the frames run since the last meta upload into the host cursors; the device copy
    /// is then stale.
    fn fold_tick(&mut self) {
        if self.tick != 0 {
            for s in 0..self.plans.len() {
                self.meta[s * META + 5] = self.meta[s * META + 5].wrapping_add(self.tick);
            }
            self.tick = 0;
        }
        self.meta_device = None;
    }

    /// Rebuilds plan, weights and state for `plans`; `keep[i] = Some(old stream)` carries that
    /// stream's history and cursor over (a copy on the device), `None` starts from zero.
    fn relayout(&mut self, plans: Vec<ModelPlan>, keep: &[Option<usize>]) -> Result<()> {
        if plans.len() > u16::MAX as usize {
            return Err(NamError::Request(format!("{} streams exceed the limit of {}", plans.len(), u16::MAX)));
        }
        self.fold_tick();
        let (mut plan, mut weights, mut meta, mut state_len) = (Vec::new(), Vec::new(), Vec::new(), 0usize);
        let mut routes: Vec<u32> = Vec::new();
        // Streams of one capture share its plan and weights on the device (read-only in the
        // kernel): one copy instead of one per stream, in the upload and in the caches.
        let (mut plans_at, mut weights_at) = (Interned::default(), Interned::default());
        for (s, p) in plans.iter().enumerate() {
            let mut cursor = 0;
            if let Some(Some(old)) = keep.get(s) {
                let old_base = self.meta[old * META + 2] as usize;
                cursor = self.meta[old * META + 5];
                for k in (0..p.state_len).step_by(STATE_CHUNK) {
                    routes.extend_from_slice(&[(old_base + k) as u32, (state_len + k) as u32]);
                }
            }
            let plan_at = plans_at.offset(&mut plan, &p.plan, |v| *v as u64);
            let weights_at = weights_at.offset(&mut weights, &p.weights, |v| v.to_bits() as u64);
            meta.extend_from_slice(&[
                plan_at as u32,
                weights_at as u32,
                state_len as u32,
                (s * self.max_buffer) as u32,
                (s * self.max_buffer) as u32,
                cursor,
                0,
                0,
            ]);
            state_len += p.state_len.div_ceil(STATE_CHUNK) * STATE_CHUNK;
        }
        // Refuse what the device cannot hold in one buffer before touching anything: the batch
        // stays as it was (cubecl would panic on a failed allocation or binding).
        let limit = (self.client.properties().memory.max_page_size as usize).min(u32::MAX as usize);
        for (what, floats) in [("histories", state_len), ("weights", weights.len())] {
            if floats.saturating_mul(4) > limit {
                return Err(NamError::Request(format!(
                    "the batch's {what} need {} MiB; this device takes at most {} MiB in one buffer (fewer streams per batch)",
                    (floats * 4) >> 20,
                    limit >> 20
                )));
            }
        }
        let len = state_len.max(STATE_CHUNK);
        let state = Buffer { handle: self.client.empty(len * 4), len };
        zero_state(&self.client, &state)?;
        copy_chunks(&self.client, &self.state, &state, &routes)?;
        self.state = state;
        self.plan_len = plan.len();
        self.plan = self.client.create_from_slice(u32::as_bytes(&plan));
        self.weights = Buffer::upload(&self.client, &weights);
        self.meta = meta;
        self.staging.resize(plans.len());
        let hw = &self.client.properties().hardware;
        let rows = plans.iter().map(|p| p.rows).max().unwrap_or(8);
        let general = plans.iter().any(|p| p.general);
        let before = (self.shape, self.units, self.columns.clone());
        (self.shape, self.units) =
            choose_shape(hw, rows, general, self.max_buffer, plans.len(), self.policy, self.products);
        self.columns = self.choose_columns(&plans).map(Box::new);
        self.plans = plans;
        if (self.shape, self.units, self.columns.clone()) != before {
            // Compile the new shape now (a launch of zero frames changes nothing), not in the
            // next `process` on the audio path.
            let meta = self.client.create_from_slice(u32::as_bytes(&self.meta));
            let empty = Buffer::filled(&self.client, 1, 0.0);
            self.launch(meta, self.plans.len(), 0, &empty, &empty, 0);
        }
        self.client.flush().map_err(device)
    }

    /// The columns kernel's shape when every plan has one shape it runs (and the kernel is not
    /// forced to the interpreter).
    fn choose_columns(&self, plans: &[ModelPlan]) -> Option<ColumnsShape> {
        if self.kernel == KernelChoice::Interpreter {
            return None;
        }
        let (arrays, count) = arrays_of(plans.first()?)?;
        for p in &plans[1..] {
            if arrays_of(p)? != (arrays, count) {
                return None;
            }
        }
        // Software adapters keep the interpreter unless forced: one compiled kernel serves every
        // model there, while lavapipe's shader compiler takes 10–30 s per shape-specialised
        // kernel of up to 4 channels and took 8.7 minutes on the standard model's (2026-11-30);
        // forced, still only up to 4 channels.
        if cubeaudio_kernels::device::software(&self.client)
            && (self.kernel == KernelChoice::Auto
                || arrays[..count].iter().any(|a| a.channels > SOFTWARE_COLUMNS_CHANNELS))
        {
            return None;
        }
        let hw = &self.client.properties().hardware;
        let sms = hw.num_streaming_multiprocessors.map_or(DEFAULT_MULTIPROCESSORS, |n| n as usize);
        let batch = ColumnsBatch {
            streams: plans.len(),
            few: plans.len() <= WAVES_FOR_THROUGHPUT * sms,
            forced_splits: self.row_splits.or_else(|| knob("CUBEAUDIO_NAM_SPLITS")),
            forced_positions: self.positions.or_else(|| knob("CUBEAUDIO_NAM_COLUMNS")),
            staging: self.weight_staging.or_else(|| knob("CUBEAUDIO_NAM_STAGE_WEIGHTS").map(|v| v != 0)),
            max_units: hw.max_units_per_cube as usize,
            multiprocessors: hw.num_streaming_multiprocessors.map(|n| n as usize),
            forced_threads: knob("CUBEAUDIO_NAM_CUBE_THREADS"),
        };
        Some(ColumnsShape::choose(arrays, count, self.max_buffer, batch))
    }

    /// The core's prewarm — at least P zeros, in blocks of max_buffer — through `streams` only
    /// (the others' histories and cursors do not move).
    fn prewarm(&mut self, streams: &[usize]) -> Result<()> {
        self.fold_tick();
        let samples = streams.iter().map(|&s| self.plans[s].prewarm).max().unwrap_or(0);
        let mut records: Vec<u32> = Vec::with_capacity(streams.len() * META);
        for (k, &s) in streams.iter().enumerate() {
            records.extend_from_slice(&self.meta[s * META..(s + 1) * META]);
            records[k * META + 3] = (k * self.max_buffer) as u32;
            records[k * META + 4] = (k * self.max_buffer) as u32;
        }
        let silence = Buffer::filled(&self.client, streams.len() * self.max_buffer, 0.0);
        let sink = Buffer::filled(&self.client, streams.len() * self.max_buffer, 0.0);
        let mut done = 0;
        while done < samples {
            self.launch_records(&records, &silence, &sink, self.max_buffer);
            for k in 0..streams.len() {
                records[k * META + 5] = records[k * META + 5].wrapping_add(self.max_buffer as u32);
            }
            done += self.max_buffer;
        }
        for (k, &s) in streams.iter().enumerate() {
            self.meta[s * META + 5] = records[k * META + 5];
        }
        self.client.flush().map_err(device)
    }

    /// Appends a stream running `model`, prewarmed alone; returns its index. Other streams keep
    /// their histories (moved on the device) and produce the same output as without the change.
    pub fn add_stream(&mut self, model: &dyn Dsp) -> Result<usize> {
        let plan = ModelPlan::build(model)?;
        let mut plans = self.plans.clone();
        plans.push(plan);
        let mut keep: Vec<Option<usize>> = (0..self.streams()).map(Some).collect();
        keep.push(None);
        self.relayout(plans, &keep)?;
        let s = self.streams() - 1;
        self.prewarm(&[s])?;
        Ok(s)
    }

    /// Removes stream `index`; later streams move down by one.
    pub fn remove_stream(&mut self, index: usize) -> Result<()> {
        if index >= self.streams() {
            return Err(NamError::Request(format!("no stream {index} in a batch of {}", self.streams())));
        }
        if self.streams() == 1 {
            return Err(NamError::Request("a GPU batch keeps at least one stream".into()));
        }
        let mut plans = self.plans.clone();
        plans.remove(index);
        let keep: Vec<Option<usize>> = (0..self.streams()).filter(|&s| s != index).map(Some).collect();
        self.relayout(plans, &keep)
    }

    /// Clears every history and prewarms again: the state right after [`Self::new`]. The
    /// histories are zeroed in place (one copy launch) and the cursors rewound; plans, weights,
    /// allocations and the launch shape stay.
    pub fn reset(&mut self) -> Result<()> {
        self.fold_tick();
        zero_state(&self.client, &self.state)?;
        for s in 0..self.streams() {
            self.meta[s * META + 5] = 0;
        }
        let all: Vec<usize> = (0..self.streams()).collect();
        self.prewarm(&all)
    }

    fn launch_records(&self, records: &[u32], input: &Buffer, output: &Buffer, frames: usize) {
        let meta = self.client.create_from_slice(u32::as_bytes(records));
        self.launch(meta, records.len() / META, 0, input, output, frames);
    }

    /// `meta` holds `streams` records; the kernel runs every stream with its cursor + `tick`.
    fn launch(&self, meta: Handle, streams: usize, tick: u32, input: &Buffer, output: &Buffer, frames: usize) {
        // SAFETY: lengths are those of the slices the handles were created from.
        let (meta_arg, plan_arg) = unsafe {
            (ArrayArg::from_raw_parts(meta, streams * META), ArrayArg::from_raw_parts(self.plan.clone(), self.plan_len))
        };
        // SAFETY: indices the kernel forms stay inside their arrays by construction:
        // - plan and weight offsets come from `ModelPlan::build` for these very plans, stored in
        //   `relayout` once per distinct block (equal blocks share one copy: same length, same
        //   contents) (meta[0], meta[1]);
        // - state offsets: each stream's rings lie in its own `state_len` region (meta[2]) and
        //   ring positions are masked by the power-of-two ring size;
        // - input/output offsets: `s · max_buffer` into buffers of `streams · max_buffer`
        //   (host path, prewarm), or arena slots checked by the graph (`set_input_offsets`),
        //   reading and writing `frames ≤ max_buffer` samples;
        // - shared memory: every row index is below the plan's row counts, which are at most
        //   `shape.rows` (the maximum over this batch's plans), frames below `shape.tile`.
        //   The columns kernel reads the same records; its threads past the last stream read the
        //   last stream's and write nothing.
        if let Some(cols) = self.columns() {
            let cubes = streams.div_ceil(cols.streams_per_cube).max(1) as u32;
            unsafe {
                wavenet_columns_kernel::launch_unchecked::<R>(
                    &self.client,
                    CubeCount::Static(cubes, 1, 1),
                    CubeDim::new_1d(cols.units()),
                    meta_arg,
                    plan_arg,
                    self.weights.arg(),
                    self.state.arg(),
                    input.arg(),
                    output.arg(),
                    streams as u32,
                    frames as u32,
                    tick,
                    cols,
                );
            }
            return;
        }
        unsafe {
            wavenet_streams_kernel::launch_unchecked::<R>(
                &self.client,
                CubeCount::Static(streams as u32, 1, 1),
                CubeDim::new_1d(self.units),
                meta_arg,
                plan_arg,
                self.weights.arg(),
                self.state.arg(),
                input.arg(),
                output.arg(),
                frames as u32,
                tick,
                self.shape,
            );
        }
    }

    /// Queues one buffer of every stream reading from and writing to device buffers: stream `s`
    /// reads `frames` samples at its input offset in `input` (see [`Self::set_input_offsets`];
    /// `s · max_buffer` by default) and writes them at `s · max_buffer` in `output`. The caller
    /// keeps the input finite (the processing graph sanitises its inputs).
    pub fn launch_device(&mut self, input: &Buffer, output: &Buffer, frames: usize) {
        let meta =
            self.meta_device.get_or_insert_with(|| self.client.create_from_slice(u32::as_bytes(&self.meta))).clone();
        self.launch(meta, self.plans.len(), self.tick, input, output, frames);
        self.tick = self.tick.wrapping_add(frames as u32);
    }

    /// The interpreter's tables for a graph program that runs these streams as its steps
    /// (`cubeaudio_kernels::graph_program`), for one buffer of `frames`: the program reads and
    /// writes arena slots of its own, so the input and output offsets go unused. Advances the
    /// cursors as [`Self::launch_device`] does; allocates only the first time (the table's
    /// upload). The batch must run the interpreter ([`KernelChoice::Interpreter`]): its shape is
    /// the one the program compiles.
    pub fn program_tables(&mut self, frames: usize) -> StreamTables<'_> {
        let meta =
            self.meta_device.get_or_insert_with(|| self.client.create_from_slice(u32::as_bytes(&self.meta))).clone();
        let tick = self.tick;
        self.tick = self.tick.wrapping_add(frames as u32);
        StreamTables {
            meta: IndexBuffer { handle: meta, len: self.meta.len() },
            plan: IndexBuffer { handle: self.plan.clone(), len: self.plan_len },
            weights: &self.weights,
            state: &self.state,
            tick,
        }
    }

    /// Each stream's input offset (`relayout` restores the defaults; callers that keep custom
    /// offsets across it set these back).
    fn input_offsets(&self) -> Vec<u32> {
        (0..self.streams()).map(|s| self.meta[s * META + 3]).collect()
    }

    /// Where each stream reads its input in the buffer given to [`Self::launch_device`].
    /// `process` and `process_async` need the default offsets (`s · max_buffer`).
    pub fn set_input_offsets(&mut self, offsets: &[u32]) -> Result<()> {
        if offsets.len() != self.streams() {
            return Err(NamError::Request(format!("{} input offsets for {} streams", offsets.len(), self.streams())));
        }
        self.fold_tick();
        for (s, &o) in offsets.iter().enumerate() {
            self.meta[s * META + 3] = o;
        }
        Ok(())
    }

    /// Whether inputs go up from page-locked memory through a copy stream of the batch's own
    /// (CUDA; `kernels::transfer_slot`) rather than through cubecl's pageable copies.
    pub fn pinned_uploads(&self) -> bool {
        self.staging.pinned()
    }

    /// Queues one buffer of every stream (`inputs[s]` all of the same 1..=max_buffer frames)
    /// and returns at once; the device runs it while the host prepares the next one. Buffers
    /// queued back to back run in order.
    pub fn process_async(&mut self, inputs: &[&[f32]]) -> Result<PendingBuffer<R>> {
        let frames = self.staging.fill(inputs)?;
        let (input, output) = self.staging.upload()?;
        self.launch_device(&input, &output, frames);
        self.staging.pending(frames)
    }

    /// One buffer of every stream: `inputs[s]` and `outputs[s]` all hold the same number of
    /// frames, at most `max_buffer`. One kernel launch for the whole batch.
    pub fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) -> Result<()> {
        if outputs.len() != self.streams() {
            return Err(NamError::Request(format!("{} outputs for {} streams", outputs.len(), self.streams())));
        }
        self.process_async(inputs)?.wait(outputs)
    }
}
