//! Handing a prepared instance to the audio thread without it ever waiting or freeing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use cubeaudio_nam::live::Instance;

/// One instance in transit: a background thread offers a new one; the audio thread swaps it
/// with its current one (only `try_lock`: it never waits), which then waits here until the next
/// offer or `clear` drops it off the audio thread.
#[derive(Default)]
pub struct InstanceSlot {
    held: Mutex<Option<Instance>>,
    fresh: AtomicBool,
}

impl InstanceSlot {
    /// Puts `instance` in the slot for the audio thread (dropping whatever was there: a retired
    /// instance, or an offer the audio thread never took).
    pub fn offer(&self, instance: Instance) {
        let old = self.held.lock().map(|mut h| {
            let old = h.replace(instance);
            self.fresh.store(true, Ordering::Release);
            old
        });
        drop(old);
    }

    /// The audio thread's call: if a fresh instance waits and the slot is free right now, swaps
    /// it with `current` (the old one stays in the slot). Returns whether it swapped.
    pub fn swap_in(&self, current: &mut Option<Instance>) -> bool {
        if !self.fresh.load(Ordering::Acquire) {
            return false;
        }
        let Ok(mut held) = self.held.try_lock() else { return false };
        std::mem::swap(current, &mut *held);
        self.fresh.store(false, Ordering::Release);
        true
    }

    /// Drops what the slot holds (off the audio thread).
    pub fn clear(&self) {
        let old = self.held.lock().map(|mut h| {
            self.fresh.store(false, Ordering::Release);
            h.take()
        });
        drop(old);
    }
}
