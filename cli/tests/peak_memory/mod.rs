//! Peak memory of the commands a test ran, as the kernel measured it.

/// Peak resident memory of the largest child waited for, in MB.
pub fn children_peak_mb() -> i64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) };
    assert_eq!(rc, 0, "getrusage failed");
    // SAFETY: filled above (rc == 0). ru_maxrss is in kB on Linux.
    unsafe { usage.assume_init() }.ru_maxrss / 1024
}
