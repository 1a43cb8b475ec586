//! Reading `.nam` files: required keys, version rules, architecture dispatch, nested models.

use std::path::Path;

use serde_json::{Map, Value};

use crate::container::SlimmableContainer;
use crate::convnet::ConvNet;
use crate::dsp::Dsp;
use crate::error::{NamError, Result};
use crate::json::{opt, MAX_RECEPTIVE_FIELD};
use crate::linear::Linear;
use crate::lstm::Lstm;
use crate::metadata::Metadata;
use crate::wavenet::slim::SlimmableWaveNet;
use crate::wavenet::WaveNet;

/// Largest `.nam` file read: 32 MB (the largest real capture here is 1.5 MB). Parsing holds a
/// JSON value per number, up to ~16 bytes of memory per byte of file (a weights array of `0,`),
/// so this also bounds the parse: ~0.5 GB at worst (a 250 MB file peaked at 4.6 GB).
pub const MAX_FILE_BYTES: u64 = 32 << 20;
const MAX_NESTING: usize = 8;
/// Largest weight magnitude accepted. Real captures stay below 400 (the largest of the 71 in
/// `../shared/nam`: 374, an LSTM); weights near f32's limit (3e38) make every sum overflow and
/// an LSTM's state NaN for ever. Bounded weights keep an LSTM's gates finite for any finite input.
pub const MAX_WEIGHT: f32 = 1e6;
/// Most floating-point operations a reset's prewarm may cost (prewarm samples × operations per
/// sample): 2·10¹⁰, a few seconds of one core. The standard WaveNet costs 1.1·10⁸; a ConvNet of
/// 26 kB with a 67M-sample receptive field asked for minutes.
pub const MAX_PREWARM_FLOP: u64 = 20_000_000_000;

/// How a model is loaded.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// Replace `Tanh` by NAM's fast tanh, as the plugin does (the default).
    pub fast_tanh: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { fast_tanh: true }
    }
}

/// A loaded model and what the file says about it.
#[derive(Debug)]
pub struct LoadedModel {
    /// The file's `version`.
    pub version: String,
    /// The file's `architecture`.
    pub architecture: String,
    /// The rate the model was trained at, when the file says.
    pub sample_rate: Option<f64>,
    /// The file's `metadata`, what of it was readable.
    pub metadata: Metadata,
    /// The model, ready for [`crate::Model`] or a GPU batch.
    pub dsp: Box<dyn Dsp>,
    /// One line per notable config fact, for `cubeaudio info`.
    pub summary: Vec<String>,
    /// Version-compatibility warning (0.7.x with x > 0).
    pub warning: Option<String>,
}

/// Applies SPEC §1.1; returns a warning for partially supported versions.
pub fn check_version(version: &str) -> Result<Option<String>> {
    let bad = |reason: &str| NamError::Version { version: version.to_string(), reason: reason.to_string() };
    let parts: Vec<&str> = version.split('.').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return Err(bad("is not MAJOR.MINOR.PATCH"));
    }
    let n: Vec<u64> = parts.iter().map(|p| p.parse().unwrap_or(u64::MAX)).collect();
    if (n[0], n[1], n[2]) < (0, 5, 0) {
        return Err(bad("is older than the earliest supported 0.5.0"));
    }
    if n[0] > 0 || n[1] > 7 {
        return Err(bad("is newer than the latest supported 0.7.x"));
    }
    if n[1] == 7 && n[2] > 0 {
        return Ok(Some(format!("version {version} is newer than 0.7.0: loaded as partially supported")));
    }
    Ok(None)
}

fn required<'a>(o: &'a Map<String, Value>, key: &'static str) -> Result<&'a Value> {
    o.get(key).ok_or(NamError::MissingKey(key))
}

fn weights(o: &Map<String, Value>) -> Result<Vec<f32>> {
    let list =
        required(o, "weights")?.as_array().ok_or_else(|| NamError::config("`weights` must be an array of numbers"))?;
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            // Parse as f64, then cast: the core's double-rounding (SPEC §1).
            let w = v.as_f64().ok_or_else(|| NamError::config(format!("weight {i} is not a number")))? as f32;
            if !w.is_finite() {
                Err(NamError::NonFiniteWeight { index: i })
            } else if w.abs() > MAX_WEIGHT {
                Err(NamError::WeightOutOfRange { index: i, value: w, limit: MAX_WEIGHT })
            } else {
                Ok(w)
            }
        })
        .collect()
}

fn sample_rate(o: &Map<String, Value>) -> Result<Option<f64>> {
    match opt(o, "sample_rate") {
        None => Ok(None),
        Some(v) => {
            let sr = v.as_f64().ok_or_else(|| NamError::config("`sample_rate` must be a number"))?;
            if !(sr.is_finite() && sr > 0.0 && sr <= 1.0e6) {
                return Err(NamError::config(format!("sample_rate {sr} must be a positive rate up to 1 MHz")));
            }
            Ok(Some(sr))
        }
    }
}

/// One model of a file (the file's own, or one nested in it).
struct Built {
    dsp: Box<dyn Dsp>,
    warning: Option<String>,
    sample_rate: Option<f64>,
    metadata: Metadata,
}

fn build(v: &Value, options: LoadOptions, depth: usize, summary: &mut Vec<String>) -> Result<Built> {
    if depth > MAX_NESTING {
        return Err(NamError::config("models are nested too deeply"));
    }
    let o = v.as_object().ok_or_else(|| NamError::Json("the model must be a JSON object".into()))?;
    let version = required(o, "version")?.as_str().ok_or_else(|| NamError::config("`version` must be a string"))?;
    let warning = check_version(version)?;
    let architecture =
        required(o, "architecture")?.as_str().ok_or_else(|| NamError::config("`architecture` must be a string"))?;
    let config = required(o, "config")?.as_object().ok_or_else(|| NamError::config("`config` must be an object"))?;
    let mut sr = sample_rate(o)?;
    let mut metadata = Metadata::parse(o.get("metadata"));
    let indent = "  ".repeat(depth);
    let dsp: Box<dyn Dsp> = match architecture {
        "WaveNet" => {
            let condition = match opt(config, "condition_dsp") {
                Some(c) => {
                    summary.push(format!("{indent}condition_dsp:"));
                    let dsp = build(c, options, depth + 1, summary)?.dsp;
                    let nested_sr = c.get("sample_rate").and_then(Value::as_f64);
                    if let (Some(a), Some(b)) = (nested_sr, sr) {
                        if a != b {
                            return Err(NamError::config(format!(
                                "condition_dsp sample rate {a} differs from the model's {b}"
                            )));
                        }
                    }
                    Some(dsp)
                }
                None => None,
            };
            let w = weights(o)?;
            let (net, cfgs) = WaveNet::parse(config, &w, condition, options.fast_tanh)?;
            for (i, c) in cfgs.iter().enumerate() {
                summary.push(format!(
                    "{indent}array {i}: {} layers, channels {}, bottleneck {}, kernels {:?}, dilations {:?}, gating {:?}, head {}→{} (k{} d{}), head1x1 {:?}, FiLM sites {}",
                    c.layers(),
                    c.channels,
                    c.bottleneck,
                    dedup(&c.kernel_sizes),
                    c.dilations,
                    dedup(&c.gating),
                    c.head_rows(),
                    c.head.out_channels,
                    c.head.kernel_size,
                    c.head.dilation,
                    c.head1x1,
                    c.films.iter().flatten().count()
                ));
            }
            if cfgs.iter().any(|c| c.slimmable.is_some()) {
                summary.push(format!(
                    "{indent}slimmable: channels {:?}",
                    cfgs.iter().map(|c| c.slimmable.clone()).collect::<Vec<_>>()
                ));
                Box::new(SlimmableWaveNet::new(net, cfgs)?)
            } else {
                Box::new(net)
            }
        }
        "LSTM" => {
            summary.push(format!(
                "{indent}LSTM {} layers × {} hidden",
                shown(config.get("num_layers")),
                shown(config.get("hidden_size"))
            ));
            Box::new(Lstm::parse(config, &weights(o)?, sr, options.fast_tanh)?)
        }
        "ConvNet" => {
            summary.push(format!(
                "{indent}ConvNet {} channels, dilations {}, batchnorm {}",
                shown(config.get("channels")),
                shown(config.get("dilations")),
                shown(config.get("batchnorm"))
            ));
            Box::new(ConvNet::parse(config, &weights(o)?, options.fast_tanh)?)
        }
        "Linear" => {
            summary.push(format!("{indent}Linear, receptive field {:?}", config.get("receptive_field")));
            Box::new(Linear::parse(config, &weights(o)?)?)
        }
        "SlimmableContainer" => {
            let subs = opt(config, "submodels")
                .and_then(Value::as_array)
                .ok_or_else(|| NamError::config("`submodels` must be an array"))?;
            let mut models = Vec::new();
            for (i, s) in subs.iter().enumerate() {
                let s = s.as_object().ok_or_else(|| NamError::config("each submodel must be an object"))?;
                let max = s
                    .get("max_value")
                    .and_then(Value::as_f64)
                    .ok_or_else(|| NamError::config(format!("submodel {i} needs a numeric `max_value`")))?;
                let model = s.get("model").ok_or_else(|| NamError::config(format!("submodel {i} needs a `model`")))?;
                let sub_sr = model.get("sample_rate").and_then(Value::as_f64);
                if let (Some(a), Some(b)) = (sub_sr, sr) {
                    if a != b && a != -1.0 && b != -1.0 {
                        return Err(NamError::config(format!(
                            "submodel {i} runs at {a} Hz but the container at {b} Hz"
                        )));
                    }
                }
                summary.push(format!("{indent}submodel {i} (slim < {max}):"));
                let dsp = build(model, options, depth + 1, summary)?.dsp;
                if dsp.in_channels() != 1 || dsp.out_channels() != 1 {
                    return Err(NamError::config(format!("submodel {i} is not mono in/out")));
                }
                models.push((max, dsp));
            }
            Box::new(SlimmableContainer::new(models)?)
        }
        "Sequential" => {
            let built = sequential(o, config, options, depth, summary)?;
            match sr {
                Some(top) => _ = agree(top, built.sample_rate, "the Sequential's models")?,
                None => sr = built.sample_rate,
            }
            metadata = Metadata {
                input_level_dbu: metadata.input_level_dbu.or(built.metadata.input_level_dbu),
                output_level_dbu: metadata.output_level_dbu.or(built.metadata.output_level_dbu),
                loudness: metadata.loudness.or(built.metadata.loudness),
                ..metadata
            };
            built.dsp
        }
        "sequential" => return Err(unsupported_sequential(architecture)),
        other => return Err(NamError::UnknownArchitecture(other.into())),
    };
    check_costs(dsp.as_ref())?;
    Ok(Built { dsp, warning, sample_rate: sr, metadata })
}

/// `rate` when `other` is unknown or the same (to 1e-6 Hz, as the core compares), else an error
/// naming `what` disagrees.
fn agree(rate: f64, other: Option<f64>, what: &str) -> Result<f64> {
    match other {
        Some(o) if (o - rate).abs() > 1e-6 => {
            Err(NamError::config(format!("{what} run at {o} Hz but the model says {rate} Hz")))
        }
        _ => Ok(rate),
    }
}

/// A `"Sequential"` (core PR #323): complete NAM objects in `config.models`, run in order, the
/// top-level `weights` empty. Returns the chain, the rate its models share (if any says) and the
/// levels it takes from them: input from the first model, output and loudness from the last.
fn sequential(
    o: &Map<String, Value>,
    config: &Map<String, Value>,
    options: LoadOptions,
    depth: usize,
    summary: &mut Vec<String>,
) -> Result<Built> {
    let top = required(o, "weights")?.as_array().map_or(0, Vec::len);
    if top != 0 {
        return Err(NamError::Unsupported {
            architecture: "Sequential".into(),
            reason: format!(
                "its top-level `weights` hold {top} numbers: a legacy export (bare model configs plus flattened \
                 weights) from which the models' boundaries cannot be recovered, refused by the core too; each \
                 model must be a complete NAM object, with its own weights, in `config.models`"
            ),
        });
    }
    let list = opt(config, "models")
        .and_then(Value::as_array)
        .ok_or_else(|| NamError::config("a Sequential's `config.models` must be an array of complete NAM models"))?;
    let indent = "  ".repeat(depth);
    summary.push(format!("{indent}Sequential of {} models", list.len()));
    let mut models = Vec::with_capacity(list.len());
    let mut levels: Vec<Metadata> = Vec::with_capacity(list.len());
    let mut rate: Option<f64> = None;
    for (i, child) in list.iter().enumerate() {
        summary.push(format!("{indent}model {i}: {}", shown(child.get("architecture"))));
        let in_model = |e: NamError| NamError::InModel { index: i, error: Box::new(e) };
        let built = build(child, options, depth + 1, summary).map_err(in_model)?;
        if let Some(r) = built.sample_rate {
            rate = Some(match rate {
                Some(first) => agree(r, Some(first), "the models before it").map_err(in_model)?,
                None => r,
            });
        }
        models.push(built.dsp);
        levels.push(built.metadata);
    }
    let mut gains = vec![1.0];
    for (i, pair) in levels.windows(2).enumerate() {
        let g = crate::sequential::calibration_gain(pair[0].output_level_dbu, pair[1].input_level_dbu);
        if g != 1.0 {
            summary.push(format!(
                "{indent}model {} input scaled by {g} (calibration: {} dBu out, {} dBu in)",
                i + 1,
                shown_level(pair[0].output_level_dbu),
                shown_level(pair[1].input_level_dbu)
            ));
        }
        gains.push(g);
    }
    let metadata = Metadata {
        input_level_dbu: levels.first().and_then(|m| m.input_level_dbu),
        output_level_dbu: levels.last().and_then(|m| m.output_level_dbu),
        loudness: levels.last().and_then(|m| m.loudness),
        ..Metadata::default()
    };
    let dsp = Box::new(crate::sequential::Sequential::new(models, gains)?);
    Ok(Built { dsp, warning: None, sample_rate: rate, metadata })
}

fn shown_level(level: Option<f64>) -> String {
    level.map_or_else(|| "?".into(), |l| l.to_string())
}

/// Refuses a model whose real costs run away though every field is within its own limit: a
/// receptive field beyond [`MAX_RECEPTIVE_FIELD`] (whatever the architecture) or a prewarm
/// beyond [`MAX_PREWARM_FLOP`]. Memory is bounded where it is allocated (`Model::reset`).
fn check_costs(dsp: &dyn Dsp) -> Result<()> {
    if let Some(field) = dsp.receptive_field().filter(|&f| f > MAX_RECEPTIVE_FIELD) {
        return Err(NamError::TooLarge {
            what: "receptive field (samples)".into(),
            value: field,
            limit: MAX_RECEPTIVE_FIELD,
        });
    }
    let work = (dsp.prewarm_samples() as u64).saturating_mul(dsp.flops_per_sample() as u64);
    if work > MAX_PREWARM_FLOP {
        return Err(NamError::TooLarge {
            what: "prewarm work (floating-point operations: prewarm samples × operations per sample)".into(),
            value: work.min(usize::MAX as u64) as usize,
            limit: MAX_PREWARM_FLOP as usize,
        });
    }
    Ok(())
}

fn unsupported_sequential(architecture: &str) -> NamError {
    NamError::Unsupported {
        architecture: architecture.into(),
        reason:
            "the NAM core no longer registers it (an old core example: a chain of sub-models with no top-level weights; the core's `Sequential`, capitalised, holds complete models in `config.models`)"
                .into(),
    }
}

fn dedup<T: PartialEq + Clone>(v: &[T]) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for x in v {
        if !out.contains(x) {
            out.push(x.clone());
        }
    }
    out
}

/// A config value as it reads in the file (`?` when absent), for summaries.
fn shown(v: Option<&Value>) -> String {
    v.map_or_else(|| "?".into(), Value::to_string)
}

/// Parses a model from JSON text.
///
/// ```
/// use cubeaudio_nam::{load_str, LoadOptions, Model};
///
/// // A two-tap moving average: y[t] = 0.5·x[t−1] + 0.5·x[t].
/// let nam = r#"{"version": "0.5.4", "architecture": "Linear",
///   "config": {"receptive_field": 2, "bias": false}, "weights": [0.5, 0.5]}"#;
/// let loaded = load_str(nam, LoadOptions::default()).unwrap();
/// let mut model = Model::new(loaded.dsp);
/// model.reset(4).unwrap();
/// let mut out = [0.0f32; 4];
/// model.process(&[1.0, 1.0, 0.0, 0.0], &mut out);
/// assert_eq!(out, [0.5, 1.0, 0.5, 0.0]);
/// ```
pub fn load_str(text: &str, options: LoadOptions) -> Result<LoadedModel> {
    // Editors on Windows save UTF-8 with a byte-order mark; the core reads such files.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let v: Value = serde_json::from_str(text).map_err(|e| NamError::Json(e.to_string()))?;
    let o = v.as_object().ok_or_else(|| NamError::Json("the file must hold one JSON object".into()))?;
    // Name the real reason for old container files before complaining about their missing keys.
    if let Some(a @ "sequential") = o.get("architecture").and_then(Value::as_str) {
        return Err(unsupported_sequential(a));
    }
    for key in ["version", "architecture", "config", "weights"] {
        required(o, key)?;
    }
    let mut summary = Vec::new();
    let Built { dsp, warning, sample_rate, metadata } = build(&v, options, 0, &mut summary)?;
    Ok(LoadedModel {
        version: o["version"].as_str().unwrap_or_default().to_string(),
        architecture: o["architecture"].as_str().unwrap_or_default().to_string(),
        sample_rate,
        metadata,
        dsp,
        summary,
        warning,
    })
}

/// Most bytes read from something that is not a regular file (a pipe, a device): its size is
/// unknown until read, and `/dev/zero` never ends.
pub const MAX_STREAM_BYTES: u64 = 16 << 20;

/// Reads a text file of at most `limit` bytes (at most [`MAX_STREAM_BYTES`] when it is not a
/// regular file), never more: the read stops one byte past the limit, whatever size the file
/// system reports (0 for device files).
pub fn read_text_bounded(path: &Path, limit: u64) -> Result<String> {
    use std::io::Read;
    let io = |source| NamError::Io { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    let limit = if meta.is_file() { limit } else { limit.min(MAX_STREAM_BYTES) };
    let too_large = |value: u64| {
        let what =
            if meta.is_file() { "file size in bytes" } else { "bytes read from a file that is not a regular file" };
        NamError::TooLarge { what: what.into(), value: value as usize, limit: limit as usize }.in_file(path)
    };
    if meta.is_file() && meta.len() > limit {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|e| NamError::Json(format!("not UTF-8 text: {e}")).in_file(path))
}

/// Reads and parses a `.nam` file; every error names the file.
pub fn load_file(path: &Path, options: LoadOptions) -> Result<LoadedModel> {
    let text = read_text_bounded(path, MAX_FILE_BYTES)?;
    load_str(&text, options).map_err(|e| e.in_file(path))
}
