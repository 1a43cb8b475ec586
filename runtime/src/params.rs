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

/// Sets parameters of one compiled graph by processor id and parameter name, from any thread.
#[derive(Debug, Clone)]
pub struct ParamSetter {
    store: Arc<ParamStore>,
    index: Arc<HashMap<(String, String), (usize, ParamDesc)>>,
}

impl ParamSetter {
    pub(crate) fn new(store: Arc<ParamStore>, index: HashMap<(String, String), (usize, ParamDesc)>) -> Self {
        Self { store, index: Arc::new(index) }
    }

    /// Checks the range and stores the value; the processing side applies it at its next buffer.
    pub fn set(&self, processor: &str, param: &str, value: f32) -> Result<(), GraphError> {
        let (slot, desc) =
            self.index.get(&(processor.to_string(), param.to_string())).ok_or_else(|| GraphError::Param {
                id: processor.into(),
                param: param.into(),
                reason: "no such processor or parameter in the committed graph".into(),
            })?;
        desc.check(value).map_err(|reason| GraphError::Param { id: processor.into(), param: param.into(), reason })?;
        self.store.store(*slot, value);
        Ok(())
    }

    /// The current value of `processor`'s parameter `param`, if both exist.
    pub fn get(&self, processor: &str, param: &str) -> Option<f32> {
        let (slot, _) = self.index.get(&(processor.to_string(), param.to_string()))?;
        Some(self.store.load(*slot))
    }
}
