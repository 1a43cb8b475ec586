//! Handing a prepared instance to the audio thread, and the replaced one back, without the
//! audio thread ever waiting or freeing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use cubeaudio_nam::live::Instance;

/// A prepared instance and the frames it needs before its output is settled (its receptive
/// field plus its latency): the audio thread crossfades to it only after those.
pub struct Prepared {
    /// The new instance.
    pub instance: Instance,
    /// Frames to run it silently beside the old one before the crossfade starts.
    pub settle: usize,
}

/// Two cells: a background thread offers a new instance in `incoming`, the audio thread takes
/// it (only `try_lock`: it never waits); when the crossfade is over the audio thread leaves the
/// old instance in `retired`, where the next offer or `clear` drops it, off the audio thread.
#[derive(Default)]
pub struct InstanceSlot {
    incoming: Mutex<Option<Prepared>>,
    fresh: AtomicBool,
    retired: Mutex<Option<Instance>>,
}

impl InstanceSlot {
    /// Puts `prepared` in the slot for the audio thread (dropping an offer it never took, and
    /// a retired instance).
    pub fn offer(&self, prepared: Prepared) {
        let old = self.incoming.lock().map(|mut h| {
            let old = h.replace(prepared);
            self.fresh.store(true, Ordering::Release);
            old
        });
        drop(old);
        let retired = self.retired.lock().map(|mut r| r.take());
        drop(retired);
    }

    /// The audio thread's call: the fresh instance, if one waits and its cell is free right now.
    pub fn take(&self) -> Option<Prepared> {
        if !self.fresh.load(Ordering::Acquire) {
            return None;
        }
        let mut held = self.incoming.try_lock().ok()?;
        self.fresh.store(false, Ordering::Release);
        held.take()
    }

    /// The audio thread's call: moves the instance out of `old` to be dropped elsewhere; leaves
    /// it there if the cell is busy or still holds an earlier one (try again next call).
    pub fn retire(&self, old: &mut Option<Instance>) {
        let Some(instance) = old.as_mut() else { return };
        // The engine stops waiting for its blocks now, even if it has to wait here a while.
        instance.retire();
        if let Ok(mut cell) = self.retired.try_lock() {
            if cell.is_none() {
                *cell = old.take();
            }
        }
    }

    /// Drops what the slot holds (off the audio thread).
    pub fn clear(&self) {
        let old = self.incoming.lock().map(|mut h| {
            self.fresh.store(false, Ordering::Release);
            h.take()
        });
        drop(old);
        let retired = self.retired.lock().map(|mut r| r.take());
        drop(retired);
    }
}
