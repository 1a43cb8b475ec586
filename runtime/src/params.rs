//! Parameters shared between any host thread and the processing side, without locks.
//!
//! Values are f32 bit patterns in atomics, laid out batch by batch in the compiled graph's
//! order, so the processing side snapshots them once per buffer into a preallocated array and
//! each batch reads a contiguous slice. A set applies from the next buffer; smoothing, where the
//! parameter asks for it, happens per sample on the device.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use crate::error::GraphError;
use crate::processor::ParamDesc;

/// Parameter values shared lock-free between the threads that set them and the one that processes.
#[derive(Debug)]
pub struct ParamStore {
    values: Box<[AtomicU32]>,
}

impl ParamStore {
    /// A store holding `initial`.
    pub fn new(initial: &[f32]) -> Self {
        Self { values: initial.iter().map(|v| AtomicU32::new(v.to_bits())).collect() }
    }

    /// Parameters held.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether it holds no parameter.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Sets parameter `index` (relaxed: a value is applied at the next buffer that reads it).
    pub fn store(&self, index: usize, value: f32) {
        self.values[index].store(value.to_bits(), Ordering::Relaxed);
    }

    /// The current value of parameter `index`.
    pub fn load(&self, index: usize) -> f32 {
        f32::from_bits(self.values[index].load(Ordering::Relaxed))
    }

    /// Copies every value into `out` (same length); allocation-free.
    pub fn snapshot(&self, out: &mut [f32]) {
        for (o, v) in out.iter_mut().zip(self.values.iter()) {
            *o = f32::from_bits(v.load(Ordering::Relaxed));
        }
    }
}

/// Parameters of one compiled graph: processor id → parameter name → (slot, description).
/// Where a parameter lives: its slot for the first graph instance, the distance between two
/// instances' slots, and its description.
#[derive(Debug, Clone)]
pub(crate) struct ParamEntry {
    pub at: usize,
    pub instance_stride: usize,
    pub desc: ParamDesc,
}

pub(crate) type ParamIndex = HashMap<String, HashMap<String, ParamEntry>>;

/// Sets parameters of one compiled graph by processor id and parameter name, from any thread.
/// Lookups by name allocate nothing when they succeed; from a real-time thread, resolve a
/// [`ParamHandle`] once and set through it (a range check and an atomic store).
#[derive(Debug, Clone)]
pub struct ParamSetter {
    store: Arc<ParamStore>,
    index: Arc<ParamIndex>,
    instances: usize,
}

/// A parameter of one committed graph, resolved once by name ([`ParamSetter::handle`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamHandle {
    slot: usize,
    min: f32,
    max: f32,
    /// The store it belongs to, so a handle of an older graph is refused instead of setting
    /// whatever parameter now has its slot.
    store: *const ParamStore,
}

// SAFETY: `store` is only compared, never dereferenced.
unsafe impl Send for ParamHandle {}
// SAFETY: as above.
unsafe impl Sync for ParamHandle {}

/// Why a set through a handle was refused; `Copy`, so reporting it allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum ParamRefused {
    /// Not finite or outside the parameter's range.
    #[error("value {value} is not finite or outside {min}..={max}")]
    OutOfRange {
        /// The refused value.
        value: f32,
        /// Lowest accepted value.
        min: f32,
        /// Highest accepted value.
        max: f32,
    },
    /// The handle was resolved on another committed graph.
    #[error("the handle belongs to another committed graph; resolve it again")]
    Stale,
}

impl ParamSetter {
    pub(crate) fn new(store: Arc<ParamStore>, index: ParamIndex, instances: usize) -> Self {
        Self { store, index: Arc::new(index), instances }
    }

    /// Slot and description of a parameter of graph instance `instance`.
    fn lookup_in(&self, instance: usize, processor: &str, param: &str) -> Option<(usize, &ParamDesc)> {
        let e = self.index.get(processor)?.get(param)?;
        (instance < self.instances).then_some((e.at + instance * e.instance_stride, &e.desc))
    }

    fn lookup(&self, processor: &str, param: &str) -> Option<(usize, &ParamDesc)> {
        self.lookup_in(0, processor, param)
    }

    /// Instances of the graph (rig copies run by one launch per buffer).
    pub fn instances(&self) -> usize {
        self.instances
    }

    /// [`Self::set`] for graph instance `instance` (`set` is instance 0).
    pub fn set_in(&self, instance: usize, processor: &str, param: &str, value: f32) -> Result<(), GraphError> {
        let (slot, desc) = self.lookup_in(instance, processor, param).ok_or_else(|| GraphError::Param {
            id: processor.into(),
            param: param.into(),
            reason: format!("no such processor or parameter in instance {instance} of {}", self.instances),
        })?;
        desc.check(value).map_err(|reason| GraphError::Param { id: processor.into(), param: param.into(), reason })?;
        self.store.store(slot, value);
        Ok(())
    }

    /// [`Self::handle`] for graph instance `instance`.
    pub fn handle_in(&self, instance: usize, processor: &str, param: &str) -> Result<ParamHandle, GraphError> {
        let (slot, desc) = self.lookup_in(instance, processor, param).ok_or_else(|| Self::unknown(processor, param))?;
        Ok(ParamHandle { slot, min: desc.min, max: desc.max, store: Arc::as_ptr(&self.store) })
    }

    fn unknown(processor: &str, param: &str) -> GraphError {
        GraphError::Param {
            id: processor.into(),
            param: param.into(),
            reason: "no such processor or parameter in the committed graph".into(),
        }
    }

    /// Checks the range and stores the value (of the first graph instance); the processing side
    /// applies it at its next buffer.
    pub fn set(&self, processor: &str, param: &str, value: f32) -> Result<(), GraphError> {
        let (slot, desc) = self.lookup(processor, param).ok_or_else(|| Self::unknown(processor, param))?;
        desc.check(value).map_err(|reason| GraphError::Param { id: processor.into(), param: param.into(), reason })?;
        self.store.store(slot, value);
        Ok(())
    }

    /// The current value of `processor`'s parameter `param`, if both exist.
    pub fn get(&self, processor: &str, param: &str) -> Option<f32> {
        let (slot, _) = self.lookup(processor, param)?;
        Some(self.store.load(slot))
    }

    /// Resolves `processor`'s parameter `param` (of the first graph instance) once, for
    /// [`Self::set_handle`].
    pub fn handle(&self, processor: &str, param: &str) -> Result<ParamHandle, GraphError> {
        self.handle_in(0, processor, param)
    }

    /// Sets a resolved parameter: a range check and an atomic store, nothing allocated or locked.
    pub fn set_handle(&self, handle: ParamHandle, value: f32) -> Result<(), ParamRefused> {
        if !std::ptr::eq(handle.store, Arc::as_ptr(&self.store)) {
            return Err(ParamRefused::Stale);
        }
        if !value.is_finite() || value < handle.min || value > handle.max {
            return Err(ParamRefused::OutOfRange { value, min: handle.min, max: handle.max });
        }
        self.store.store(handle.slot, value);
        Ok(())
    }
}
