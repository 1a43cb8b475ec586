//! The contract of a processor that runs inside a **graph program**: one launch for every
//! small processor of a graph (`cubeaudio_kernels::graph_program`).
//!
//! Such a type's device code is one of the program's item kinds (a `#[cube]` step over one
//! sample, its parameters in an array, its state in registers); each channel of an instance is
//! one item. The type says which kind and how its parameter values become the kind's device
//! parameters; the graph compiler places the items of a stage on warps with the packer and
//! fuses every stage it can into one kernel, compiled at commit.
//!
//! A type may instead run as the program's **convolution** (cabinet and room impulse
//! responses): a cooperative step of the whole cube after its stage's items
//! (`cubeaudio_kernels::partitioned_conv::convolve_cooperative`).

use cubeaudio_kernels::graph_program::{DeviceKindSet, KINDS};

use crate::error::ProcessorError;
use crate::processor::{InstanceSetup, PrepareContext, Settings};

/// A processor type whose instances run as items of a graph program.
pub trait ProgramType: Send + Sync {
    /// The item kind (`cubeaudio_kernels::graph_program::KIND_*`, or `KIND_DEVICE + k` for
    /// kind `k` of [`Self::device_kinds`]) of an instance with these settings; every channel of
    /// it is one item of that kind.
    fn kind(&self, settings: &Settings) -> u32;

    /// The set of device kinds (per-sample `#[cube]` steps defined outside the kernel library,
    /// `cubeaudio_kernels::graph_program::DeviceKinds`) this type's kind belongs to, when it is
    /// not a built-in kind. Every type of one program that has a set must give the same one.
    fn device_kinds(&self) -> Option<DeviceKindSet> {
        None
    }

    /// Samples of each channel's echo ring (a power of two above the longest delay the
    /// parameters allow); 0 for kinds without one.
    fn ring(&self, _ctx: &PrepareContext, _instance: &InstanceSetup) -> Result<usize, ProcessorError> {
        Ok(0)
    }

    /// Writes the kind's device parameters (`KIND_PARAMS[kind]` values) for `params`, the
    /// instance's parameter values in description order. Runs on the processing thread when a
    /// parameter changed: allocates nothing.
    fn device_params(&self, sample_rate: f64, settings: &Settings, params: &[f32], out: &mut [f32]);

    /// Whether an instance with these settings runs in a program (default: always); one that
    /// does not runs as its own batch.
    fn fuses(&self, _settings: &Settings) -> bool {
        true
    }

    /// Per channel, the impulse response an instance convolves its input with, for a type that
    /// runs as the program's convolution rather than as items; `None` (the default) for item
    /// kinds. When it is `Some`, `kind`, `ring` and `device_params` are not asked.
    fn convolution(
        &self,
        _ctx: &PrepareContext,
        _instance: &InstanceSetup,
    ) -> Result<Option<Vec<Vec<f32>>>, ProcessorError> {
        Ok(None)
    }
}

/// Device cost of each kind, in the packer's units (a warp costs the sum of its kinds' costs):
/// nanoseconds one warp of the kind adds per sample, measured by `kind_costs` (benches) on an
/// NVIDIA H200 through CUDA, one instance, arena in shared memory (2026-12-02,
/// docs/PERFORMANCE.md twenty-third measurement). Gain, mix, biquad, gate, compressor,
/// tremolo, drive, echo. A mixed warp measured 0.6–0.8 of its kinds' sum (diverged branches
/// overlap their latencies), so the sum is a conservative estimate.
pub const KIND_COSTS: [u32; KINDS] = [68, 89, 77, 89, 209, 148, 84, 184];

/// The packer's cost of every kind a program with `set` may hold: the built-in kinds'
/// ([`KIND_COSTS`]), then the set's own.
pub fn kind_costs(set: &DeviceKindSet) -> Vec<u32> {
    KIND_COSTS.iter().copied().chain(set.kinds().iter().map(|k| k.cost)).collect()
}
