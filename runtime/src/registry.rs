//! Processor types by name.

use std::collections::BTreeMap;
use std::sync::Arc;

use cubecl::prelude::*;

use crate::processor::ProcessorType;

/// The types a graph may instantiate. [`Registry::with_builtins`] holds gain, mix, eq,
/// noise_gate, fir and ir; other crates add theirs (`cubeaudio-nam` adds `nam`).
pub struct Registry<R: Runtime> {
    types: BTreeMap<&'static str, Arc<dyn ProcessorType<R>>>,
}

impl<R: Runtime> Default for Registry<R> {
    fn default() -> Self {
        Self { types: BTreeMap::new() }
    }
}

impl<R: Runtime> Registry<R> {
    /// A registry of the built-in types (gain, mix, eq, noise_gate, fir, ir).
    pub fn with_builtins() -> Self {
        let mut r = Self::default();
        for t in crate::builtins::all() {
            r.register(t);
        }
        r
    }

    /// Adds or replaces a type under its name.
    pub fn register(&mut self, t: Arc<dyn ProcessorType<R>>) {
        self.types.insert(t.name(), t);
    }

    /// The type registered as `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn ProcessorType<R>>> {
        self.types.get(name)
    }

    /// Every registered name, sorted.
    pub fn names(&self) -> Vec<&'static str> {
        self.types.keys().copied().collect()
    }
}
