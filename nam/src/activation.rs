//! Activations exactly as the core evaluates them (float32, SPEC §2.4).

use serde_json::Value;

use crate::error::{NamError, Result};

/// An activation as a `.nam` file names it, applied on the CPU.
#[derive(Debug, Clone, PartialEq)]
pub enum Activation {
    /// `x`.
    Identity,
    /// `tanh` from std.
    Tanh,
    /// NAM's rational approximation of tanh ([`fast_tanh`]).
    FastTanh,
    /// `clamp(x, -1, 1)`.
    Hardtanh,
    /// `max(0, x)`.
    ReLU,
    /// `x > 0 ? x : slope·x` with this slope.
    LeakyReLU(f32),
    /// LeakyReLU with one slope per channel (row).
    PReLU(Vec<f32>),
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `x · sigmoid(x)`.
    SiLU,
    /// `x · relu6(x + 3) / 6`.
    Hardswish,
    /// `x` inside `[lo, hi]`, slopes `lo_slope`/`hi_slope` outside.
    LeakyHardtanh {
        /// Lower end of the linear range.
        lo: f32,
        /// Upper end of the linear range.
        hi: f32,
        /// Slope below `lo`.
        lo_slope: f32,
        /// Slope above `hi`.
        hi_slope: f32,
    },
    /// `x / (1 + |x|)`.
    Softsign,
}

/// NAM's fast tanh in float32 arithmetic, its input clamped to ±1e9 (the GPU's
/// `FAST_TANH_LIMIT`): past ~4.5e9 the rational overflows to inf/inf = NaN; below, the
/// function is flat at ±1.008, so nothing the core computes finitely changes.
#[inline]
pub fn fast_tanh(x: f32) -> f32 {
    let x = x.clamp(-cubeaudio_kernels::activation::FAST_TANH_LIMIT, cubeaudio_kernels::activation::FAST_TANH_LIMIT);
    let ax = x.abs();
    let x2 = x * x;
    (x * (2.455_507_5_f32 + 2.455_507_5_f32 * ax + (0.893_229_85_f32 + 0.821_226_7_f32 * ax) * x2))
        / (2.445_066_3_f32 + (2.445_066_3_f32 + x2) * (x + 0.814_642_7_f32 * x * ax).abs())
}

/// Sigmoid through [`fast_tanh`]: `(fast_tanh(x/2) + 1) / 2`.
#[inline]
pub fn fast_sigmoid(x: f32) -> f32 {
    0.5 * (fast_tanh(0.5 * x) + 1.0)
}

/// `1 / (1 + e^-x)`.
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

fn number(obj: &serde_json::Map<String, Value>, key: &str, default: f32) -> Result<f32> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_f64()
            .map(|f| f as f32)
            .ok_or_else(|| NamError::config(format!("activation parameter `{key}` must be a number"))),
    }
}

impl Activation {
    /// Parses a string or object activation; `fast_tanh` maps `Tanh` to the fast form, as the
    /// core does when fast tanh is enabled at construction.
    pub fn parse(value: &Value, fast_tanh: bool) -> Result<Self> {
        let (name, obj) = match value {
            Value::String(s) => (s.as_str(), None),
            Value::Object(o) => (
                o.get("type")
                    .and_then(Value::as_str)
                    .ok_or_else(|| NamError::config("activation object without a string `type`"))?,
                Some(o),
            ),
            other => return Err(NamError::config(format!("activation must be a string or object, got {other}"))),
        };
        let empty = serde_json::Map::new();
        let o = obj.unwrap_or(&empty);
        Ok(match name {
            "Tanh" if fast_tanh => Self::FastTanh,
            "Tanh" => Self::Tanh,
            "Fasttanh" => Self::FastTanh,
            "Hardtanh" => Self::Hardtanh,
            "ReLU" => Self::ReLU,
            "LeakyReLU" => Self::LeakyReLU(number(o, "negative_slope", 0.01)?),
            "PReLU" => match o.get("negative_slopes") {
                Some(Value::Array(a)) => Self::PReLU(
                    a.iter()
                        .map(|v| {
                            v.as_f64().map(|f| f as f32).ok_or_else(|| NamError::config("PReLU slopes must be numbers"))
                        })
                        .collect::<Result<_>>()?,
                ),
                _ => Self::PReLU(vec![number(o, "negative_slope", 0.01)?]),
            },
            "Sigmoid" => Self::Sigmoid,
            "SiLU" => Self::SiLU,
            "Hardswish" => Self::Hardswish,
            "LeakyHardtanh" | "LeakyHardTanh" => Self::LeakyHardtanh {
                lo: number(o, "min_val", -1.0)?,
                hi: number(o, "max_val", 1.0)?,
                lo_slope: number(o, "min_slope", 0.01)?,
                hi_slope: number(o, "max_slope", 0.01)?,
            },
            "Softsign" => Self::Softsign,
            other => return Err(NamError::config(format!("unknown activation `{other}`"))),
        })
    }

    /// Checks per-channel parameters against the number of rows it acts on.
    pub fn check_rows(&self, rows: usize) -> Result<()> {
        if let Self::PReLU(s) = self {
            if s.len() != 1 && s.len() != rows {
                return Err(NamError::config(format!("PReLU has {} slopes for {rows} channels", s.len())));
            }
        }
        Ok(())
    }

    /// The activation of `x` on channel `row` (the row matters for PReLU only).
    #[inline]
    pub fn apply(&self, x: f32, row: usize) -> f32 {
        match self {
            Self::Identity => x,
            Self::Tanh => x.tanh(),
            Self::FastTanh => fast_tanh(x),
            Self::Hardtanh => x.clamp(-1.0, 1.0),
            Self::ReLU => {
                if x > 0.0 {
                    x
                } else {
                    0.0
                }
            }
            Self::LeakyReLU(s) => {
                if x > 0.0 {
                    x
                } else {
                    s * x
                }
            }
            Self::PReLU(s) => {
                let slope = if s.len() == 1 { s[0] } else { s[row] };
                if x > 0.0 {
                    x
                } else {
                    slope * x
                }
            }
            Self::Sigmoid => sigmoid(x),
            Self::SiLU => x * sigmoid(x),
            Self::Hardswish => x * (x + 3.0).clamp(0.0, 6.0) * (1.0 / 6.0),
            Self::LeakyHardtanh { lo, hi, lo_slope, hi_slope } => {
                if x < *lo {
                    (x - lo) * lo_slope + lo
                } else if x > *hi {
                    (x - hi) * hi_slope + hi
                } else {
                    x
                }
            }
            Self::Softsign => x / (1.0 + x.abs()),
        }
    }

    /// Applies in place to a planar block (`rows × frames`), whose first row is row `row0` of the
    /// activation's channel numbering. The kind is matched once per block so the element loops
    /// stay branch-free.
    pub fn apply_block(&self, data: &mut [f32], frames: usize, row0: usize) {
        fn each(data: &mut [f32], f: impl Fn(f32) -> f32) {
            data.iter_mut().for_each(|v| *v = f(*v));
        }
        match self {
            Self::Identity => {}
            Self::Tanh => each(data, f32::tanh),
            Self::FastTanh => each(data, fast_tanh),
            Self::Hardtanh => each(data, |x| x.clamp(-1.0, 1.0)),
            Self::ReLU => each(data, |x| if x > 0.0 { x } else { 0.0 }),
            Self::LeakyReLU(s) => each(data, |x| if x > 0.0 { x } else { s * x }),
            Self::Sigmoid => each(data, sigmoid),
            Self::SiLU => each(data, |x| x * sigmoid(x)),
            Self::Softsign => each(data, |x| x / (1.0 + x.abs())),
            _ => {
                for (r, row) in data.chunks_exact_mut(frames).enumerate() {
                    for v in row {
                        *v = self.apply(*v, row0 + r);
                    }
                }
            }
        }
    }

    /// The name the file uses.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Identity => "Identity",
            Self::Tanh => "Tanh",
            Self::FastTanh => "FastTanh",
            Self::Hardtanh => "Hardtanh",
            Self::ReLU => "ReLU",
            Self::LeakyReLU(_) => "LeakyReLU",
            Self::PReLU(_) => "PReLU",
            Self::Sigmoid => "Sigmoid",
            Self::SiLU => "SiLU",
            Self::Hardswish => "Hardswish",
            Self::LeakyHardtanh { .. } => "LeakyHardtanh",
            Self::Softsign => "Softsign",
        }
    }
}
