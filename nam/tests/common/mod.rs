//! Locating `../shared/nam` (the official core's models and outputs).
#![allow(dead_code)] // each test binary uses a different part

pub mod counting;

use std::path::PathBuf;

/// `$CUBEAUDIO_SHARED/nam`, or `shared/nam` beside the repository. Missing reference material
/// is a failure, never a skip: these tests are the parity proof.
pub fn shared_nam() -> PathBuf {
    let root = std::env::var_os("CUBEAUDIO_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    let nam = root.join("nam");
    assert!(
        nam.join("refs/manifest.txt").is_file(),
        "reference material not found at {}: clone with ../shared beside the repository or set CUBEAUDIO_SHARED",
        nam.display()
    );
    nam
}

pub fn read_f32(path: &std::path::Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// One line of `refs/manifest.txt`.
#[derive(Debug, Clone)]
pub struct Reference {
    pub model: String,
    pub variant: String,
    pub input: String,
    pub output: String,
    pub fast_tanh: bool,
    pub slim: Option<f64>,
}

pub fn manifest() -> Vec<Reference> {
    let dir = shared_nam();
    let text = std::fs::read_to_string(dir.join("refs/manifest.txt")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('|').map(str::trim).collect();
            let options = f[6];
            let words: Vec<&str> = options.split_whitespace().collect();
            let slim = words.iter().position(|w| *w == "--slim").map(|i| words[i + 1].parse().unwrap());
            Reference {
                model: f[0].into(),
                variant: f[1].into(),
                input: f[2].into(),
                output: f[4].into(),
                fast_tanh: !words.contains(&"--no-fast-tanh"),
                slim,
            }
        })
        .collect()
}

/// One line of `real/MANIFEST.txt`: a real user's capture, an input of `refs/`, the core's output.
#[derive(Debug, Clone)]
pub struct RealCapture {
    pub name: String,
    pub input: String,
    pub output: String,
    /// The core's block size: 64, or 512 for the LSTMs' `out_b512` runs.
    pub buffer: usize,
}

/// The lines of `real/MANIFEST.txt`: 29 captures × 2 inputs at 64-frame buffers and the four
/// LSTMs again at 512 (fast tanh, the plugin's resets).
pub fn real_manifest() -> Vec<RealCapture> {
    let text = std::fs::read_to_string(shared_nam().join("real/MANIFEST.txt")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('|').map(str::trim).collect();
            let buffer = if f[2].starts_with("out_b512/") { 512 } else { 64 };
            RealCapture { name: f[0].into(), input: f[1].into(), output: f[2].into(), buffer }
        })
        .collect()
}

/// `max|got − want| / max(1, peak|want|)`: the references' tolerance is 1e-4 of it.
pub fn relative_error(got: &[f32], want: &[f32]) -> f64 {
    assert_eq!(got.len(), want.len());
    let peak = want.iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
    let err = got.iter().zip(want).map(|(a, b)| (a - b).abs() as f64).fold(0.0, f64::max);
    if got.iter().all(|v| v.is_finite()) {
        err / peak.max(1.0)
    } else {
        f64::INFINITY
    }
}

/// `path` through the CPU engine with the plugin's resets, in blocks of `buffer` frames.
pub fn render_in_blocks(
    path: &std::path::Path,
    options: cubeaudio_nam::LoadOptions,
    slim: Option<f64>,
    input: &[f32],
    buffer: usize,
) -> Vec<f32> {
    let loaded = cubeaudio_nam::load_file(path, options).unwrap_or_else(|e| panic!("{e}"));
    let mut m = cubeaudio_nam::Model::new(loaded.dsp);
    if let Some(s) = slim {
        m.set_slim(s).unwrap();
    }
    m.reset_like_plugin(buffer).unwrap();
    let mut out = vec![0.0; input.len()];
    for (i, o) in input.chunks(buffer).zip(out.chunks_mut(buffer)) {
        m.process(i, o);
    }
    out
}

/// The text of `../shared/nam/models/<name>`.
pub fn shared_model_text(name: &str) -> String {
    let path = shared_nam().join("models").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A `"Sequential"` file (core PR #323) of `models`, complete NAM objects as JSON text.
pub fn sequential_json(models: &[String]) -> String {
    format!(
        r#"{{"version": "0.7.0", "architecture": "Sequential", "config": {{"models": [{}]}}, "weights": [], "sample_rate": 48000}}"#,
        models.join(", ")
    )
}

/// A cabinet-like Linear IR: `taps` decaying pseudo-random taps (seeded), a bias, and the
/// calibration levels given (`null` when `None`).
pub fn linear_ir_json(taps: usize, seed: u64, input_dbu: Option<f64>, output_dbu: Option<f64>) -> String {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let w: Vec<f32> = (0..taps)
        .map(|k| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let r = (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            r * (-(k as f32) / (taps as f32 / 4.0)).exp()
        })
        .chain([0.01])
        .collect();
    let level = |l: Option<f64>| l.map_or("null".to_string(), |v| v.to_string());
    format!(
        r#"{{"version": "0.5.4", "architecture": "Linear", "config": {{"receptive_field": {taps}, "bias": true}}, "weights": {w:?}, "sample_rate": 48000, "metadata": {{"input_level_dbu": {}, "output_level_dbu": {}}}}}"#,
        level(input_dbu),
        level(output_dbu)
    )
}
