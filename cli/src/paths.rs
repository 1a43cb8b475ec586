//! Output paths that would destroy an input: checked before any work, so a typo such as
//! `--output ./in.wav` or `--output amp.nam` is an error instead of a lost file.

use std::path::{Path, PathBuf};

use crate::error::{CliError, Result};

/// The folder a file path names (`.` for a bare file name).
fn folder_of(p: &Path) -> &Path {
    p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// The path with `.`/`..` and symlinks resolved; for a file that does not exist yet, its folder
/// resolved and its name appended.
fn resolve(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = p.canonicalize() {
        return Some(c);
    }
    Some(folder_of(p).canonicalize().ok()?.join(p.file_name()?))
}

/// Whether `a` and `b` name the same file: the same resolved path, or (on Unix) the same inode,
/// which also catches hard links.
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    matches!((resolve(a), resolve(b)), (Some(x), Some(y)) if x == y)
}

/// Refuses, before any work, outputs that cannot be written: a folder that does not exist (the
/// error used to come only after the whole render), or a path that is itself a folder.
pub fn require_writable_places(outputs: &[&Path]) -> Result<()> {
    for output in outputs {
        if output.is_dir() {
            return Err(CliError::Request(format!("{} is a folder, not a file to write", output.display())));
        }
        let folder = folder_of(output);
        if !folder.is_dir() {
            return Err(CliError::Request(format!(
                "{}: the output folder {} does not exist",
                output.display(),
                folder.display()
            )));
        }
    }
    Ok(())
}

/// Refuses every `output` that is one of the files the job reads (`(role, path)` pairs).
pub fn refuse_overwrites(outputs: &[&Path], reads: &[(&str, &Path)]) -> Result<()> {
    for output in outputs {
        if let Some((role, read)) = reads.iter().find(|(_, read)| same_file(output, read)) {
            return Err(CliError::Request(format!(
                "{} is the {role} ({}): refusing to overwrite a file this command reads",
                output.display(),
                read.display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_file_under_other_names_is_recognised() {
        let dir = std::env::temp_dir().join(format!("cubeaudio-paths-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let file = dir.join("in.wav");
        std::fs::write(&file, b"x").unwrap();
        assert!(same_file(&file, &dir.join("sub/../in.wav")));
        assert!(same_file(&file, &dir.join("./in.wav")));
        #[cfg(unix)]
        {
            let link = dir.join("link.wav");
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&file, &link).unwrap();
            assert!(same_file(&file, &link));
            let hard = dir.join("hard.wav");
            let _ = std::fs::remove_file(&hard);
            std::fs::hard_link(&file, &hard).unwrap();
            assert!(same_file(&file, &hard));
        }
        assert!(!same_file(&file, &dir.join("out.wav")));
        assert!(refuse_overwrites(&[&dir.join("sub/../in.wav")], &[("input", &file)]).is_err());
        assert!(refuse_overwrites(&[&dir.join("out.wav")], &[("input", &file)]).is_ok());
    }
}
