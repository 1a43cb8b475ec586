//! Regenerates `examples/rigs/cab_ir.wav`: a synthetic 4×12-style cabinet impulse response
//! (deterministic noise under a 6 ms decay, band-limited to 80 Hz–5 kHz with a presence bump),
//! so the example rigs need no third-party IR.

use std::path::PathBuf;

use cubeaudio_kernels::biquad::BiquadCoefficients;
use cubeaudio_runtime::wav::{self, SampleFormat};

const RATE: u32 = 48_000;
const LEN: usize = 2048;

fn filter(x: &mut [f64], c: BiquadCoefficients) {
    let k = c.0.map(|v| v as f64);
    let (mut s1, mut s2) = (0.0, 0.0);
    for v in x.iter_mut() {
        let y = k[0] * *v + s1;
        s1 = k[1] * *v - k[3] * y + s2;
        s2 = k[2] * *v - k[4] * y;
        *v = y;
    }
}

fn main() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut ir: Vec<f64> = (0..LEN)
        .map(|t| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let noise = (seed >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
            noise * (-(t as f64) / (0.006 * RATE as f64)).exp()
        })
        .collect();
    let sr = RATE as f64;
    filter(&mut ir, BiquadCoefficients::highpass(sr, 80.0, 0.707));
    filter(&mut ir, BiquadCoefficients::lowpass(sr, 5000.0, 0.9));
    filter(&mut ir, BiquadCoefficients::lowpass(sr, 5000.0, 0.6));
    filter(&mut ir, BiquadCoefficients::peaking(sr, 2500.0, 1.2, 4.0));
    let peak = ir.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let samples: Vec<f32> = ir.iter().map(|v| (v / peak * 0.9) as f32).collect();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/rigs/cab_ir.wav");
    wav::write(&path, &[samples], RATE, SampleFormat::Float32).expect("write IR");
    println!("wrote {}", path.display());
}
