//! `cubeaudio info`: what a model is and what it costs.

use std::fmt::Write;

use cubeaudio_nam::LoadedModel;

/// A human-readable description of a loaded model, one fact per line.
pub fn describe(m: &LoadedModel) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "architecture: {} (file version {})", m.architecture, m.version);
    if let Some(w) = &m.warning {
        let _ = writeln!(s, "warning: {w}");
    }
    let _ = writeln!(s, "channels: {} in, {} out", m.dsp.in_channels(), m.dsp.out_channels());
    match m.sample_rate {
        Some(sr) => {
            let _ = writeln!(s, "sample rate: {sr} Hz");
        }
        None => {
            let _ = writeln!(s, "sample rate: not stated (48 kHz assumed)");
        }
    }
    for line in &m.summary {
        let _ = writeln!(s, "  {line}");
    }
    match m.dsp.receptive_field() {
        Some(r) => {
            let _ = writeln!(s, "receptive field: {r} samples");
        }
        None => {
            let _ = writeln!(s, "receptive field: unbounded (recurrent)");
        }
    }
    let flops = m.dsp.flops_per_sample();
    let sr = m.sample_rate.unwrap_or(48_000.0);
    let _ = writeln!(s, "cost: {flops} FLOPs per sample ({:.3} GFLOP/s at {} Hz)", flops as f64 * sr / 1e9, sr);
    let md = &m.metadata;
    let fields = [
        ("name", md.name.clone()),
        ("modeled by", md.modeled_by.clone()),
        (
            "gear",
            match (&md.gear_make, &md.gear_model) {
                (Some(a), Some(b)) => Some(format!("{a} {b}")),
                (a, b) => a.clone().or(b.clone()),
            },
        ),
        ("gear type", md.gear_type.clone()),
        ("tone type", md.tone_type.clone()),
        ("loudness", md.loudness.map(|v| format!("{v:.2} dB"))),
        ("input level", md.input_level_dbu.map(|v| format!("{v:.2} dBu"))),
        ("output level", md.output_level_dbu.map(|v| format!("{v:.2} dBu"))),
    ];
    for (k, v) in fields {
        if let Some(v) = v {
            let _ = writeln!(s, "{k}: {v}");
        }
    }
    s
}
