//! Every public kernel of `cubeaudio-kernels` (and the NAM GPU engine's) at representative
//! comptime configurations.
//! `tests/snapshots.rs::every_public_kernel_is_registered` fails when a `#[cube(launch)]`
//! kernel is missing here.

use cubeaudio_kernels::activation::{activation_kernel, gating_kernel, ActivationKind, GatingMode};
use cubeaudio_kernels::biquad::biquad_bank_kernel;
use cubeaudio_kernels::ceiling::fma_ceiling_kernel;
use cubeaudio_kernels::column_tile::{column_layer_kernel, ColumnTileConfig};
use cubeaudio_kernels::conv1x1::{conv1x1_kernel, Conv1x1Config, InputSource};
use cubeaudio_kernels::delay_line::{
    append_and_stage_kernel, delay_push_kernel, delay_read_kernel, delay_read_tile_kernel,
};
use cubeaudio_kernels::dilated_conv::{
    dilated_conv_kernel, dilated_conv_push_kernel, DilatedConvConfig, HistorySource,
};
use cubeaudio_kernels::fft::{fft_kernel, FftConfig};
use cubeaudio_kernels::fir::fir_kernel;
use cubeaudio_kernels::fused_entities::fused_entities_kernel;
use cubeaudio_kernels::gain::{smoothed_gain_kernel, smoothed_mix_kernel};
use cubeaudio_kernels::graph_program::{graph_program_kernel, DeviceKinds, NoDeviceKinds, StreamStages};
use cubeaudio_kernels::matrix_tile::{matrix_tile_kernel, MatrixTileConfig, TileB, TileExchange};
use cubeaudio_kernels::partitioned_conv::{
    pconv_exchange_kernel, pconv_input_kernel, pconv_mac_kernel, pconv_output_kernel,
};
use cubeaudio_kernels::routed::{
    routed_biquad_kernel, routed_copy_kernel, routed_fir_kernel, routed_gain_kernel, routed_gate_kernel,
    routed_mix_kernel,
};
use cubeaudio_kernels::tile_conv::{tile_conv_kernel, TileConvConfig, TileConvPath};
use cubeaudio_nam::gpu::columns::{standard_arrays, wavenet_columns_kernel, ArrayShape, ColumnsShape};
use cubeaudio_nam::gpu::kernel::{wavenet_streams_kernel, StreamsShape};
use cubeaudio_nam::gpu::lstm::{lstm_streams_kernel, LstmShape};
use cubecl::prelude::*;

use crate::{builder, settings};

/// One kernel at one configuration.
pub struct KernelCase {
    /// `<kernel>__<configuration>`: the snapshot name.
    pub name: &'static str,
    /// The `#[cube(launch)]` function it instantiates.
    pub kernel: &'static str,
    /// Units per cube of the launch.
    pub cube_dim: u32,
    /// How the kernel's launch compiles it: bounds-checked unless it launches unchecked.
    pub mode: ExecutionMode,
    define: fn(&mut KernelBuilder),
}

impl KernelCase {
    /// The kernel definition a launch would compile, built without a device.
    pub fn definition(&self) -> KernelDefinition {
        let mut b = builder();
        let s = settings(self.kernel, self.cube_dim);
        s.address_type.register(&mut b.scope);
        (self.define)(&mut b);
        b.build(s)
    }
}

fn input(b: &mut KernelBuilder) -> NativeExpand<Array<f32>> {
    <Array<f32> as LaunchArg>::expand(&ArrayCompilationArg { inplace: None }, b)
}

fn output(b: &mut KernelBuilder) -> NativeExpand<Array<f32>> {
    <Array<f32> as LaunchArg>::expand_output(&ArrayCompilationArg { inplace: None }, b)
}

fn input_u32(b: &mut KernelBuilder) -> NativeExpand<Array<u32>> {
    <Array<u32> as LaunchArg>::expand(&ArrayCompilationArg { inplace: None }, b)
}

fn u32_arg(b: &mut KernelBuilder) -> NativeExpand<u32> {
    <u32 as LaunchArg>::expand(&(), b)
}

fn f32_arg(b: &mut KernelBuilder) -> NativeExpand<f32> {
    <f32 as LaunchArg>::expand(&(), b)
}

const CONV1X1_SHARED: Conv1x1Config = Conv1x1Config {
    out_channels: 16,
    in_channels: 16,
    has_bias: true,
    activation: ActivationKind::FastTanh,
    input: InputSource::Shared,
    tile_frames: 64,
};
const CONV1X1_REGISTERS: Conv1x1Config = Conv1x1Config {
    out_channels: 8,
    in_channels: 16,
    has_bias: false,
    activation: ActivationKind::Identity,
    input: InputSource::Registers,
    tile_frames: 64,
};
const TILE_PLANE: MatrixTileConfig =
    MatrixTileConfig { m: 16, k: 16, n: 4, plane: 32, b: TileB::Registers(TileExchange::Plane) };
const TILE_SHARED: MatrixTileConfig = MatrixTileConfig { m: 16, k: 16, n: 4, plane: 32, b: TileB::Shared };
const CONV_GLOBAL: DilatedConvConfig = DilatedConvConfig {
    in_channels: 16,
    out_channels: 16,
    kernel_size: 3,
    dilation: 512,
    has_bias: true,
    ring_size: 2048,
    history: HistorySource::Global,
    tile_frames: 64,
};
const CONV_SHARED: DilatedConvConfig =
    DilatedConvConfig { dilation: 4, ring_size: 512, history: HistorySource::SharedTile, ..CONV_GLOBAL };

macro_rules! case {
    ($name:literal, $kernel:ident, $dim:expr, |$b:ident| $body:expr) => {
        KernelCase {
            name: $name,
            kernel: stringify!($kernel),
            cube_dim: $dim,
            mode: ExecutionMode::Checked,
            define: |$b: &mut KernelBuilder| {
                $body;
            },
        }
    };
    (unchecked $name:literal, $kernel:ident, $dim:expr, |$b:ident| $body:expr) => {
        KernelCase { mode: ExecutionMode::Unchecked, ..case!($name, $kernel, $dim, |$b| $body) }
    };
}

/// Every kernel of the workspace with the settings its snapshot uses.
pub fn registry() -> Vec<KernelCase> {
    vec![
        case!("activation_kernel__fast_tanh", activation_kernel, 256, |b| {
            let (i, o, p, f) = (input(b), output(b), input(b), u32_arg(b));
            activation_kernel::expand(&mut b.scope, i, o, p, f, ActivationKind::FastTanh)
        }),
        case!("activation_kernel__prelu", activation_kernel, 256, |b| {
            let (i, o, p, f) = (input(b), output(b), input(b), u32_arg(b));
            activation_kernel::expand(&mut b.scope, i, o, p, f, ActivationKind::PReLU)
        }),
        case!("gating_kernel__blended_tanh_sigmoid", gating_kernel, 256, |b| {
            let (i, o, p, q, f) = (input(b), output(b), input(b), input(b), u32_arg(b));
            gating_kernel::expand(
                &mut b.scope,
                i,
                o,
                p,
                q,
                f,
                ActivationKind::Tanh,
                ActivationKind::Sigmoid,
                GatingMode::Blended,
            )
        }),
        case!("delay_push_kernel__size1024", delay_push_kernel, 256, |b| {
            let (r, i, c, f) = (output(b), input(b), u32_arg(b), u32_arg(b));
            delay_push_kernel::expand(&mut b.scope, r, i, c, f, 1024)
        }),
        case!("delay_read_kernel__size1024", delay_read_kernel, 256, |b| {
            let (r, o, s, f) = (input(b), output(b), u32_arg(b), u32_arg(b));
            delay_read_kernel::expand(&mut b.scope, r, o, s, f, 1024)
        }),
        case!("delay_read_tile_kernel__16ch_tile64_size1024", delay_read_tile_kernel, 128, |b| {
            let (r, o, s, f) = (input(b), output(b), u32_arg(b), u32_arg(b));
            delay_read_tile_kernel::expand(&mut b.scope, r, o, s, f, 16, 64, 1024)
        }),
        case!("conv1x1_kernel__16x16_shared_bias_fasttanh", conv1x1_kernel, 64, |b| {
            let (w, bias, x, y, p, f) = (input(b), input(b), input(b), output(b), input(b), u32_arg(b));
            conv1x1_kernel::expand(&mut b.scope, w, bias, x, y, p, f, CONV1X1_SHARED)
        }),
        case!("conv1x1_kernel__8x16_registers", conv1x1_kernel, 64, |b| {
            let (w, bias, x, y, p, f) = (input(b), input(b), input(b), output(b), input(b), u32_arg(b));
            conv1x1_kernel::expand(&mut b.scope, w, bias, x, y, p, f, CONV1X1_REGISTERS)
        }),
        case!("matrix_tile_kernel__16x16x4_plane", matrix_tile_kernel, 32, |b| {
            let (a, bb, c) = (input(b), input(b), output(b));
            matrix_tile_kernel::expand(&mut b.scope, a, bb, c, TILE_PLANE)
        }),
        case!("matrix_tile_kernel__16x16x4_shared", matrix_tile_kernel, 32, |b| {
            let (a, bb, c) = (input(b), input(b), output(b));
            matrix_tile_kernel::expand(&mut b.scope, a, bb, c, TILE_SHARED)
        }),
        case!("dilated_conv_kernel__16ch_k3_d512_global", dilated_conv_kernel, 64, |b| {
            let (w, bias, r, y, c, f) = (input(b), input(b), input(b), output(b), u32_arg(b), u32_arg(b));
            dilated_conv_kernel::expand(&mut b.scope, w, bias, r, y, c, f, CONV_GLOBAL)
        }),
        case!("dilated_conv_kernel__16ch_k3_d4_shared_tile", dilated_conv_kernel, 64, |b| {
            let (w, bias, r, y, c, f) = (input(b), input(b), input(b), output(b), u32_arg(b), u32_arg(b));
            dilated_conv_kernel::expand(&mut b.scope, w, bias, r, y, c, f, CONV_SHARED)
        }),
        case!("dilated_conv_push_kernel__16ch_size2048", dilated_conv_push_kernel, 256, |b| {
            let (r, i, c, f) = (output(b), input(b), u32_arg(b), u32_arg(b));
            dilated_conv_push_kernel::expand(&mut b.scope, r, i, c, f, CONV_GLOBAL)
        }),
        case!("smoothed_gain_kernel", smoothed_gain_kernel, 64, |b| {
            let (i, o, s, t, c, f) = (input(b), output(b), output(b), input(b), f32_arg(b), u32_arg(b));
            smoothed_gain_kernel::expand(&mut b.scope, i, o, s, t, c, f)
        }),
        case!("smoothed_mix_kernel", smoothed_mix_kernel, 64, |b| {
            let (d, w, o, s, t, c, f) = (input(b), input(b), output(b), output(b), input(b), f32_arg(b), u32_arg(b));
            smoothed_mix_kernel::expand(&mut b.scope, d, w, o, s, t, c, f)
        }),
        case!("biquad_bank_kernel__3_sections", biquad_bank_kernel, 64, |b| {
            let (i, o, k, s, c, f) = (input(b), output(b), input(b), output(b), u32_arg(b), u32_arg(b));
            biquad_bank_kernel::expand(&mut b.scope, i, o, k, s, c, f, 3)
        }),
        case!("fir_kernel__300_taps_size1024", fir_kernel, 256, |b| {
            let (r, t, o, c, f) = (input(b), input(b), output(b), u32_arg(b), u32_arg(b));
            fir_kernel::expand(&mut b.scope, r, t, o, c, f, 300, 1024)
        }),
        case!("fft_kernel__1024_forward", fft_kernel, 256, |b| {
            let (i, o, t) = (input(b), output(b), input(b));
            fft_kernel::expand(&mut b.scope, i, o, t, FftConfig { size: 1024, inverse: false, normalize: false })
        }),
        case!("fft_kernel__256_inverse_normalized", fft_kernel, 128, |b| {
            let (i, o, t) = (input(b), output(b), input(b));
            fft_kernel::expand(&mut b.scope, i, o, t, FftConfig { size: 256, inverse: true, normalize: true })
        }),
        case!("pconv_exchange_kernel__gather", pconv_exchange_kernel, 256, |b| {
            let (a, s, r, c, st, f, l) =
                (output(b), input_u32(b), output(b), u32_arg(b), u32_arg(b), u32_arg(b), u32_arg(b));
            pconv_exchange_kernel::expand(&mut b.scope, a, s, r, c, st, f, l, true)
        }),
        case!("pconv_exchange_kernel__add", pconv_exchange_kernel, 256, |b| {
            let (a, s, r, c, st, f, l) =
                (output(b), input_u32(b), output(b), u32_arg(b), u32_arg(b), u32_arg(b), u32_arg(b));
            pconv_exchange_kernel::expand(&mut b.scope, a, s, r, c, st, f, l, false)
        }),
        case!("pconv_input_kernel__block128", pconv_input_kernel, 128, |b| {
            let (r, l, e, d, t, s, n) = (input(b), u32_arg(b), u32_arg(b), output(b), input(b), u32_arg(b), u32_arg(b));
            pconv_input_kernel::expand(&mut b.scope, r, l, e, d, t, s, n, 128)
        }),
        case!("pconv_mac_kernel__block128", pconv_mac_kernel, 256, |b| {
            let (d, h, a, s, n, k, p) = (input(b), input(b), output(b), u32_arg(b), u32_arg(b), u32_arg(b), u32_arg(b));
            pconv_mac_kernel::expand(&mut b.scope, d, h, a, s, n, k, p, 128)
        }),
        case!("pconv_output_kernel__block128", pconv_output_kernel, 128, |b| {
            let (a, k, r, l, e, t) = (input(b), u32_arg(b), output(b), u32_arg(b), u32_arg(b), input(b));
            pconv_output_kernel::expand(&mut b.scope, a, k, r, l, e, t, 128)
        }),
        case!("routed_copy_kernel", routed_copy_kernel, 256, |b| {
            let (s, d, r, f) = (input(b), output(b), input_u32(b), u32_arg(b));
            routed_copy_kernel::expand(&mut b.scope, s, d, r, f)
        }),
        case!("routed_gain_kernel", routed_gain_kernel, 64, |b| {
            let (a, r, s, t, c, st, f) =
                (output(b), input_u32(b), output(b), input(b), f32_arg(b), u32_arg(b), u32_arg(b));
            routed_gain_kernel::expand(&mut b.scope, a, r, s, t, c, st, f)
        }),
        case!("routed_mix_kernel", routed_mix_kernel, 64, |b| {
            let (a, r, s, t, c, st, f) =
                (output(b), input_u32(b), output(b), input(b), f32_arg(b), u32_arg(b), u32_arg(b));
            routed_mix_kernel::expand(&mut b.scope, a, r, s, t, c, st, f)
        }),
        case!("routed_biquad_kernel", routed_biquad_kernel, 64, |b| {
            let (a, r, k, s, st, f) = (output(b), input_u32(b), input(b), output(b), u32_arg(b), u32_arg(b));
            routed_biquad_kernel::expand(&mut b.scope, a, r, k, s, st, f)
        }),
        case!("routed_gate_kernel", routed_gate_kernel, 64, |b| {
            let (a, r, g, s, st, f) = (output(b), input_u32(b), input(b), output(b), u32_arg(b), u32_arg(b));
            routed_gate_kernel::expand(&mut b.scope, a, r, g, s, st, f)
        }),
        case!("routed_fir_kernel", routed_fir_kernel, 128, |b| {
            let (a, t, h, rg, c, st, f) =
                (output(b), input_u32(b), input(b), output(b), u32_arg(b), u32_arg(b), u32_arg(b));
            routed_fir_kernel::expand(&mut b.scope, a, t, h, rg, c, st, f)
        }),
        case!("fma_ceiling_kernel__4096_iters", fma_ceiling_kernel, 256, |b| {
            let (o, s) = (output(b), f32_arg(b));
            fma_ceiling_kernel::expand(&mut b.scope, o, s, 4096)
        }),
        case!("lstm_streams_kernel__3layers_24hidden", lstm_streams_kernel, 96, |b| {
            let (m, w, s, i, o, f) = (input_u32(b), input(b), output(b), input(b), output(b), u32_arg(b));
            lstm_streams_kernel::expand(&mut b.scope, m, w, s, i, o, f, LstmShape { hidden: 24, layers: 3 })
        }),
        case!(unchecked "wavenet_streams_kernel__16rows_tile128", wavenet_streams_kernel, 1024, |b| {
            let (m, p, w, s, i, o, f, k) = (input_u32(b), input_u32(b), input(b), output(b), input(b), output(b), u32_arg(b), u32_arg(b));
            wavenet_streams_kernel::expand(&mut b.scope, m, p, w, s, i, o, f, k, StreamsShape { rows: 16, tile: 128, general: false, staged: true, conv: TileConvPath::Scalar { rows: 2, frames: 1 } })
        }),
        case!(unchecked "wavenet_streams_kernel__16rows_tile128_tiles4x4", wavenet_streams_kernel, 256, |b| {
            let (m, p, w, s, i, o, f, k) = (input_u32(b), input_u32(b), input(b), output(b), input(b), output(b), u32_arg(b), u32_arg(b));
            wavenet_streams_kernel::expand(&mut b.scope, m, p, w, s, i, o, f, k, StreamsShape { rows: 16, tile: 128, general: false, staged: true, conv: TileConvPath::Scalar { rows: 4, frames: 4 } })
        }),
        case!(unchecked "wavenet_streams_kernel__general_16rows_tile64", wavenet_streams_kernel, 512, |b| {
            let (m, p, w, s, i, o, f, k) = (input_u32(b), input_u32(b), input(b), output(b), input(b), output(b), u32_arg(b), u32_arg(b));
            wavenet_streams_kernel::expand(&mut b.scope, m, p, w, s, i, o, f, k, StreamsShape { rows: 16, tile: 64, general: true, staged: true, conv: TileConvPath::Scalar { rows: 2, frames: 1 } })
        }),
        case!(unchecked "wavenet_columns_kernel__3x2channels_2x32", wavenet_columns_kernel, 64, |b| {
            let (m, p, w, s, i, o, n, f, k) = (input_u32(b), input_u32(b), input(b), output(b), input(b), output(b), u32_arg(b), u32_arg(b), u32_arg(b));
            // core_wavenet.nam's shape: arrays of 3 and 2 channels, two and one layers.
            let first = ArrayShape { input_rows: 1, channels: 3, bottleneck: 3, gate_rows: 3, head_out: 2, taps: 3, layers: 2, activation: ActivationKind::Tanh, secondary: ActivationKind::Sigmoid, gating: 0, head_bias: false };
            let second = ArrayShape { input_rows: 3, channels: 2, bottleneck: 2, gate_rows: 2, head_out: 1, layers: 1, head_bias: true, ..first };
            let shape = ColumnsShape { arrays: [first, second, first], count: 2, frames: 2, lanes: 32, streams_per_cube: 2, splits: 1, staged: false };
            wavenet_columns_kernel::expand(&mut b.scope, m, p, w, s, i, o, n, f, k, shape)
        }),
        case!(unchecked "wavenet_columns_kernel__4x2channels_gated_2x32_split2", wavenet_columns_kernel, 64, |b| {
            let (m, p, w, s, i, o, n, f, k) = (input_u32(b), input_u32(b), input(b), output(b), input(b), output(b), u32_arg(b), u32_arg(b), u32_arg(b));
            // Rows split over 2 threads (the few-streams shape), a gated first array.
            let first = ArrayShape { input_rows: 1, channels: 4, bottleneck: 4, gate_rows: 8, head_out: 2, taps: 3, layers: 2, activation: ActivationKind::Tanh, secondary: ActivationKind::Sigmoid, gating: 1, head_bias: false };
            let second = ArrayShape { input_rows: 4, channels: 2, bottleneck: 2, gate_rows: 2, head_out: 1, layers: 1, gating: 0, head_bias: true, ..first };
            let shape = ColumnsShape { arrays: [first, second, first], count: 2, frames: 2, lanes: 16, streams_per_cube: 1, splits: 2, staged: false };
            wavenet_columns_kernel::expand(&mut b.scope, m, p, w, s, i, o, n, f, k, shape)
        }),
        case!(unchecked "wavenet_columns_kernel__4x2channels_gated_2x32_split2_staged", wavenet_columns_kernel, 64, |b| {
            let (m, p, w, s, i, o, n, f, k) = (input_u32(b), input_u32(b), input(b), output(b), input(b), output(b), u32_arg(b), u32_arg(b), u32_arg(b));
            // The same with each layer's weights staged in shared memory (the default where they fit).
            let first = ArrayShape { input_rows: 1, channels: 4, bottleneck: 4, gate_rows: 8, head_out: 2, taps: 3, layers: 2, activation: ActivationKind::Tanh, secondary: ActivationKind::Sigmoid, gating: 1, head_bias: false };
            let second = ArrayShape { input_rows: 4, channels: 2, bottleneck: 2, gate_rows: 2, head_out: 1, layers: 1, gating: 0, head_bias: true, ..first };
            let shape = ColumnsShape { arrays: [first, second, first], count: 2, frames: 2, lanes: 16, streams_per_cube: 1, splits: 2, staged: true };
            wavenet_columns_kernel::expand(&mut b.scope, m, p, w, s, i, o, n, f, k, shape)
        }),
        case!("tile_conv_kernel__tile64_tiles4x4_mix", tile_conv_kernel, 128, |b| {
            let (w, s, g, m, d, dims) = (input(b), input(b), input(b), input(b), output(b), input_u32(b));
            let cfg =
                TileConvConfig { tile: 64, path: TileConvPath::Scalar { rows: 4, frames: 4 }, mix: true, add: false };
            tile_conv_kernel::expand(&mut b.scope, w, s, g, m, d, dims, cfg, 4096)
        }),
        case!("column_layer_kernel__4rows_3taps_2x32", column_layer_kernel, 32, |b| {
            let (w, h, x, z, y, d, n, c) =
                (input(b), output(b), input(b), output(b), output(b), u32_arg(b), u32_arg(b), u32_arg(b));
            let cfg = ColumnTileConfig { rows: 4, taps: 3, frames: 2, lanes: 32, splits: 1, staged: false };
            column_layer_kernel::expand(&mut b.scope, w, h, x, z, y, d, n, c, cfg)
        }),
        case!("column_layer_kernel__8rows_3taps_1x32_split4", column_layer_kernel, 128, |b| {
            let (w, h, x, z, y, d, n, c) =
                (input(b), output(b), input(b), output(b), output(b), u32_arg(b), u32_arg(b), u32_arg(b));
            let cfg = ColumnTileConfig { rows: 8, taps: 3, frames: 1, lanes: 32, splits: 4, staged: false };
            column_layer_kernel::expand(&mut b.scope, w, h, x, z, y, d, n, c, cfg)
        }),
        case!("column_layer_kernel__8rows_3taps_1x32_split4_staged", column_layer_kernel, 128, |b| {
            let (w, h, x, z, y, d, n, c) =
                (input(b), output(b), input(b), output(b), output(b), u32_arg(b), u32_arg(b), u32_arg(b));
            let cfg = ColumnTileConfig { rows: 8, taps: 3, frames: 1, lanes: 32, splits: 4, staged: true };
            column_layer_kernel::expand(&mut b.scope, w, h, x, z, y, d, n, c, cfg)
        }),
        case!("append_and_stage_kernel__tile64", append_and_stage_kernel, 256, |b| {
            let (r, blk, st, dims) = (output(b), input(b), output(b), input_u32(b));
            append_and_stage_kernel::expand(&mut b.scope, r, blk, st, dims, 64, 3072)
        }),
        case!("fused_entities_kernel", fused_entities_kernel, 1024, |b| {
            let (l, t, p, s, o, e, n) =
                (input_u32(b), input_u32(b), input(b), output(b), output(b), u32_arg(b), u32_arg(b));
            fused_entities_kernel::expand(&mut b.scope, l, t, p, s, o, e, n)
        }),
        case!(unchecked "graph_program_kernel", graph_program_kernel, 256, |b| graph_program(b, 0, 0, None, None, StreamStages::default())),
        // The example rigs' cab program: convolutions of 128-sample blocks after the items, the
        // pedalboard's arena at 128 frames (11 slots) held in shared memory.
        case!(unchecked "graph_program_kernel__conv128", graph_program_kernel, 256, |b| graph_program(b, 128, 1408, None, None, StreamStages::of(&[], &[true], 1, 1))),
        // amp_cab in one launch: a standard WaveNet's stream (16 rows, 64-frame tiles) and the
        // cab's convolution, the arena in device memory.
        case!(unchecked "graph_program_kernel__conv64_streams", graph_program_kernel, 512, |b| {
            let shape = StreamsShape {
                rows: 16,
                tile: 64,
                general: false,
                staged: true,
                conv: TileConvPath::Scalar { rows: 2, frames: 1 },
            };
            graph_program(b, 64, 0, Some(shape), None, StreamStages::of(&[], &[true], 1, 1))
        }),
        // The same rig with the amp on the columns kernel (the default on a hardware GPU): the
        // standard WaveNet's shape, rows split over 4 threads, two positions each, weights
        // staged; one stream slot in a cube of 256.
        case!(unchecked "graph_program_kernel__conv64_columns", graph_program_kernel, 256, |b| {
            graph_program(b, 64, 0, None, Some(amp_at_64_frames()), StreamStages::of(&[], &[true], 1, 1))
        }),
        // The same with the amp's stage (the second of three; the cab in the third) unrolled: its
        // columns body outside the stage loop (`GraphOptions::unroll_streams`).
        case!(unchecked "graph_program_kernel__conv64_columns_unrolled", graph_program_kernel, 256, |b| {
            let unrolled = StreamStages::of(&[0, 1], &[false, false, true], 1, 1);
            graph_program(b, 64, 0, None, Some(amp_at_64_frames()), unrolled)
        }),
        // A program with a kind of its user's (`DeviceKinds`): the branch after the echo's.
        case!(unchecked "graph_program_kernel__device_kinds", graph_program_kernel, 256, |b| {
            graph_program_with::<DcBlocker>(b, 0, 1408, None, None, StreamStages::default(), true)
        }),
    ]
}

/// The standard WaveNet's columns shape in `amp_cab`'s program at 64 frames: rows split over 4
/// threads, two positions each, weights staged, one stream slot.
fn amp_at_64_frames() -> ColumnsShape {
    ColumnsShape {
        arrays: standard_arrays(),
        count: 2,
        frames: 2,
        lanes: 32,
        streams_per_cube: 1,
        splits: 4,
        staged: true,
    }
}

/// The graph program kernel with its convolution block, local arena and streams (comptime).
fn graph_program(
    b: &mut KernelBuilder,
    conv_block: usize,
    local_arena: usize,
    streams: Option<StreamsShape>,
    columns: Option<ColumnsShape>,
    unrolled: StreamStages,
) {
    graph_program_with::<NoDeviceKinds>(b, conv_block, local_arena, streams, columns, unrolled, false)
}

/// A kind defined outside the kernel library, as a user's would be: a DC blocker
/// (`y = x − x₁ + r · y₁`, r its parameter).
struct DcBlocker;

#[cube]
impl DeviceKinds for DcBlocker {
    fn step(_kind: u32, x: f32, params: &Array<f32>, at: usize, state: &mut Array<f32>) -> f32 {
        let y = x - state[0] + params[at] * state[1];
        state[0] = x;
        state[1] = y;
        y
    }
}

/// [`graph_program`] with the device kinds `K` compiled in where `device_kinds`.
fn graph_program_with<K: DeviceKinds>(
    b: &mut KernelBuilder,
    conv_block: usize,
    local_arena: usize,
    streams: Option<StreamsShape>,
    columns: Option<ColumnsShape>,
    unrolled: StreamStages,
    device_kinds: bool,
) {
    let (i, o, a) = (input(b), output(b), output(b));
    let (prog, lay, routes) = (input_u32(b), input_u32(b), input_u32(b));
    let (p, st, rings, dims, conv) = (input(b), output(b), output(b), input_u32(b), input(b));
    let (sm, sp, sw, ss) = (input_u32(b), input_u32(b), input(b), output(b));
    let (tick, cursor, frames) = (u32_arg(b), u32_arg(b), u32_arg(b));
    graph_program_kernel::expand::<K>(
        &mut b.scope,
        i,
        o,
        a,
        prog,
        lay,
        routes,
        p,
        st,
        rings,
        dims,
        conv,
        sm,
        sp,
        sw,
        ss,
        tick,
        cursor,
        frames,
        conv_block,
        local_arena,
        streams,
        columns,
        unrolled,
        device_kinds,
    );
}
