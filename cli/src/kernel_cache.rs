//! Where this program keeps its compiled CUDA kernels between runs
//! ([`cubeaudio_kernels::kernel_cache`]): NVRTC takes ~1.8 s for the NAM engine's kernels on an
//! H200 (2026-12-02), the first render of every process paid it.
//!
//! `CUBEAUDIO_KERNEL_CACHE=off` turns it off; `CUBEAUDIO_KERNEL_CACHE=DIR` puts it in `DIR`;
//! otherwise `$XDG_CACHE_HOME/cubeaudio/kernels` (`~/.cache/cubeaudio/kernels`).

use std::path::PathBuf;

/// The folder the cache would use, or `None` when it is off or no home folder is known.
pub fn root() -> Option<PathBuf> {
    match std::env::var_os("CUBEAUDIO_KERNEL_CACHE") {
        Some(v) if v == "off" || v == "0" || v.is_empty() => None,
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            let cache =
                std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()).map(PathBuf::from).or_else(|| {
                    std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".cache"))
                })?;
            Some(cache.join("cubeaudio").join("kernels"))
        }
    }
}

/// This executable's build: its path, length and modification time (any rebuild changes one),
/// with the package version. A build that cannot be identified gets no cache.
#[cfg(feature = "cuda")]
fn build() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let meta = std::fs::metadata(&exe).ok()?;
    let modified = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (exe, meta.len(), modified).hash(&mut h);
    Some(format!("{}-{:016x}", env!("CARGO_PKG_VERSION"), h.finish()))
}

/// Keeps compiled CUDA kernels between runs of this build, unless turned off. Call before a
/// device is opened. Returns the folder.
#[cfg(feature = "cuda")]
pub fn enable() -> Option<PathBuf> {
    let (root, build) = (root()?, build()?);
    Some(cubeaudio_kernels::kernel_cache::persist_kernels(&root, &build))
}

/// Without CUDA there is nothing to keep.
#[cfg(not(feature = "cuda"))]
pub fn enable() -> Option<PathBuf> {
    None
}
