//! Ctrl-C and `kill`: a command interrupted while writing leaves nothing behind. SIGINT and
//! SIGTERM are blocked in every thread and taken by one thread that waits for them, so what
//! it does on arrival — removing the temporary files of unfinished writes
//! ([`cubeaudio_runtime::wav::remove_unfinished`]), then exiting 130 or 143 as a shell would —
//! runs as ordinary code, not in a signal handler.

/// Installs the handling; call first in `main`, before any thread starts (threads inherit the
/// blocked signals; one started earlier could take a signal and die with the default action).
#[cfg(unix)]
pub fn clean_up_on_interrupt() {
    // SAFETY: plain libc calls on a sigset_t owned here; the set outlives both uses.
    unsafe {
        let mut set = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return; // signals keep their default action: nothing worse than before
        }
        std::thread::spawn(move || {
            let mut signal = 0;
            // SAFETY: waits on the set blocked above.
            while libc::sigwait(&set, &mut signal) == 0 {
                // A command that stops cleanly (live) takes the first signal; a second one, or
                // any signal elsewhere, ends the process.
                if !STOP_REQUESTED.swap(true, std::sync::atomic::Ordering::SeqCst)
                    && GRACEFUL.load(std::sync::atomic::Ordering::SeqCst)
                {
                    continue;
                }
                cubeaudio_runtime::wav::remove_unfinished();
                eprintln!("interrupted: no output was written");
                std::process::exit(128 + signal);
            }
        });
    }
}

static GRACEFUL: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Set by the first SIGINT/SIGTERM when [`stop_gracefully`] was called.
pub static STOP_REQUESTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The first Ctrl-C sets [`STOP_REQUESTED`] instead of ending the process: for commands that
/// must shut down in order (a JACK client deactivates first). A second one still ends it.
pub fn stop_gracefully() {
    GRACEFUL.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Elsewhere the default handling stays (the temporary file of an interrupted write remains).
#[cfg(not(unix))]
pub fn clean_up_on_interrupt() {}
