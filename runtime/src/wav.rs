//! WAV files in and out: the one reader and writer of the workspace (the CLI's renders and the
//! `ir` processor), so every integer format scales the same way and every error reads the same.
//!
//! Reading: 8–32-bit integer PCM and 32-bit float, any rate, any channel count, into planar f32
//! (integers scaled by `1 / 2^(bits-1)`, so full scale is [-1, 1)). Writing: 32-bit float or
//! 16/24-bit integer (clipped to ±1), through a temporary file in the target's folder that is
//! created exclusively and renamed over the target only once complete, so a failed or
//! concurrent write never leaves a partial or spliced file.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
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

/// How one sample of the data chunk is stored: the five integer containers and the float one
/// hound decodes, decoded here in bulk with hound's conventions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// Unsigned 8-bit, 128 is zero.
    U8,
    I16,
    /// 24 bits in 3 bytes.
    I24,
    /// 24 bits in the low 3 bytes of a 4-byte container (WAVEFORMATEXTENSIBLE).
    I24In4,
    I32,
    F32,
}

impl Encoding {
    fn of(float: bool, bits: u16, bytes: u64) -> Option<Self> {
        Some(match (float, bits, bytes) {
            (false, 8, 1) => Self::U8,
            (false, 16, 2) => Self::I16,
            (false, 24, 3) => Self::I24,
            (false, 24, 4) => Self::I24In4,
            (false, 32, 4) => Self::I32,
            (true, 32, 4) => Self::F32,
            _ => return None,
        })
    }

    fn bytes(self) -> usize {
        match self {
            Self::U8 => 1,
            Self::I16 => 2,
            Self::I24 => 3,
            Self::I24In4 | Self::I32 | Self::F32 => 4,
        }
    }

    /// Appends the samples of `raw` (whole samples) to `out`, integers times `scale`.
    fn decode(self, raw: &[u8], scale: f32, out: &mut Vec<f32>) {
        let sign24 = |b: &[u8]| ((i32::from(b[0]) | i32::from(b[1]) << 8 | i32::from(b[2]) << 16) << 8) >> 8;
        match self {
            Self::U8 => out.extend(raw.iter().map(|&b| (i32::from(b) - 128) as f32 * scale)),
            Self::I16 => out.extend(raw.chunks_exact(2).map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) * scale)),
            Self::I24 => out.extend(raw.chunks_exact(3).map(|b| sign24(b) as f32 * scale)),
            Self::I24In4 => out.extend(raw.chunks_exact(4).map(|b| sign24(b) as f32 * scale)),
            Self::I32 => {
                out.extend(raw.chunks_exact(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32 * scale))
            }
            Self::F32 => out.extend(raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
        }
    }
}

/// Bytes read through a reader so far, visible while hound owns the reader: the step over one
/// sample is the container size, which hound parses from the header but does not expose.
struct Counted<R> {
    inner: R,
    read: std::sync::Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Bytes of sample data read per `read` call at most, so a header that declares more data than
/// the file holds costs no more memory than the data actually there.
const READ_CHUNK: usize = 1 << 20;

/// A WAV file read in blocks, so memory stays bounded whatever the file's length. hound parses
/// and checks the header and decodes the first sample; the rest is read and decoded in bulk
/// (hound's per-sample reads cost ~20 ns a sample: 0.7 s of a 10-minute render, 2026-12-02).
pub struct WavReader<R: Read> {
    source: Counted<R>,
    path: PathBuf,
    channels: usize,
    sample_rate: u32,
    frames: u64,
    encoding: Encoding,
    /// 1 for float samples, else the integer scale to full scale 1.
    scale: f32,
    /// The sample hound decoded at open, not yet handed out.
    first: Option<f32>,
    /// Samples (all channels) of the data chunk not yet read, `first` excluded.
    remaining: u64,
    raw: Vec<u8>,
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
        let read = std::sync::Arc::new(AtomicU64::new(0));
        let counted = Counted { inner: reader, read: read.clone() };
        let mut inner = hound::WavReader::new(counted)
            .map_err(|e| WavError::Open { path: path.to_path_buf(), reason: e.to_string() })?;
        let spec = inner.spec();
        let header = |reason| WavError::Header { path: path.to_path_buf(), reason };
        if spec.sample_rate == 0 {
            return Err(header("sample rate is 0"));
        }
        if spec.channels == 0 {
            return Err(header("has no channels"));
        }
        let float = match spec.sample_format {
            hound::SampleFormat::Float => true,
            hound::SampleFormat::Int if (8..=32).contains(&spec.bits_per_sample) => false,
            hound::SampleFormat::Int => return Err(header("integer samples must have 8 to 32 bits")),
        };
        let scale = if float { 1.0 } else { 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32 };
        let frames = inner.duration() as u64;
        if frames == 0 {
            return Err(WavError::Empty { path: path.to_path_buf() });
        }
        let samples = u64::from(inner.len());
        let corrupt = |e: hound::Error| WavError::Corrupt { path: path.to_path_buf(), reason: e.to_string() };
        let before = read.load(Ordering::Relaxed);
        let first = if float {
            inner.samples::<f32>().next().map(|s| s.map_err(corrupt))
        } else {
            inner.samples::<i32>().next().map(|s| s.map_err(corrupt).map(|v| v as f32 * scale))
        };
        let first = first.ok_or(WavError::Empty { path: path.to_path_buf() })??;
        let step = read.load(Ordering::Relaxed) - before;
        let encoding = Encoding::of(float, spec.bits_per_sample, step)
            .ok_or_else(|| header("sample container not readable (8, 16, 24 or 32-bit integers, 32-bit float)"))?;
        Ok(Self {
            source: inner.into_inner(),
            path: path.to_path_buf(),
            channels: spec.channels as usize,
            sample_rate: spec.sample_rate,
            frames,
            encoding,
            scale,
            first: Some(first),
            remaining: samples - 1,
            raw: Vec::new(),
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
        if want > 0 {
            self.interleaved.extend(self.first.take());
        }
        let bytes = self.encoding.bytes();
        while self.interleaved.len() < want && self.remaining > 0 {
            let n = (want - self.interleaved.len()).min(READ_CHUNK / bytes).min(self.remaining as usize);
            self.raw.resize(n * bytes, 0);
            self.source
                .read_exact(&mut self.raw)
                .map_err(|e| WavError::Corrupt { path: self.path.clone(), reason: e.to_string() })?;
            self.encoding.decode(&self.raw, self.scale, &mut self.interleaved);
            self.remaining -= n as u64;
        }
        let frames = self.interleaved.len() / self.channels;
        if let [mono] = out {
            mono.extend_from_slice(&self.interleaved);
        } else {
            for (c, o) in out.iter_mut().enumerate() {
                o.extend(self.interleaved.chunks_exact(self.channels).map(|f| f[c]));
            }
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
/// the temporary file and the target is untouched. The header is hound's (what hound writes for
/// the format, lengths patched at commit); samples are encoded in bulk, byte for byte what
/// hound's per-sample writes give (~20 ns a sample: 0.6 s of a 10-minute render, 2026-12-02).
pub struct WavWriter {
    file: Option<BufWriter<File>>,
    tmp: PathBuf,
    target: PathBuf,
    format: SampleFormat,
    channels: usize,
    /// Bytes of the header; the data chunk's length is its last four.
    header: u64,
    data_bytes: u64,
    raw: Vec<u8>,
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
        let mut header = std::io::Cursor::new(Vec::new());
        hound::WavWriter::new(&mut header, spec)
            .and_then(hound::WavWriter::finalize)
            .map_err(|e| fail(e.to_string()))?;
        let header = header.into_inner();
        let (tmp, file) = temporary_beside(path).map_err(|e| fail(e.to_string()))?;
        unfinished().push(tmp.clone());
        let mut writer = Self {
            file: Some(BufWriter::with_capacity(1 << 20, file)),
            tmp,
            target: path.to_path_buf(),
            format,
            channels,
            header: header.len() as u64,
            data_bytes: 0,
            raw: Vec::new(),
        };
        writer.file.as_mut().expect("just opened").write_all(&header).map_err(|e| fail(e.to_string()))?;
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
        let width = match self.format {
            SampleFormat::Float32 => 4,
            SampleFormat::Int16 => 2,
            SampleFormat::Int24 => 3,
        };
        let bytes = (frames * self.channels * width) as u64;
        // RIFF lengths are 32-bit: a longer file would be written with wrapped lengths.
        if self.header - 8 + self.data_bytes + bytes > u64::from(u32::MAX) {
            return Err(self.fail("the output would exceed the WAV format's 4 GiB; nothing was written".into()));
        }
        self.raw.resize(bytes as usize, 0);
        match self.format {
            SampleFormat::Float32 => interleave(&mut self.raw, block, f32::to_le_bytes),
            SampleFormat::Int16 => {
                interleave(&mut self.raw, block, |v| ((v.clamp(-1.0, 1.0) * 32_767.0).round() as i16).to_le_bytes())
            }
            SampleFormat::Int24 => interleave(&mut self.raw, block, |v| {
                let [a, b, c, _] = ((v.clamp(-1.0, 1.0) * 8_388_607.0).round() as i32).to_le_bytes();
                [a, b, c]
            }),
        }
        let file = self.file.as_mut().expect("written after commit");
        file.write_all(&self.raw).map_err(|e| WavError::Write { path: self.target.clone(), reason: e.to_string() })?;
        self.data_bytes += bytes;
        Ok(())
    }

    /// Completes the file and renames it over the target.
    pub fn commit(mut self) -> Result<(), WavError> {
        let mut file = self.file.take().expect("committed once");
        let (riff, data) = ((self.header - 8 + self.data_bytes) as u32, self.data_bytes as u32);
        let lengths = (|| -> std::io::Result<()> {
            file.seek(SeekFrom::Start(4))?;
            file.write_all(&riff.to_le_bytes())?;
            file.seek(SeekFrom::Start(self.header - 4))?;
            file.write_all(&data.to_le_bytes())?;
            file.flush()
        })();
        let done = lengths
            .map_err(|e| e.to_string())
            .and_then(|()| file.into_inner().map_err(|e| e.to_string()))
            .and_then(|_| std::fs::rename(&self.tmp, &self.target).map_err(|e| e.to_string()));
        done.map_err(|reason| self.fail(reason))
        // Drop removes the temporary file when the rename did not happen.
    }
}

/// Encodes planar `block` into `raw` (sized to fit), frame by frame, `W` bytes a sample; one
/// loop per format so each compiles to straight-line code.
fn interleave<const W: usize>(raw: &mut [u8], block: &[&[f32]], encode: impl Fn(f32) -> [u8; W]) {
    if let [mono] = block {
        for (out, &v) in raw.chunks_exact_mut(W).zip(mono.iter()) {
            out.copy_from_slice(&encode(v));
        }
        return;
    }
    for (t, frame) in raw.chunks_exact_mut(W * block.len()).enumerate() {
        for (c, out) in block.iter().zip(frame.chunks_exact_mut(W)) {
            out.copy_from_slice(&encode(c[t]));
        }
    }
}

impl Drop for WavWriter {
    fn drop(&mut self) {
        // Close the file before removing it (and whatever the rename left is gone already).
        drop(self.file.take());
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

    /// Random-ish samples past full scale, NaN and infinities included.
    fn awkward(len: usize, seed: u32) -> Vec<f32> {
        let mut x = seed.wrapping_mul(2_654_435_761).max(1);
        (0..len)
            .map(|i| match i % 97 {
                13 => f32::NAN,
                14 => f32::INFINITY,
                15 => -1.5,
                _ => {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    (x as f32 / u32::MAX as f32) * 2.2 - 1.1
                }
            })
            .collect()
    }

    /// The bulk writer's files are byte for byte what hound's per-sample writer gives, for every
    /// format and for 1, 2 and 3 channels (3: hound's WAVEFORMATEXTENSIBLE header), written in
    /// uneven blocks.
    #[test]
    fn bulk_writes_are_hounds_bytes() {
        let dir = scratch("hound-bytes");
        for (format, bits, float) in
            [(SampleFormat::Float32, 32, true), (SampleFormat::Int16, 16, false), (SampleFormat::Int24, 24, false)]
        {
            for channels in 1..=3 {
                let signal: Vec<Vec<f32>> = (0..channels).map(|c| awkward(1000, c as u32 + 1)).collect();
                let path = dir.join(format!("{bits}-{channels}.wav"));
                let mut w = WavWriter::create(&path, channels, 44_100, format).unwrap();
                for (from, to) in [(0, 1), (1, 300), (300, 300), (300, 1000)] {
                    let block: Vec<&[f32]> = signal.iter().map(|c| &c[from..to]).collect();
                    w.write(&block).unwrap();
                }
                w.commit().unwrap();
                let sample_format = if float { hound::SampleFormat::Float } else { hound::SampleFormat::Int };
                let spec = hound::WavSpec {
                    channels: channels as u16,
                    sample_rate: 44_100,
                    bits_per_sample: bits,
                    sample_format,
                };
                let mut want = std::io::Cursor::new(Vec::new());
                let mut h = hound::WavWriter::new(&mut want, spec).unwrap();
                for t in 0..1000 {
                    for c in &signal {
                        match format {
                            SampleFormat::Float32 => h.write_sample(c[t]).unwrap(),
                            SampleFormat::Int16 => {
                                h.write_sample((c[t].clamp(-1.0, 1.0) * 32_767.0).round() as i32).unwrap()
                            }
                            SampleFormat::Int24 => {
                                h.write_sample((c[t].clamp(-1.0, 1.0) * 8_388_607.0).round() as i32).unwrap()
                            }
                        }
                    }
                }
                h.finalize().unwrap();
                assert!(std::fs::read(&path).unwrap() == want.into_inner(), "{bits} bits, {channels} channels");
            }
        }
    }

    /// The bulk reader decodes every container hound reads — 8, 16, 24 (in 3 and in 4 bytes),
    /// 32-bit integers and 32-bit float — to hound's own per-sample values, in blocks of any
    /// size; a file cut short is a `Corrupt` error, not a short read.
    #[test]
    fn bulk_reads_are_hounds_values() {
        let dir = scratch("hound-values");
        for (bits, bytes, float) in
            [(8, 1, false), (16, 2, false), (24, 3, false), (24, 4, false), (32, 4, false), (32, 4, true)]
        {
            for channels in [1u16, 2, 5] {
                let sample_format = if float { hound::SampleFormat::Float } else { hound::SampleFormat::Int };
                let spec = hound::WavSpec { channels, sample_rate: 48_000, bits_per_sample: bits, sample_format };
                let spec_ex = hound::WavSpecEx { spec, bytes_per_sample: bytes };
                let path = dir.join(format!("{bits}-{bytes}-{float}-{channels}.wav"));
                let mut h =
                    hound::WavWriter::new_with_spec_ex(std::io::BufWriter::new(File::create(&path).unwrap()), spec_ex)
                        .unwrap();
                let peak = ((1i64 << (bits - 1)) - 1) as f32;
                for (i, v) in awkward(777 * channels as usize, bits as u32).into_iter().enumerate() {
                    let v = if v.is_finite() { v.clamp(-1.0, 1.0) } else { 0.5 };
                    match float {
                        true => h.write_sample(v * if i % 7 == 0 { 3.0 } else { 1.0 }).unwrap(),
                        false => h.write_sample((v * peak).round() as i32).unwrap(),
                    }
                }
                h.finalize().unwrap();
                let mut reference = hound::WavReader::open(&path).unwrap();
                let scale = if float { 1.0 } else { 1.0 / (1u64 << (bits - 1)) as f32 };
                let want: Vec<f32> = if float {
                    reference.samples::<f32>().map(Result::unwrap).collect()
                } else {
                    reference.samples::<i32>().map(|s| s.unwrap() as f32 * scale).collect()
                };
                for block in [1, 5, 777, 4096] {
                    let mut r = WavReader::open(&path).unwrap();
                    let mut got = vec![Vec::new(); channels as usize];
                    while r.read_into(block, &mut got).unwrap() > 0 {}
                    let interleaved: Vec<f32> = (0..777).flat_map(|t| got.iter().map(move |c| c[t])).collect();
                    assert!(got.iter().all(|c| c.len() == 777));
                    assert_eq!(
                        interleaved, want,
                        "{bits} bits in {bytes} bytes, float {float}, {channels} channels, blocks of {block}"
                    );
                }
                let whole = std::fs::read(&path).unwrap();
                let cut = dir.join("cut.wav");
                std::fs::write(&cut, &whole[..whole.len() - 3]).unwrap();
                assert!(
                    matches!(read(&cut), Err(WavError::Corrupt { ref path, .. }) if *path == cut),
                    "{bits}/{bytes} cut short"
                );
            }
        }
    }

    /// RIFF lengths are 32-bit: a write that would pass 4 GiB is refused before a byte of it is
    /// written, and nothing is left at the target.
    #[test]
    fn outputs_past_four_gibibytes_are_refused() {
        let dir = scratch("riff-limit");
        let path = dir.join("big.wav");
        let mut w = WavWriter::create(&path, 1, 48_000, SampleFormat::Float32).unwrap();
        w.data_bytes = u64::from(u32::MAX) - w.header + 8 - 8;
        w.write(&[&[0.0, 0.0]]).unwrap();
        let err = w.write(&[&[0.0]]).unwrap_err();
        assert!(err.to_string().contains("4 GiB"), "{err}");
        drop(w);
        assert!(!path.exists());
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
