//! CUDA kernels compiled once per build and machine instead of once per process: cubecl's PTX
//! cache, kept in a folder this crate names.
//!
//! cubecl 0.10 keys a cached PTX by the kernel's type name and launch settings, not by its code
//! or the device's architecture, so a rebuilt program whose kernel changed would load the old
//! PTX, and a cache shared by two GPU generations would load one's PTX on the other. The folder
//! is therefore named by the caller's build (see [`persist_kernels`]) and by the device's
//! compute capability. cubecl's configuration is process-wide and fixed by the first device
//! opened: a second CUDA device of another architecture opened by the same process finds PTX
//! for the first, and its kernels fail to load (a [`DeviceFault::Compile`](crate::device::DeviceFault),
//! not wrong output).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use cubecl::config::cache::CacheConfig;
use cubecl::config::{CubeClRuntimeConfig, RuntimeConfig};

/// Build folders kept beside the current one; older ones (by last use) are removed.
const BUILDS_KEPT: usize = 8;
/// Written in a build's folder at every use, so pruning can tell the most recently used — and
/// tell the folders it made from anything else in `root` (which a user may point anywhere):
/// a folder without it is never removed.
const STAMP: &str = "cubeaudio-kernels-last-used";

static BUILD_FOLDER: OnceLock<PathBuf> = OnceLock::new();

/// Keeps compiled CUDA kernels in `root/<build>/<architecture>/` from now on, where `build`
/// names the running program's build exactly (e.g. a hash of its executable's identity): a
/// different build never reads another's kernels. Call it before the first device is opened;
/// later calls change nothing. Folders of other builds beyond the [`BUILDS_KEPT`] most
/// recently used are removed. Returns the build's folder.
pub fn persist_kernels(root: &Path, build: &str) -> PathBuf {
    let name: String = build.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    let folder = BUILD_FOLDER.get_or_init(|| root.join(name)).clone();
    if std::fs::create_dir_all(&folder).is_ok() {
        let _ = std::fs::write(folder.join(STAMP), b"");
        prune(root, &folder);
    }
    folder
}

/// Removes the build folders of `root` (those holding a [`STAMP`]) beyond the [`BUILDS_KEPT`]
/// most recently used, never `current` and never anything else. Failures (another process
/// pruning, permissions) are ignored: the cache only saves time.
fn prune(root: &Path, current: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    let mut builds: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p != current)
        .filter_map(|p| Some((std::fs::metadata(p.join(STAMP)).and_then(|m| m.modified()).ok()?, p)))
        .collect();
    builds.sort_by_key(|b| std::cmp::Reverse(b.0));
    for (_, old) in builds.into_iter().skip(BUILDS_KEPT - 1) {
        let _ = std::fs::remove_dir_all(old);
    }
}

/// Points cubecl's PTX cache at the build folder's `arch` subfolder, if [`persist_kernels`]
/// named one and cubecl's configuration is not fixed yet (no device opened, no configuration
/// read). A `cubecl.toml` that names a cache itself is honoured. Returns the folder in use.
pub(crate) fn install(arch: &str) -> Option<PathBuf> {
    let folder = BUILD_FOLDER.get()?.join(arch);
    let mut state = CubeClRuntimeConfig::storage().lock();
    if state.is_some() {
        return None;
    }
    let mut config = CubeClRuntimeConfig::from_current_dir().override_from_env();
    if config.compilation.cache.is_some() {
        return None;
    }
    config.compilation.cache = Some(CacheConfig::File(folder.clone()));
    *state = Some(Arc::new(config));
    Some(folder)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the most recently used builds stay; the current one always does, and a folder that is
    /// not a build's is never touched.
    #[test]
    fn old_build_folders_are_pruned() {
        let root = std::env::temp_dir().join(format!("cubeaudio-kernel-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for k in 0..BUILDS_KEPT + 3 {
            let dir = root.join(format!("old{k}"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(STAMP), b"").unwrap();
            let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000 + k as u64);
            std::fs::File::options().write(true).open(dir.join(STAMP)).unwrap().set_modified(when).unwrap();
        }
        let current = root.join("current");
        std::fs::create_dir_all(&current).unwrap();
        // Not a build folder (a user's, in a root pointed at their files): never removed.
        let theirs = root.join("photos");
        std::fs::create_dir_all(&theirs).unwrap();
        std::fs::write(theirs.join("last-used"), b"mine").unwrap();
        prune(&root, &current);
        let mut left: Vec<String> =
            std::fs::read_dir(&root).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        left.sort();
        let mut want: Vec<String> = (4..BUILDS_KEPT + 3).map(|k| format!("old{k}")).collect();
        want.push("current".into());
        want.push("photos".into());
        want.sort();
        assert_eq!(left, want);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
