//! Device-side building blocks of cubeaudio, written once in cubecl and JIT-compiled for CUDA,
//! Vulkan (SPIR-V), WGSL and Metal.
//!
//! Entry points, one module per building block; each has `#[cube]` functions usable inside other
//! kernels, a launchable kernel, and a host helper in its `launch` module that validates sizes and
//! returns a [`KernelError`] instead of launching something wrong:
//!
//! | module | block | host helper |
//! |---|---|---|
//! | [`delay_line`] | multichannel ring buffer (`CHANNELS × SIZE`, masked wrap) | [`delay_line::DelayLine`] |
//! | [`conv1x1`] | `M × K` pointwise conv over `N` frames, bias and fused activation | [`conv1x1::launch_conv1x1`] |
//! | [`tile_conv`] | dilated conv / conv1x1 over shared-memory activation blocks: scalar register tiles everywhere, tf32 tensor cores (3×TF32) on CUDA | [`tile_conv::launch_tile_conv`] |
//! | [`matrix_tile`] | plane-cooperative small matmul (plane ops or shared-memory fallback) | [`matrix_tile::launch_matrix_tile`] |
//! | [`dilated_conv`] | causal dilated Conv1D reading history from a delay line | [`dilated_conv::DilatedConv`] |
//! | [`activation`] | tanh, NAM fast-tanh, sigmoid, ReLU family, softsign, SiLU, gating | [`activation::launch_activation`], [`activation::launch_gating`] |
//! | [`gain`] | gain and dry/wet mix with per-sample one-pole smoothing | [`gain::SmoothedGain`], [`gain::SmoothedMix`] |
//! | [`biquad`] | bank of independent TDF-II biquads | [`biquad::BiquadBank`] |
//! | [`fir`] | multichannel FIR over a delay line | [`fir::FirBank`] |
//! | [`fft`] | radix-2 complex FFT in shared memory | [`fft::launch_fft`] |
//! | [`partitioned_conv`] | uniformly partitioned FFT convolution with a direct head (cabinet and room IRs, no added latency) | [`partitioned_conv::RoutedConvolver`] |
//! | [`routed`] | gain, mix, biquad, noise gate, FIR and copies over a graph's signal arena, one launch per batch | [`routed::RoutedGain`], [`routed::copy_routes`], … |
//! | [`effects`] | per-sample gate, compressor, tremolo, drive and echo steps | (composed by the kernels below) |
//! | [`graph_program`] | a whole graph of small processors in one launch: stages separated by cube barriers, kinds laid out per warp, many instances as many cubes | [`graph_program::GraphProgram`] |
//! | [`wavenet_streams`] | convolutional NAM models (WaveNet, ConvNet, Linear) as plans one cube interprets, one stream per cube or as a step of a graph program | (`cubeaudio-nam` builds the plans) |
//! | [`wavenet_columns`] | WaveNet models of one shape compiled in (channels, taps, layers, activations), each thread a stream's positions in registers, rows split over threads for few streams; standalone or as a step of a graph program | (`cubeaudio-nam` derives the shape from a plan) |
//! | [`fused_entities`] | one launch running many entities of 11 different branch bodies by a warp layout | [`fused_entities::launch_fused_entities`] |
//!
//! [`device`] finds a CUDA device or a wgpu adapter without panicking when there is none.
//!
//! Layout convention everywhere: planar, channel-major (`x[channel * frames + frame]`), f32.

pub mod activation;
pub mod biquad;
pub mod ceiling;
pub mod column_tile;
pub mod conv1x1;
pub mod delay_line;
pub mod device;
pub mod dilated_conv;
pub mod effects;
pub mod error;
pub mod fft;
pub mod fir;
pub mod fused_entities;
pub mod gain;
pub mod graph_program;
#[cfg(feature = "cuda")]
pub mod kernel_cache;
pub mod matrix_tile;
pub mod partitioned_conv;
pub mod routed;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tile_conv;
pub mod transfer_slot;
pub mod util;
pub mod wavenet_columns;
pub mod wavenet_streams;

pub use error::KernelError;
