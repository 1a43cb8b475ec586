//! Editing on the host, swapping on the processing side at a buffer boundary.
//!
//! The editor validates, schedules, prepares and prewarms a [`CompiledGraph`] on its own thread,
//! then posts it into a one-slot mailbox (an atomic pointer). The runner looks into the mailbox
//! once, at the start of each buffer: a whole buffer always runs on one graph, old or new. The
//! graph it replaces goes back through a second mailbox for the editor to free, so device
//! memory is released on the editing side. Neither side ever waits for the other.

use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::Arc;

use cubecl::prelude::*;

use super::compiled::{CompiledGraph, GraphOptions, Pending};
use super::spec::GraphSpec;
use crate::engine::Engine;
use crate::error::RuntimeError;
use crate::params::ParamSetter;
use crate::registry::Registry;

struct Mailbox<T> {
    slot: AtomicPtr<T>,
}

impl<T> Mailbox<T> {
    fn new() -> Self {
        Self { slot: AtomicPtr::new(ptr::null_mut()) }
    }

    /// Leaves `value`; returns what was there and not yet taken.
    fn post(&self, value: Box<T>) -> Option<Box<T>> {
        let old = self.slot.swap(Box::into_raw(value), Ordering::AcqRel);
        // SAFETY: every non-null pointer in the slot came from Box::into_raw and is taken once.
        (!old.is_null()).then(|| unsafe { Box::from_raw(old) })
    }

    fn take(&self) -> Option<Box<T>> {
        let p = self.slot.swap(ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: as in `post`.
        (!p.is_null()).then(|| unsafe { Box::from_raw(p) })
    }
}

impl<T> Drop for Mailbox<T> {
    fn drop(&mut self) {
        drop(self.take());
    }
}

struct Exchange<R: Runtime> {
    incoming: Mailbox<CompiledGraph<R>>,
    retired: Mailbox<CompiledGraph<R>>,
    /// Commits posted and commits the runner switched to.
    posted: AtomicU64,
    switched: AtomicU64,
}

/// The host side: compiles and commits graphs.
pub struct GraphEditor<R: Runtime> {
    engine: Engine<R>,
    registry: Arc<Registry<R>>,
    options: GraphOptions,
    exchange: Arc<Exchange<R>>,
}

/// The processing side: runs buffers on the latest committed graph.
pub struct GraphRunner<R: Runtime> {
    engine: Engine<R>,
    current: Option<Box<CompiledGraph<R>>>,
    exchange: Arc<Exchange<R>>,
}

/// What one buffer ran on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferReport {
    /// Kernel launches queued for this buffer.
    pub launches: u32,
    /// True when this buffer was the first on a newly committed graph.
    pub switched: bool,
    /// Commits switched to so far (1 for the first graph).
    pub generation: u64,
}

/// An editor and a runner sharing one exchange.
pub fn graph_pair<R: Runtime>(
    engine: Engine<R>,
    registry: Arc<Registry<R>>,
    options: GraphOptions,
) -> (GraphEditor<R>, GraphRunner<R>) {
    let exchange = Arc::new(Exchange {
        incoming: Mailbox::new(),
        retired: Mailbox::new(),
        posted: AtomicU64::new(0),
        switched: AtomicU64::new(0),
    });
    (
        GraphEditor { engine: engine.clone(), registry, options, exchange: exchange.clone() },
        GraphRunner { engine, current: None, exchange },
    )
}

// SAFETY: graphs move between threads only through the mailboxes, whole; the compute client
// they hold is thread-safe.
unsafe impl<R: Runtime> Send for GraphEditor<R> {}
unsafe impl<R: Runtime> Send for GraphRunner<R> {}
unsafe impl<R: Runtime> Send for Exchange<R> {}
unsafe impl<R: Runtime> Sync for Exchange<R> {}

impl<R: Runtime> GraphEditor<R> {
    /// Compiles `spec` (validation errors come back here, nothing changes on the processing
    /// side) and hands it to the runner, which switches at its next buffer. Returns the new
    /// graph's parameter setter.
    pub fn commit(&mut self, spec: &GraphSpec) -> Result<ParamSetter, RuntimeError> {
        let graph = CompiledGraph::compile(&self.engine, &self.registry, spec, &self.options)?;
        let setter = graph.param_setter();
        self.collect();
        // A graph posted but not yet picked up is superseded: free it here.
        drop(self.exchange.incoming.post(Box::new(graph)));
        self.exchange.posted.fetch_add(1, Ordering::AcqRel);
        Ok(setter)
    }

    /// Frees graphs the runner retired.
    pub fn collect(&mut self) {
        drop(self.exchange.retired.take());
    }

    /// Commits posted / commits the runner has switched to.
    pub fn progress(&self) -> (u64, u64) {
        (self.exchange.posted.load(Ordering::Acquire), self.exchange.switched.load(Ordering::Acquire))
    }
}

impl<R: Runtime> GraphRunner<R> {
    fn switch(&mut self) -> bool {
        let Some(new) = self.exchange.incoming.take() else { return false };
        if let Some(old) = self.current.replace(new) {
            // If the editor has not freed the previous retiree yet, that one is freed here
            // (rare: two commits within one buffer).
            drop(self.exchange.retired.post(old));
        }
        self.exchange.switched.fetch_add(1, Ordering::AcqRel);
        true
    }

    /// One buffer on the current graph (switching first if a commit arrived).
    pub fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) -> Result<BufferReport, RuntimeError> {
        let (pending, report) = self.process_async(inputs)?;
        pending.wait(outputs)?;
        Ok(report)
    }

    /// Queues one buffer; the [`Pending`] fetches its output.
    pub fn process_async(&mut self, inputs: &[&[f32]]) -> Result<(Pending<R>, BufferReport), RuntimeError> {
        let switched = self.switch();
        let graph = self.current.as_mut().ok_or(RuntimeError::NoGraph)?;
        let pending = graph.process_async(&self.engine, inputs)?;
        let report = BufferReport {
            launches: graph.launches_per_buffer(),
            switched,
            generation: self.exchange.switched.load(Ordering::Acquire),
        };
        Ok((pending, report))
    }

    /// The graph committed last, once one is.
    pub fn graph(&self) -> Option<&CompiledGraph<R>> {
        self.current.as_deref()
    }

    /// Resets every processor of the current graph (e.g. after a device error or a transport
    /// jump).
    pub fn reset(&mut self) -> Result<(), RuntimeError> {
        let engine = self.engine.clone();
        match self.current.as_mut() {
            Some(g) => g.reset(&engine),
            None => Err(RuntimeError::NoGraph),
        }
    }
}
