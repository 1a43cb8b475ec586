//! Item kinds whose device code lives outside the library: a crate that defines a processor
//! writes its per-sample `#[cube]` step, implements [`DeviceKinds`] for a type of its own, and
//! the graph program compiles that step in as a branch beside the built-in kinds — the
//! processor then runs fused in the graph's one launch, laid out per warp by the packer like
//! any built-in kind.
//!
//! The kernel is generic over the set (`graph_program_kernel::<K>`), and Rust cannot name a
//! type chosen at run time, so [`DeviceKindSet::of`] instantiates the launch for every runtime
//! this crate is built with (CUDA, wgpu) when the set is made; [`GraphProgram`]
//! (super::GraphProgram) picks the one of the runtime it runs on. One set per program: a crate
//! with several kinds dispatches on the kind index inside its own [`DeviceKinds::step`].

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::Arc;

use cubecl::prelude::*;

use super::launch::{launch_program, ProgramArgs};
use super::{ITEM_STATE, KINDS, KIND_PARAMS};

/// The first device kind's number: kind `k` of a set is item kind `KIND_DEVICE + k`.
pub const KIND_DEVICE: u32 = KINDS as u32;
/// Most kinds one set holds.
pub const MAX_DEVICE_KINDS: usize = 16;
/// Most device parameters one device kind takes.
pub const MAX_DEVICE_PARAMS: usize = 16;

/// Per-sample device code of a set of item kinds defined outside the library.
///
/// `step` runs once per sample of an item of kind `kind` (0-based within the set): `x` the
/// input sample, the item's device parameters at `params[at ..]` (as many as its
/// [`DeviceKind::params`], written by the host, finite), and its [`ITEM_STATE`] state floats
/// in `state` — registers for the whole buffer, kept between buffers. It returns the output
/// sample; a non-finite one is written as 0 (as every kind's is). It must not read past its
/// parameters nor touch anything else: the program runs it for every item of its kind of every
/// instance, side by side in a warp.
#[cube]
pub trait DeviceKinds: 'static + Send + Sync {
    fn step(kind: u32, x: f32, params: &Array<f32>, at: usize, state: &mut Array<f32>) -> f32;
}

/// The empty set: programs of built-in kinds only (the kernel compiles no branch for it).
pub struct NoDeviceKinds;

#[cube]
impl DeviceKinds for NoDeviceKinds {
    fn step(_kind: u32, x: f32, _params: &Array<f32>, _at: usize, _state: &mut Array<f32>) -> f32 {
        x
    }
}

/// The host's side of one device kind: what the program checks, lays out and tests it by.
#[derive(Clone, Copy)]
pub struct DeviceKind {
    /// For errors and reports.
    pub name: &'static str,
    /// Device parameters per item (1 ..= [`MAX_DEVICE_PARAMS`]).
    pub params: usize,
    /// The packer's cost of a warp of this kind, in the units of the built-in kinds' table
    /// (nanoseconds per sample one warp adds on the device it was measured on; `kind_costs`
    /// in `benches` measures a kind). Warps of costlier kinds are packed first.
    pub cost: u32,
    /// The state an item starts from (and returns to on reset) for its parameters: smoothers
    /// at their targets, say.
    pub initial_state: fn(params: &[f32]) -> [f32; ITEM_STATE],
    /// The same step in plain Rust, f64 (parameters as uploaded, widened): what tests compare
    /// the device with.
    pub reference: fn(x: f64, params: &[f64], state: &mut [f64; ITEM_STATE]) -> f64,
}

impl fmt::Debug for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceKind").field("name", &self.name).field("params", &self.params).finish()
    }
}

/// The launch of the program with one set's kinds, on runtime `R`.
pub(super) type Launch<R> = fn(&ComputeClient<R>, &ProgramArgs<'_>);

/// A [`DeviceKinds`] type and its kinds' descriptions, chosen at run time (a processor type
/// hands one to the graph compiler). Cheap to clone; two sets are equal when they are made from
/// the same type.
#[derive(Clone)]
pub struct DeviceKindSet {
    kinds: Arc<[DeviceKind]>,
    set: Option<(TypeId, &'static str)>,
    launches: Arc<[(TypeId, Box<dyn Any + Send + Sync>)]>,
}

impl DeviceKindSet {
    /// No device kinds.
    pub fn none() -> Self {
        Self { kinds: Arc::new([]), set: None, launches: Arc::new([]) }
    }

    /// `K`'s kinds, described by `kinds` in the order of `K::step`'s `kind`.
    ///
    /// # Safety
    ///
    /// The graph program is launched without bounds checks (every index it forms is validated
    /// on the host; checks cost `amp_cab`'s program 19 % of its device time), and `K::step`
    /// runs inside it: for every kind `k` of `kinds`, `K::step(k, …)` must read `params` only
    /// at `at .. at + kinds[k].params` and `state` only at `0 .. ITEM_STATE`, and touch nothing
    /// else. A step that indexes past them reads or writes device memory it does not own.
    pub unsafe fn of<K: DeviceKinds>(kinds: Vec<DeviceKind>) -> Result<Self, crate::KernelError> {
        let invalid = |reason: String| crate::KernelError::Invalid { kernel: "graph_program", reason };
        if kinds.is_empty() || kinds.len() > MAX_DEVICE_KINDS {
            return Err(invalid(format!("a device-kind set holds 1..={MAX_DEVICE_KINDS} kinds, not {}", kinds.len())));
        }
        for k in &kinds {
            if k.params == 0 || k.params > MAX_DEVICE_PARAMS {
                return Err(invalid(format!(
                    "device kind `{}` takes {} parameters (1..={MAX_DEVICE_PARAMS})",
                    k.name, k.params
                )));
            }
        }
        let mut launches: Vec<(TypeId, Box<dyn Any + Send + Sync>)> = Vec::new();
        #[cfg(feature = "cuda")]
        {
            type C = cubecl::cuda::CudaRuntime;
            launches.push((TypeId::of::<C>(), Box::new(launch_program::<K, C> as Launch<C>)));
        }
        #[cfg(feature = "wgpu")]
        {
            type W = cubecl::wgpu::WgpuRuntime;
            launches.push((TypeId::of::<W>(), Box::new(launch_program::<K, W> as Launch<W>)));
        }
        Ok(Self {
            kinds: kinds.into(),
            set: Some((TypeId::of::<K>(), std::any::type_name::<K>())),
            launches: launches.into(),
        })
    }

    /// The kinds, in order.
    pub fn kinds(&self) -> &[DeviceKind] {
        &self.kinds
    }

    /// Device kind `kind` (an item kind, `KIND_DEVICE + k`), if the set has it.
    pub fn get(&self, kind: u32) -> Option<&DeviceKind> {
        kind.checked_sub(KIND_DEVICE).and_then(|k| self.kinds.get(k as usize))
    }

    /// Device parameters of an item of `kind`: a built-in kind's, or one of this set's; 0 for
    /// neither.
    pub fn params_of(&self, kind: u32) -> usize {
        KIND_PARAMS.get(kind as usize).copied().or_else(|| self.get(kind).map(|k| k.params)).unwrap_or(0)
    }

    /// The Rust type of the set, for errors.
    pub fn type_name(&self) -> &'static str {
        self.set.map_or("none", |s| s.1)
    }

    /// The program's launch with this set on `R`, if the set was made for it.
    pub(super) fn launch<R: Runtime>(&self) -> Option<Launch<R>> {
        if self.set.is_none() {
            return Some(launch_program::<NoDeviceKinds, R>);
        }
        self.launches.iter().find(|(id, _)| *id == TypeId::of::<R>()).and_then(|(_, f)| f.downcast_ref().copied())
    }
}

impl Default for DeviceKindSet {
    fn default() -> Self {
        Self::none()
    }
}

impl PartialEq for DeviceKindSet {
    fn eq(&self, other: &Self) -> bool {
        self.set.map(|s| s.0) == other.set.map(|s| s.0)
    }
}

impl fmt::Debug for DeviceKindSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceKindSet").field("type", &self.type_name()).field("kinds", &self.kinds).finish()
    }
}
