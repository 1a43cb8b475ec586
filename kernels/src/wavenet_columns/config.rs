//! The columns kernel's compile-time shapes: per layer array its channels, bottleneck, taps,
//! layers, activations, gating and head ([`ArrayShape`]), and how threads take a buffer's
//! positions ([`ColumnsShape`]), chosen per batch and device by [`ColumnsShape::choose`].

use crate::activation::ActivationKind;
use crate::wavenet_streams::{ARRAY_HEADER, LAYER_RECORD, MAX_TILE};

/// Layer arrays a shape may have.
pub const MAX_ARRAYS: usize = 3;

/// Streams per multiprocessor from which a split shape carries four positions per thread
/// instead of two ([`ColumnsShape::choose`]).
pub const LARGE_BATCH_PER_MULTIPROCESSOR: usize = 8;
/// Multiprocessors assumed where the runtime does not say (wgpu).
pub const DEFAULT_MULTIPROCESSORS: usize = 64;

/// One layer array's compile-time shape (every layer of the array alike).
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub struct ArrayShape {
    /// Rows the rechannel reads (1 for the first array, the previous array's channels after).
    pub input_rows: usize,
    /// Channels of the residual stream.
    pub channels: usize,
    /// Rows of the activation (and of the head accumulator).
    pub bottleneck: usize,
    /// Rows of the layer conv (bottleneck, or twice it when gated or blended).
    pub gate_rows: usize,
    /// Rows out of the head rechannel.
    pub head_out: usize,
    /// Taps of the layer convs.
    pub taps: usize,
    /// Layers.
    pub layers: usize,
    /// The layers' activation.
    pub activation: ActivationKind,
    /// The gate's activation (gated and blended layers).
    pub secondary: ActivationKind,
    /// 0 none, 1 gated, 2 blended.
    pub gating: u32,
    /// The head rechannel has a bias.
    pub head_bias: bool,
}

impl ArrayShape {
    /// Offset of a layer's layer1x1 from its conv weights: the plan lays out conv, bias and the
    /// one-row mixin before it (`cubeaudio-nam`'s plan).
    pub fn layer1x1_at(&self) -> usize {
        self.gate_rows * self.channels * self.taps + 2 * self.gate_rows
    }

    /// Floats of one layer's weight block: conv, bias, mixin, layer1x1 and its bias (activation
    /// parameters apart).
    pub fn layer_block(&self) -> usize {
        self.layer1x1_at() + self.channels * self.bottleneck + self.channels
    }
}

/// What [`ColumnsShape::choose`] needs to know of the batch and the device.
#[derive(Debug, Clone, Copy)]
pub struct ColumnsBatch {
    /// Streams in the batch.
    pub streams: usize,
    /// Few enough streams per multiprocessor to split rows over threads.
    pub few: bool,
    /// A forced split (`CUBEAUDIO_NAM_SPLITS`; 1: unsplit).
    pub forced_splits: Option<usize>,
    /// Forced positions per thread (`CUBEAUDIO_NAM_COLUMNS`, `set_positions`; 1, 2, 4 or 8).
    pub forced_positions: Option<usize>,
    /// Whether split rows stage their weights in shared memory (`CUBEAUDIO_NAM_STAGE_WEIGHTS`,
    /// `set_weight_staging`; `None`: wherever they fit).
    pub staging: Option<bool>,
    /// The device's threads per cube.
    pub max_units: usize,
    /// The device's multiprocessors, where the runtime reports them (CUDA; wgpu does not).
    pub multiprocessors: Option<usize>,
    /// Forced threads per cube of the unsplit kernel (`CUBEAUDIO_NAM_CUBE_THREADS`; a power of
    /// two from 32 to 1024, else ignored).
    pub forced_threads: Option<usize>,
}

/// The compile-time shape of a columns launch: the model's arrays and how threads take frames.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub struct ColumnsShape {
    /// Layer arrays (the first `count`; the rest repeat the first and are never used).
    pub arrays: [ArrayShape; MAX_ARRAYS],
    /// Layer arrays in the model.
    pub count: usize,
    /// Positions per thread.
    pub frames: usize,
    /// Threads per stream (a tile is `frames · lanes` positions, at most [`MAX_TILE`]).
    pub lanes: usize,
    /// Streams per cube.
    pub streams_per_cube: usize,
    /// Threads sharing one position's rows ([`super::split`]; 1: a thread owns every row).
    pub splits: usize,
    /// Rows split over threads: each layer's weights staged in shared memory, the next layer's
    /// fetched while this one computes ([`super::split::split_layer_array`]).
    pub staged: bool,
}

impl ColumnsShape {
    /// Plan offset of array `i`'s record from the plan's start.
    pub fn record_at(&self, i: usize) -> usize {
        1 + self.arrays[..i].iter().map(|a| ARRAY_HEADER + a.layers * LAYER_RECORD).sum::<usize>()
    }

    fn widest(&self, rows: impl Fn(&ArrayShape) -> usize) -> usize {
        self.arrays[..self.count].iter().map(rows).max().unwrap_or(1)
    }

    /// Registers of one position (residual, conv rows, head sum, head out, input).
    pub fn rows_per_position(&self) -> usize {
        self.widest(|a| a.channels + a.gate_rows + a.bottleneck) + self.widest(|a| a.head_out) + 1
    }

    /// Threads per cube.
    pub fn units(&self) -> u32 {
        (self.lanes * self.splits * self.streams_per_cube) as u32
    }

    /// Rows of a stream's shared block when rows are split: the widest exchange (a later array's
    /// input channels, an activation or head sum).
    pub fn shared_rows(&self) -> usize {
        self.widest(|a| a.bottleneck.max(a.input_rows))
    }

    /// Floats of shared memory a cube takes: per stream slot its exchange block and weight
    /// stage (rows split), else none.
    pub fn shared_floats(&self) -> usize {
        if self.splits > 1 {
            let stage = if self.staged { self.stage_floats() } else { 1 };
            (self.shared_rows() * self.frames * self.lanes + stage) * self.streams_per_cube
        } else {
            0
        }
    }

    /// Floats of the split kernel's weight stage: two blocks of the widest layer's weights.
    pub fn stage_floats(&self) -> usize {
        2 * self.widest(ArrayShape::layer_block)
    }

    /// The largest power of two up to `most` that divides every array's channels and bottleneck
    /// (the rows [`super::split`] splits).
    pub fn max_splits(&self, most: usize) -> usize {
        let arrays = &self.arrays[..self.count];
        let mut s = 1;
        while s * 2 <= most
            && arrays.iter().all(|a| a.channels.is_multiple_of(s * 2) && a.bottleneck.is_multiple_of(s * 2))
        {
            s *= 2;
        }
        s
    }

    /// Label for reports.
    pub fn label(&self) -> String {
        let staged = if self.staged { ", weights staged in shared memory" } else { "" };
        let split =
            if self.splits > 1 { format!(", rows split over {} threads{staged}", self.splits) } else { String::new() };
        format!("columns {} × {} frames{split}, {} streams per cube", self.lanes, self.frames, self.streams_per_cube)
    }

    /// The launch shape for a batch whose every stream has `arrays` (`cubeaudio-nam`'s `arrays_of`):
    /// as many positions per thread as fit ~128 registers of columns (2 for the standard model,
    /// 4 for nano), since each weight load then feeds that many FMAs — measured on an H200 for
    /// the standard model at 128 frames, one stream took 0.37 ms of device time per buffer with
    /// one position per thread, 0.17 ms with two, 0.36 ms with four (registers spill).
    /// `CUBEAUDIO_NAM_COLUMNS=F` (or `batch.forced_positions`) forces `F` (1, 2, 4, 8).
    ///
    /// Batches of few streams, and any batch whose layer weights stage in shared memory, split
    /// rows over threads instead (below), one stream per cube, two positions per thread (four
    /// from [`LARGE_BATCH_PER_MULTIPROCESSOR`] streams per multiprocessor). Otherwise cubes are
    /// 256 or 512 threads (at most `max_units`, the device's limit; `CUBEAUDIO_NAM_CUBE_THREADS`
    /// forces a power of two): the streams of a cube share its barriers, and CUDA's launch bound
    /// is the cube's size, so nvcc budgets registers per thread as 65,536 / threads.
    pub fn choose(arrays: [ArrayShape; MAX_ARRAYS], count: usize, max_buffer: usize, batch: ColumnsBatch) -> Self {
        let ColumnsBatch {
            streams,
            few,
            forced_splits,
            forced_positions,
            staging,
            max_units,
            multiprocessors,
            forced_threads,
        } = batch;
        let tile = max_buffer.next_power_of_two().clamp(8, MAX_TILE);
        let mut shape =
            ColumnsShape { arrays, count, frames: 1, lanes: tile, streams_per_cube: 1, splits: 1, staged: false };
        let per_position = shape.rows_per_position();
        // Two blocks of a layer's weights next to the exchange block, in 48 KiB of static
        // shared memory (every backend's floor); `staging` may turn it off.
        let stages = (shape.stage_floats() + shape.shared_rows() * tile) * 4 <= 48 * 1024 && staging.unwrap_or(true);
        // A position's rows split over up to 4 threads, two positions per thread, one stream per
        // cube: for few streams (`few`: at most two per multiprocessor), and at every batch size
        // where the weights stage. `forced_splits` (`CUBEAUDIO_NAM_SPLITS`, or the batch's
        // `set_row_splits`) forces the split (1: unsplit). Standard model on an H200, queued
        // device time per buffer: one stream of 64 frames split over 4 threads × 2 positions
        // 0.054 ms, over 8 × 2 0.060, 4 × 4 0.081, 8 × 1 0.093, 2 × 4 0.152, the interpreter
        // 0.099 (2026-12-01, nineteenth measurement); staged 0.042 ms, and against the unsplit
        // kernel at 64 / 128 frames: 512 streams 0.099 / 0.195 ms vs 0.254 / 0.257, 1,024
        // 0.190 / 0.372 vs 0.261 / 0.422, 2,048 0.364 / 0.720 vs 0.430 / 0.843 (2026-12-02,
        // twentieth measurement).
        let splits = match forced_splits {
            Some(s) => shape.max_splits(s.max(1)),
            None if few || stages => shape.max_splits(4),
            None => 1,
        };
        if splits > 1 {
            // Two positions per thread, four past eight streams per multiprocessor, where each
            // staged weight feeding four FMAs beats having twice the threads in flight. Standard
            // model on an H200, queued device time per buffer, 2 → 4 positions over 4 splits
            // (2026-12-02, twenty-first measurement): 128 frames, 512 streams 187 → 203 µs,
            // 2,048 699 → 626, 3,584 1,205 → 1,052; 64 frames 99 → 104, 361 → 329, 613 → 559.
            // Only where the device reports its multiprocessors: on Vulkan's assumed count four
            // positions started at 512 streams and were slower there (queued 0.639 vs 0.416 ms
            // at 128 frames, 2026-12-02).
            let large = multiprocessors.is_some_and(|sms| streams >= LARGE_BATCH_PER_MULTIPROCESSOR * sms);
            let positions = if large { 4 } else { 2 };
            shape.frames = forced_positions.filter(|f| [1, 2, 4, 8].contains(f)).unwrap_or(positions).min(tile);
            shape.lanes = tile / shape.frames;
            shape.splits = shape.max_splits(splits.min((max_units / shape.lanes).max(1)));
            shape.staged = stages;
            return shape;
        }
        let frames = match forced_positions {
            Some(f) if [1, 2, 4, 8].contains(&f) => f,
            _ => [4, 2, 1].into_iter().find(|f| f * per_position <= 128).unwrap_or(1),
        };
        shape.frames = frames.min(tile);
        shape.lanes = tile / shape.frames;
        // Wide shapes (more than 64 registers of columns per thread) with more than one wave of
        // 256-thread cubes take 512-thread cubes: CUDA's launch bound then holds nvcc to 128
        // registers per thread, 16 warps per multiprocessor instead of 8 (211 registers at 256
        // threads). Standard model on an H200, 128 frames, queued device time per buffer
        // (2026-12-01): 2,048 streams 1.052 → 0.844 ms, 1,024 streams 0.520 → 0.422 ms; with one
        // wave or less the larger cubes leave multiprocessors idle (512 streams 0.257 → 0.407 ms).
        let per_cube = (256 / shape.lanes).max(1);
        let wide = shape.frames * per_position > 64;
        let default =
            if wide && streams > per_cube * multiprocessors.unwrap_or(DEFAULT_MULTIPROCESSORS) { 512 } else { 256 };
        let threads = forced_threads
            .filter(|t| t.is_power_of_two() && (32..=1024).contains(t))
            .unwrap_or(default)
            .min(max_units.max(shape.lanes));
        shape.streams_per_cube = (threads / shape.lanes).clamp(1, streams.max(1));
        shape
    }
}

/// The standard WaveNet's two arrays (16 then 8 channels, 10 layers of 3 taps each, tanh, no
/// gating; the unused third slot repeats the first): for tests and generated-code snapshots of
/// whatever takes a columns shape.
pub fn standard_arrays() -> [ArrayShape; MAX_ARRAYS] {
    let array = |input_rows, channels, head_out| ArrayShape {
        input_rows,
        channels,
        bottleneck: channels,
        gate_rows: channels,
        head_out,
        taps: 3,
        layers: 10,
        activation: ActivationKind::Tanh,
        secondary: ActivationKind::Identity,
        gating: 0,
        head_bias: false,
    };
    let a = array(1, 16, 8);
    [a, array(16, 8, 1), a]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(streams: usize, multiprocessors: usize) -> ColumnsBatch {
        ColumnsBatch {
            streams,
            few: streams <= 2 * multiprocessors,
            forced_splits: None,
            forced_positions: None,
            staging: None,
            max_units: 1024,
            multiprocessors: Some(multiprocessors),
            forced_threads: None,
        }
    }

    #[test]
    fn large_batches_carry_four_positions_per_thread_and_few_streams_two() {
        let sms = 132;
        for (streams, positions) in [
            (1, 2),
            (512, 2),
            (LARGE_BATCH_PER_MULTIPROCESSOR * sms - 1, 2),
            (LARGE_BATCH_PER_MULTIPROCESSOR * sms, 4),
            (4096, 4),
        ] {
            let shape = ColumnsShape::choose(standard_arrays(), 2, 128, batch(streams, sms));
            assert_eq!(
                (shape.splits, shape.frames, shape.lanes),
                (4, positions, 128 / positions),
                "{streams} streams: {}",
                shape.label()
            );
            assert!(shape.staged, "{streams} streams: {}", shape.label());
        }
        let forced = ColumnsBatch { forced_positions: Some(2), ..batch(4096, sms) };
        assert_eq!(ColumnsShape::choose(standard_arrays(), 2, 128, forced).frames, 2);
        let unknown = ColumnsBatch { multiprocessors: None, ..batch(4096, sms) };
        assert_eq!(ColumnsShape::choose(standard_arrays(), 2, 128, unknown).frames, 2, "no multiprocessor count: two");
    }
}
