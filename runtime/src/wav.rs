//! WAV files in and out: the one reader and writer of the workspace (the CLI's renders and the
//! `ir` processor), so every integer format scales the same way and every error reads the same.
//!
//! Reading: 8–32-bit integer PCM and 32-bit float, any rate, any channel count, into planar f32
//! (integers scaled by `1 / 2^(bits-1)`, so full scale is [-1, 1)). Writing: 32-bit float or
//! 16/24-bit integer (clipped to ±1), through a temporary file in the target's folder that is
//! created exclusively and renamed over the target only once complete, so a failed or
//! concurrent write never leaves a partial or spliced file.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a WAV file could not be read or written. Every variant names the file.
#[allow(missing_docs)] // variant fields are what the variant's message names
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WavError {
    /// Not a WAV file hound can parse, or not readable.
    #[error("{path}: cannot read WAV: {reason}")]
    Open { path: PathBuf, reason: String },
    /// The header declares something no audio can have.
    #[error("{path}: {reason}")]
    Header { path: PathBuf, reason: &'static str },
    /// The sample data ends early or is malformed.
    #[error("{path}: corrupt sample data: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// The file holds no frames.
    #[error("{path}: contains no samples")]
    Empty { path: PathBuf },
    /// Writing failed; nothing was left at `path`.
    #[error("{path}: cannot write: {reason}")]
    Write { path: PathBuf, reason: String },
}

/// Sample format of a written file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SampleFormat {
    /// 32-bit float: nothing is lost.
    #[default]
    Float32,
    /// 16-bit integer PCM, clipped to ±1.
    Int16,
    /// 24-bit integer PCM, clipped to ±1.
    Int24,
}

/// A decoded file: one `Vec` per channel, all of one length.
#[derive(Debug, Clone, PartialEq)]
pub struct Wav {
    /// Planar samples, `channels[c][frame]`.
    pub channels: Vec<Vec<f32>>,
    /// Frames per second.
    pub sample_rate: u32,
}

impl Wav {
    /// Frames per channel.
    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }
}

/// Reads a whole file into planar f32.
pub fn read(path: &Path) -> Result<Wav, WavError> {
    let open = |reason: String| WavError::Open { path: path.to_path_buf(), reason };
    let mut reader = hound::WavReader::open(path).map_err(|e| open(e.to_string()))?;
    let spec = reader.spec();
    let header = |reason| WavError::Header { path: path.to_path_buf(), reason };
    if spec.sample_rate == 0 {
        return Err(header("sample rate is 0"));
    }
    if spec.channels == 0 {
        return Err(header("has no channels"));
    }
    if spec.sample_format == hound::SampleFormat::Int && !(8..=32).contains(&spec.bits_per_sample) {
        return Err(header("integer samples must have 8 to 32 bits"));
    }
    let ch = spec.channels as usize;
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().collect::<Result<_, _>>(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            reader.samples::<i32>().map(|s| s.map(|v| v as f32 * scale)).collect::<Result<_, _>>()
        }
    }
    .map_err(|e| WavError::Corrupt { path: path.to_path_buf(), reason: e.to_string() })?;
    let frames = interleaved.len() / ch;
    if frames == 0 {
        return Err(WavError::Empty { path: path.to_path_buf() });
    }
    let channels = (0..ch).map(|c| (0..frames).map(|t| interleaved[t * ch + c]).collect()).collect();
    Ok(Wav { channels, sample_rate: spec.sample_rate })
}

/// Writes planar `channels` (all of one length) to `path`, replacing it only when complete.
pub fn write(path: &Path, channels: &[Vec<f32>], sample_rate: u32, format: SampleFormat) -> Result<(), WavError> {
    let fail = |reason: String| WavError::Write { path: path.to_path_buf(), reason };
    let channel_count = u16::try_from(channels.len())
        .ok()
        .filter(|&c| c > 0)
        .ok_or_else(|| fail(format!("{} channels (1 to 65535 can be written)", channels.len())))?;
    let frames = channels[0].len();
    if channels.iter().any(|c| c.len() != frames) {
        return Err(fail("channels of different lengths".into()));
    }
    let (bits, sample_format) = match format {
        SampleFormat::Float32 => (32, hound::SampleFormat::Float),
        SampleFormat::Int16 => (16, hound::SampleFormat::Int),
        SampleFormat::Int24 => (24, hound::SampleFormat::Int),
    };
    let spec = hound::WavSpec { channels: channel_count, sample_rate, bits_per_sample: bits, sample_format };
    let (tmp, file) = temporary_beside(path).map_err(|e| fail(e.to_string()))?;
    let written = (|| -> Result<(), hound::Error> {
        let mut w = hound::WavWriter::new(std::io::BufWriter::new(file), spec)?;
        let full = ((1i64 << (bits - 1)) - 1) as f32;
        for t in 0..frames {
            for c in channels {
                match format {
                    SampleFormat::Float32 => w.write_sample(c[t])?,
                    _ => w.write_sample((c[t].clamp(-1.0, 1.0) * full).round() as i32)?,
                }
            }
        }
        w.finalize()
    })();
    let renamed =
        written.map_err(|e| e.to_string()).and_then(|()| std::fs::rename(&tmp, path).map_err(|e| e.to_string()));
    if let Err(reason) = renamed {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(reason));
    }
    Ok(())
}

/// A new file in `target`'s folder that no other writer (another render, a user's own
/// `X.wav.tmp`) can be using: created exclusively under a name unique to this process and call.
fn temporary_beside(target: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.{}.{n}.partial", std::process::id()));
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cubeaudio-wav-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn integer_formats_scale_to_unit_full_scale() {
        let dir = scratch("scale");
        for (format, bits) in [(SampleFormat::Int16, 16), (SampleFormat::Int24, 24)] {
            let path = dir.join(format!("{bits}.wav"));
            write(&path, &[vec![1.0, -1.0, 0.5]], 48_000, format).unwrap();
            let back = read(&path).unwrap();
            let step = 1.0 / (1u64 << (bits - 1)) as f32;
            let want = [1.0 - step, -(1.0 - step), 0.5];
            for (a, b) in back.channels[0].iter().zip(want) {
                assert!((a - b).abs() <= step, "{bits} bits: {a} vs {b}");
            }
        }
    }

    #[test]
    fn float_round_trip_is_exact_and_planar() {
        let dir = scratch("float");
        let path = dir.join("f.wav");
        let channels = vec![vec![0.1, 0.2, 0.3], vec![-0.1, -0.2, -0.3]];
        write(&path, &channels, 44_100, SampleFormat::Float32).unwrap();
        assert_eq!(read(&path).unwrap(), Wav { channels, sample_rate: 44_100 });
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left behind: {leftovers:?}");
    }

    #[test]
    fn bad_files_are_typed_errors_naming_the_file() {
        let dir = scratch("bad");
        let junk = dir.join("junk.wav");
        std::fs::write(&junk, b"RIFF....WAVEjunk").unwrap();
        assert!(matches!(read(&junk), Err(WavError::Open { ref path, .. }) if *path == junk));
        let empty = dir.join("empty.wav");
        write(&empty, &[vec![]], 48_000, SampleFormat::Int16).unwrap();
        assert!(matches!(read(&empty), Err(WavError::Empty { .. })));
        let ragged = write(&dir.join("r.wav"), &[vec![0.0], vec![]], 48_000, SampleFormat::Float32);
        assert!(matches!(ragged, Err(WavError::Write { .. })));
        assert!(!dir.join("r.wav").exists());
    }

    /// A user's own `X.wav.tmp` is never touched, a directory in the way leaves nothing behind,
    /// and two writers of one target each leave a whole file (the last rename wins).
    #[test]
    fn writes_never_touch_other_files_or_splice() {
        let dir = scratch("others");
        let target = dir.join("x.wav");
        std::fs::write(dir.join("x.wav.tmp"), b"the user's own file").unwrap();
        write(&target, &[vec![0.5; 4]], 48_000, SampleFormat::Float32).unwrap();
        assert_eq!(std::fs::read(dir.join("x.wav.tmp")).unwrap(), b"the user's own file");
        let in_the_way = dir.join("folder.wav");
        std::fs::create_dir_all(&in_the_way).unwrap();
        assert!(matches!(
            write(&in_the_way, &[vec![0.5; 4]], 48_000, SampleFormat::Float32),
            Err(WavError::Write { .. })
        ));
        let threads: Vec<_> = (0..4)
            .map(|k| {
                let target = target.clone();
                std::thread::spawn(move || {
                    write(&target, &[vec![k as f32 * 0.1; 50_000]], 48_000, SampleFormat::Float32)
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap().unwrap();
        }
        let back = read(&target).unwrap().channels.remove(0);
        assert!(back.iter().all(|v| *v == back[0]) && back.len() == 50_000, "spliced output");
        let leftovers = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
            .count();
        assert_eq!(leftovers, 0);
    }

    #[test]
    fn a_failed_write_keeps_the_existing_file() {
        let dir = scratch("keep");
        let path = dir.join("keep.wav");
        write(&path, &[vec![0.25; 8]], 48_000, SampleFormat::Float32).unwrap();
        assert!(write(&path, &[vec![0.0], vec![0.0, 1.0]], 48_000, SampleFormat::Float32).is_err());
        assert_eq!(read(&path).unwrap().channels, vec![vec![0.25; 8]]);
    }
}
