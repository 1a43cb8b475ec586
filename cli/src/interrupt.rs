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
            if libc::sigwait(&set, &mut signal) == 0 {
                cubeaudio_runtime::wav::remove_unfinished();
                eprintln!("interrupted: no output was written");
                std::process::exit(128 + signal);
            }
        });
    }
}

/// Elsewhere the default handling stays (the temporary file of an interrupted write remains).
#[cfg(not(unix))]
pub fn clean_up_on_interrupt() {}
