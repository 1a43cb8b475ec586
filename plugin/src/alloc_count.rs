//! The plugin's allocator: the system's, counting the allocations made inside the plugin's own
//! `process` body (a thread-local flag, set only there). Test hosts read the count through
//! [`crate::ffi`]: the proof that the audio path allocates nothing, measured in the shipped
//! bundle rather than in a test build.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;

/// Allocations and reallocations made while a `process` call was running.
pub static IN_PROCESS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static IN_BODY: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards every call to the system allocator; the flag is a const-initialised
// thread-local Cell and the counter an atomic, so counting allocates nothing itself.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn count() {
    if IN_BODY.try_with(Cell::get).unwrap_or(false) {
        IN_PROCESS.fetch_add(1, Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Counts this thread's allocations while `f` runs.
pub fn watching<T>(f: impl FnOnce() -> T) -> T {
    IN_BODY.with(|w| w.set(true));
    let out = f();
    IN_BODY.with(|w| w.set(false));
    out
}
