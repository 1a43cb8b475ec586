//! WAV files in and out: the one reader and writer of the workspace (the CLI's renders and the
//! `ir` processor), so every integer format scales the same way and every error reads the same.
//!
//! Reading: 8–32-bit integer PCM and 32-bit float, any rate, any channel count, into planar f32
//! (integers scaled by `1 / 2^(bits-1)`, so full scale is [-1, 1)). Writing: 32-bit float or
//! 16/24-bit integer (clipped to ±1), through a temporary file in the target's folder that is
//! created exclusively and renamed over the target only once complete, so a failed or
//! concurrent write never leaves a partial or spliced file.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

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
    /// The header declares more frames than the reader accepts.
    #[error("{path}: {frames} frames; at most {limit} are accepted here")]
    TooLong { path: PathBuf, frames: u64, limit: u64 },
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

/// A WAV file read in blocks, so memory stays bounded whatever the file's length.
pub struct WavReader<R: Read> {
    inner: hound::WavReader<R>,
    path: PathBuf,
    channels: usize,
    sample_rate: u32,
    frames: u64,
    /// `None` for float samples, else the integer scale to full scale 1.
    scale: Option<f32>,
    interleaved: Vec<f32>,
}

impl WavReader<BufReader<File>> {
    /// Opens `path` and checks its header.
    pub fn open(path: &Path) -> Result<Self, WavError> {
        let file = File::open(path).map_err(|e| WavError::Open { path: path.to_path_buf(), reason: e.to_string() })?;
        Self::new(BufReader::new(file), path)
    }
}

impl<R: Read> WavReader<R> {
    /// Reads the header from `reader`; `path` names the source in errors.
    pub fn new(reader: R, path: &Path) -> Result<Self, WavError> {
        let inner = hound::WavReader::new(reader)
            .map_err(|e| WavError::Open { path: path.to_path_buf(), reason: e.to_string() })?;
        let spec = inner.spec();
        let header = |reason| WavError::Header { path: path.to_path_buf(), reason };
        if spec.sample_rate == 0 {
            return Err(header("sample rate is 0"));
        }
        if spec.channels == 0 {
            return Err(header("has no channels"));
        }
        let scale = match spec.sample_format {
            hound::SampleFormat::Float => None,
            hound::SampleFormat::Int if (8..=32).contains(&spec.bits_per_sample) => {
                Some(1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32)
            }
            hound::SampleFormat::Int => return Err(header("integer samples must have 8 to 32 bits")),
        };
        let frames = inner.duration() as u64;
        if frames == 0 {
            return Err(WavError::Empty { path: path.to_path_buf() });
        }
        let channels = spec.channels as usize;
        Ok(Self {
            inner,
            path: path.to_path_buf(),
            channels,
            sample_rate: spec.sample_rate,
            frames,
            scale,
            interleaved: Vec::new(),
        })
    }

    /// Channels of the file.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Frames per second.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Frames the header declares (a truncated file ends with a [`WavError::Corrupt`] instead).
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Appends up to `max` frames to `out[c]` (one `Vec` per channel); returns the frames read,
    /// 0 at the end of the data.
    pub fn read_into(&mut self, max: usize, out: &mut [Vec<f32>]) -> Result<usize, WavError> {
        assert_eq!(out.len(), self.channels, "one output per channel");
        let want = max.saturating_mul(self.channels);
        self.interleaved.clear();
        let corrupt = |e: hound::Error| WavError::Corrupt { path: self.path.clone(), reason: e.to_string() };
        match self.scale {
            None => {
                for s in self.inner.samples::<f32>().take(want) {
                    self.interleaved.push(s.map_err(corrupt)?);
                }
            }
            Some(scale) => {
                for s in self.inner.samples::<i32>().take(want) {
                    self.interleaved.push(s.map_err(corrupt)? as f32 * scale);
                }
            }
        }
        let frames = self.interleaved.len() / self.channels;
        for (c, o) in out.iter_mut().enumerate() {
            o.extend(self.interleaved.chunks_exact(self.channels).map(|f| f[c]));
        }
        Ok(frames)
    }
}

/// Reads a whole file into planar f32.
pub fn read(path: &Path) -> Result<Wav, WavError> {
    read_limited(path, u64::MAX)
}

/// Reads a whole file into planar f32, refusing one whose header declares more than
/// `max_frames` before reading its samples.
pub fn read_limited(path: &Path, max_frames: u64) -> Result<Wav, WavError> {
    let mut reader = WavReader::open(path)?;
    if reader.frames() > max_frames {
        return Err(WavError::TooLong { path: path.to_path_buf(), frames: reader.frames(), limit: max_frames });
    }
    let mut channels = vec![Vec::new(); reader.channels()];
    while reader.read_into(1 << 16, &mut channels)? > 0 {}
    if channels[0].is_empty() {
        return Err(WavError::Empty { path: path.to_path_buf() });
    }
    Ok(Wav { channels, sample_rate: reader.sample_rate() })
}

/// Paths of files being written and not yet committed, for [`remove_unfinished`].
static UNFINISHED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn unfinished() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    UNFINISHED.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Removes every temporary file of a write still in progress: what a command's SIGINT/SIGTERM
/// handler calls before it exits, so an interrupted render leaves nothing behind.
pub fn remove_unfinished() {
    for tmp in unfinished().drain(..) {
        let _ = std::fs::remove_file(tmp);
    }
}

/// A WAV file written in blocks into a temporary file beside its target, which replaces the
/// target only at [`WavWriter::commit`]; dropped uncommitted (an error, a panic), it removes
/// the temporary file and the target is untouched.
pub struct WavWriter {
    inner: Option<hound::WavWriter<BufWriter<File>>>,
    tmp: PathBuf,
    target: PathBuf,
    format: SampleFormat,
    channels: usize,
}

impl WavWriter {
    /// Starts writing `channels` channels at `sample_rate` to `path`.
    pub fn create(path: &Path, channels: usize, sample_rate: u32, format: SampleFormat) -> Result<Self, WavError> {
        let fail = |reason: String| WavError::Write { path: path.to_path_buf(), reason };
        let channel_count = u16::try_from(channels)
            .ok()
            .filter(|&c| c > 0)
            .ok_or_else(|| fail(format!("{channels} channels (1 to 65535 can be written)")))?;
        let (bits, sample_format) = match format {
            SampleFormat::Float32 => (32, hound::SampleFormat::Float),
            SampleFormat::Int16 => (16, hound::SampleFormat::Int),
            SampleFormat::Int24 => (24, hound::SampleFormat::Int),
        };
        let spec = hound::WavSpec { channels: channel_count, sample_rate, bits_per_sample: bits, sample_format };
        let (tmp, file) = temporary_beside(path).map_err(|e| fail(e.to_string()))?;
        unfinished().push(tmp.clone());
        let mut writer = Self { inner: None, tmp, target: path.to_path_buf(), format, channels };
        writer.inner = Some(hound::WavWriter::new(BufWriter::new(file), spec).map_err(|e| fail(e.to_string()))?);
        Ok(writer)
    }

    fn fail(&self, reason: String) -> WavError {
        WavError::Write { path: self.target.clone(), reason }
    }

    /// Appends a planar block (`block[c]`, all of one length).
    pub fn write(&mut self, block: &[&[f32]]) -> Result<(), WavError> {
        if block.len() != self.channels {
            return Err(self.fail(format!("{} channels given to a {}-channel file", block.len(), self.channels)));
        }
        let frames = block[0].len();
        if block.iter().any(|c| c.len() != frames) {
            return Err(self.fail("channels of different lengths".into()));
        }
        let format = self.format;
        let w = self.inner.as_mut().expect("written after commit");
        let written = (|| -> Result<(), hound::Error> {
            for t in 0..frames {
                for c in block {
                    match format {
                        SampleFormat::Float32 => w.write_sample(c[t])?,
                        SampleFormat::Int16 => w.write_sample((c[t].clamp(-1.0, 1.0) * 32_767.0).round() as i32)?,
                        SampleFormat::Int24 => w.write_sample((c[t].clamp(-1.0, 1.0) * 8_388_607.0).round() as i32)?,
                    }
                }
            }
            Ok(())
        })();
        written.map_err(|e| self.fail(e.to_string()))
    }

    /// Completes the file and renames it over the target.
    pub fn commit(mut self) -> Result<(), WavError> {
        let inner = self.inner.take().expect("committed once");
        let done = inner
            .finalize()
            .map_err(|e| e.to_string())
            .and_then(|()| std::fs::rename(&self.tmp, &self.target).map_err(|e| e.to_string()));
        done.map_err(|reason| self.fail(reason))
        // Drop removes the temporary file when the rename did not happen.
    }
}

impl Drop for WavWriter {
    fn drop(&mut self) {
        // Close the file before removing it (and whatever the rename left is gone already).
        drop(self.inner.take());
        let _ = std::fs::remove_file(&self.tmp);
        unfinished().retain(|p| *p != self.tmp);
    }
}

/// Writes planar `channels` (all of one length) to `path`, replacing it only when complete.
pub fn write(path: &Path, channels: &[Vec<f32>], sample_rate: u32, format: SampleFormat) -> Result<(), WavError> {
    let mut writer = WavWriter::create(path, channels.len(), sample_rate, format)?;
    let block: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
    writer.write(&block)?;
    writer.commit()
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

    /// Blocks of any size read what the whole-file read gives; a length limit is applied from
    /// the header, before the samples are read.
    #[test]
    fn block_reads_and_length_limits() {
        let dir = scratch("blocks");
        let path = dir.join("b.wav");
        let channels = vec![(0..1000).map(|t| t as f32 / 1000.0).collect::<Vec<_>>(), vec![-0.5; 1000]];
        write(&path, &channels, 22_050, SampleFormat::Int24).unwrap();
        let whole = read(&path).unwrap();
        for block in [1, 7, 999, 1000, 5000] {
            let mut r = WavReader::open(&path).unwrap();
            assert_eq!((r.channels(), r.frames(), r.sample_rate()), (2, 1000, 22_050));
            let mut got = vec![Vec::new(); 2];
            while r.read_into(block, &mut got).unwrap() > 0 {}
            assert_eq!(got, whole.channels, "blocks of {block}");
        }
        assert!(matches!(read_limited(&path, 999), Err(WavError::TooLong { frames: 1000, limit: 999, .. })));
        assert_eq!(read_limited(&path, 1000).unwrap(), whole);
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
