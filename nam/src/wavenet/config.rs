//! The WaveNet layer-array config with every option of SPEC §4.1, defaults applied.

use serde_json::{Map, Value};

use crate::error::{NamError, Result};
use crate::json::*;

/// How a layer combines the two halves of its conv output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gating {
    /// No gating: the conv has `bottleneck` rows.
    None,
    /// `act(a) ⊙ sec(b)`.
    Gated,
    /// `α ⊙ act(a) + (1 − α) ⊙ a` with `α = sec(b)`.
    Blended,
}

/// A FiLM site's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilmConfig {
    /// Whether it adds a shift as well as a scale.
    pub shift: bool,
    /// Groups of its projection.
    pub groups: usize,
}

/// FiLM sites in the fixed weight order of SPEC §4.4.
pub const FILM_SITES: [&str; 8] = [
    "conv_pre_film",
    "conv_post_film",
    "input_mixin_pre_film",
    "input_mixin_post_film",
    "activation_pre_film",
    "activation_post_film",
    "layer1x1_post_film",
    "head1x1_post_film",
];

/// The convolution mapping an array's head rows to its output.
#[derive(Debug, Clone)]
pub struct HeadRechannel {
    /// Output channels.
    pub out_channels: usize,
    /// Taps.
    pub kernel_size: usize,
    /// Distance between taps.
    pub dilation: usize,
    /// Whether it has a bias.
    pub bias: bool,
}

/// One layer array of a WaveNet config, checked.
#[derive(Debug, Clone)]
pub struct LayerArrayConfig {
    /// Channels of the array's input.
    pub input_size: usize,
    /// Channels of the condition.
    pub condition_size: usize,
    /// Residual channels C.
    pub channels: usize,
    /// Bottleneck B (rows of the activation).
    pub bottleneck: usize,
    /// Per layer: taps of the dilated conv.
    pub kernel_sizes: Vec<usize>,
    /// Per layer: dilation.
    pub dilations: Vec<usize>,
    /// Per layer: the activation as the file gives it.
    pub activations: Vec<Value>,
    /// Per layer: gating mode.
    pub gating: Vec<Gating>,
    /// Per layer; `None` means the default Sigmoid for gated/blended layers.
    pub secondary: Vec<Option<Value>>,
    /// The head rechannel.
    pub head: HeadRechannel,
    /// Groups of the layer1x1 when present.
    pub layer1x1: Option<usize>,
    /// `(out_channels, groups)` when active.
    pub head1x1: Option<(usize, usize)>,
    /// Groups of the layer conv.
    pub groups_input: usize,
    /// Groups of the input mixin.
    pub groups_input_mixin: usize,
    /// The eight FiLM sites, in [`FILM_SITES`] order.
    pub films: [Option<FilmConfig>; 8],
    /// Allowed channel counts when the array is slimmable.
    pub slimmable: Option<Vec<usize>>,
}

fn per_layer<T: Clone>(v: &Value, n: usize, key: &str, f: impl Fn(&Value) -> Result<T>) -> Result<Vec<T>> {
    match v {
        Value::Array(a) => {
            if a.len() != n {
                return Err(NamError::config(format!("`{key}` has {} entries for {n} layers", a.len())));
            }
            a.iter().map(f).collect()
        }
        single => Ok(vec![f(single)?; n]),
    }
}

fn gating_value(v: &Value) -> Result<Gating> {
    match v.as_str() {
        Some("none") => Ok(Gating::None),
        Some("gated") => Ok(Gating::Gated),
        Some("blended") => Ok(Gating::Blended),
        _ => Err(NamError::config(format!("`gating_mode` must be none, gated or blended, got {v}"))),
    }
}

fn film(o: &Map<String, Value>, key: &str) -> Result<Option<FilmConfig>> {
    match opt(o, key) {
        None | Some(Value::Bool(false)) => Ok(None),
        Some(Value::Bool(true)) => Ok(Some(FilmConfig { shift: true, groups: 1 })),
        Some(Value::Object(f)) => {
            if !opt_bool(f, "active", true)? {
                return Ok(None);
            }
            Ok(Some(FilmConfig {
                shift: opt_bool(f, "shift", true)?,
                groups: opt_usize(f, "groups", 1, MAX_CHANNELS)?.max(1),
            }))
        }
        Some(v) => Err(NamError::config(format!("`{key}` must be false or an object, got {v}"))),
    }
}

fn slimmable(o: &Map<String, Value>, channels: usize) -> Result<Option<Vec<usize>>> {
    let Some(s) = opt(o, "slimmable") else { return Ok(None) };
    let s = object(s, "slimmable")?;
    match s.get("method").and_then(Value::as_str) {
        Some("slice_channels_uniform") => {}
        None | Some("") => return Ok(None),
        Some(m) => return Err(NamError::config(format!("unknown slimmable method `{m}`"))),
    }
    let allowed = s
        .get("kwargs")
        .and_then(|k| k.get("allowed_channels"))
        .filter(|v| !v.is_null())
        .map(|v| usize_list(v, "allowed_channels", MAX_CHANNELS))
        .transpose()?
        .unwrap_or_else(|| (1..=channels).collect());
    let ascending = allowed.windows(2).all(|w| w[0] < w[1]);
    if allowed.first() == Some(&0) || allowed.last() != Some(&channels) || !ascending {
        return Err(NamError::config(format!("`allowed_channels` must ascend and end at channels = {channels}")));
    }
    Ok(Some(allowed))
}

impl LayerArrayConfig {
    /// Parses and checks one layer array of the config.
    pub fn parse(v: &Value) -> Result<Self> {
        let o = object(v, "layers[]")?;
        let channels = positive(o, "channels", MAX_CHANNELS)?;
        let dilations = usize_list(
            opt(o, "dilations").ok_or_else(|| NamError::config("missing key `dilations`"))?,
            "dilations",
            MAX_DILATION,
        )?;
        let n = dilations.len();
        if n == 0 {
            return Err(NamError::config("a layer array needs at least one dilation"));
        }
        if dilations.contains(&0) {
            return Err(NamError::config("dilations must be at least 1"));
        }
        let kernel_sizes = match (opt(o, "kernel_sizes"), opt(o, "kernel_size")) {
            (Some(ks), _) => usize_list(ks, "kernel_sizes", MAX_KERNEL)?,
            (None, Some(k)) => vec![usize_value(k, "kernel_size", MAX_KERNEL)?; n],
            (None, None) => return Err(NamError::config("missing key `kernel_size` or `kernel_sizes`")),
        };
        if kernel_sizes.len() != n || kernel_sizes.contains(&0) {
            return Err(NamError::config(format!("`kernel_sizes` must have {n} entries ≥ 1")));
        }
        let activations = per_layer(
            opt(o, "activation").ok_or_else(|| NamError::config("missing key `activation`"))?,
            n,
            "activation",
            |v| Ok(v.clone()),
        )?;
        let gating = match opt(o, "gating_mode") {
            Some(g) => per_layer(g, n, "gating_mode", gating_value)?,
            None => vec![if opt_bool(o, "gated", false)? { Gating::Gated } else { Gating::None }; n],
        };
        let secondary = match opt(o, "secondary_activation") {
            None => vec![None; n],
            Some(v) => per_layer(v, n, "secondary_activation", |s| {
                Ok(match s {
                    Value::Null => None,
                    Value::String(x) if x.is_empty() => None,
                    other => Some(other.clone()),
                })
            })?,
        };
        let head = match opt(o, "head") {
            Some(h) => {
                let h = object(h, "head")?;
                HeadRechannel {
                    out_channels: positive(h, "out_channels", MAX_CHANNELS)?,
                    kernel_size: opt_usize(h, "kernel_size", 1, MAX_KERNEL)?.max(1),
                    dilation: opt_usize(h, "head_dilation", 1, MAX_DILATION)?.max(1),
                    bias: opt_bool(h, "bias", false)?,
                }
            }
            None => HeadRechannel {
                out_channels: positive(o, "head_size", MAX_CHANNELS)?,
                kernel_size: 1,
                dilation: 1,
                bias: opt_bool(o, "head_bias", false)?,
            },
        };
        let layer1x1 = match opt(o, "layer1x1") {
            None => Some(1),
            Some(l) => {
                let l = object(l, "layer1x1")?;
                let active = opt(l, "active")
                    .and_then(Value::as_bool)
                    .ok_or_else(|| NamError::config("`layer1x1.active` is required"))?;
                let groups = positive(l, "groups", MAX_CHANNELS)?;
                active.then_some(groups)
            }
        };
        let head1x1 = match opt(o, "head1x1") {
            None => None,
            Some(h) => {
                let h = object(h, "head1x1")?;
                let active = opt(h, "active")
                    .and_then(Value::as_bool)
                    .ok_or_else(|| NamError::config("`head1x1.active` is required"))?;
                let out = req_usize(h, "out_channels", MAX_CHANNELS)?;
                let groups = positive(h, "groups", MAX_CHANNELS)?;
                if active && out == 0 {
                    return Err(NamError::config("`head1x1.out_channels` must be at least 1"));
                }
                active.then_some((out, groups))
            }
        };
        let mut films = [None; 8];
        for (slot, key) in films.iter_mut().zip(FILM_SITES) {
            *slot = film(o, key)?;
        }
        let slimmable = slimmable(o, channels)?;
        Self::finish(
            o,
            channels,
            dilations,
            kernel_sizes,
            activations,
            gating,
            secondary,
            head,
            layer1x1,
            head1x1,
            films,
            slimmable,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        o: &Map<String, Value>,
        channels: usize,
        dilations: Vec<usize>,
        kernel_sizes: Vec<usize>,
        activations: Vec<Value>,
        gating: Vec<Gating>,
        secondary: Vec<Option<Value>>,
        head: HeadRechannel,
        layer1x1: Option<usize>,
        head1x1: Option<(usize, usize)>,
        films: [Option<FilmConfig>; 8],
        slimmable: Option<Vec<usize>>,
    ) -> Result<Self> {
        let bottleneck = opt_usize(o, "bottleneck", channels, MAX_CHANNELS)?;
        if bottleneck == 0 {
            return Err(NamError::config("`bottleneck` must be at least 1"));
        }
        if layer1x1.is_none() && bottleneck != channels {
            return Err(NamError::config(format!(
                "layer1x1 is inactive but bottleneck {bottleneck} ≠ channels {channels}"
            )));
        }
        if films[6].is_some() && layer1x1.is_none() {
            return Err(NamError::config("layer1x1_post_film is active without layer1x1"));
        }
        if films[7].is_some() && head1x1.is_none() {
            return Err(NamError::config("head1x1_post_film is active without head1x1"));
        }
        Ok(Self {
            input_size: positive(o, "input_size", MAX_CHANNELS)?,
            condition_size: positive(o, "condition_size", MAX_CHANNELS)?,
            channels,
            bottleneck,
            kernel_sizes,
            dilations,
            activations,
            gating,
            secondary,
            head,
            layer1x1,
            head1x1,
            groups_input: opt_usize(o, "groups_input", 1, MAX_CHANNELS)?.max(1),
            groups_input_mixin: opt_usize(o, "groups_input_mixin", 1, MAX_CHANNELS)?.max(1),
            films,
            slimmable,
        })
    }

    /// Layers of the array.
    pub fn layers(&self) -> usize {
        self.dilations.len()
    }

    /// Rows of the head accumulator.
    pub fn head_rows(&self) -> usize {
        self.head1x1.map_or(self.bottleneck, |(out, _)| out)
    }

    /// Frames of history the array's layer convs reach back.
    pub fn lookback(&self) -> usize {
        self.kernel_sizes.iter().zip(&self.dilations).map(|(k, d)| d * (k - 1)).sum::<usize>()
            + self.head.dilation * (self.head.kernel_size - 1)
    }
}
