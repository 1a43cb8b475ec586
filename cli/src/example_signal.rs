//! A deterministic, guitar-like DI test signal (Karplus-Strong plucked strings: a chord
//! progression, single notes, palm mutes). `examples/audio/di_guitar.wav` is this signal;
//! `cargo run --release -p cubeaudio --example make_di` regenerates it and a test checks it.

/// Sample rate of the example DI signal.
pub const RATE: u32 = 48_000;

/// A tiny LCG so the signal is identical on every machine.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

fn pluck(out: &mut [f32], start: usize, freq: f32, amp: f32, decay: f32, rng: &mut Lcg) {
    let period = (RATE as f32 / freq).round() as usize;
    let mut line: Vec<f32> = (0..period).map(|_| rng.next() * amp).collect();
    let mut prev = 0.0;
    for (i, o) in out[start..].iter_mut().enumerate() {
        let j = i % period;
        let v = line[j];
        *o += v;
        line[j] = decay * 0.5 * (v + prev);
        prev = v;
    }
}

/// Six seconds at [`RATE`], peak 0.5.
pub fn di_signal() -> Vec<f32> {
    let mut out = vec![0.0f32; RATE as usize * 6];
    let mut rng = Lcg(0x5eed_cafe);
    let beat = RATE as usize / 2;
    // E-A-D-G-B-E open-position chords, strummed (strings 10 ms apart).
    let chords: [&[f32]; 4] = [
        &[82.41, 123.47, 164.81, 207.65, 246.94, 329.63], // E
        &[110.0, 164.81, 220.0, 277.18, 329.63],          // A
        &[146.83, 220.0, 293.66, 369.99],                 // D
        &[98.0, 123.47, 146.83, 196.0, 246.94, 392.0],    // G
    ];
    for (k, chord) in chords.iter().enumerate() {
        for (s, &f) in chord.iter().enumerate() {
            pluck(&mut out, k * 2 * beat + s * 480, f, 0.25, 0.996, &mut rng);
        }
    }
    // A single-note riff with palm mutes (fast decay) to finish.
    for (i, f) in [82.41f32, 82.41, 98.0, 110.0, 82.41, 123.47, 110.0, 98.0].iter().enumerate() {
        let decay = if i % 2 == 0 { 0.97 } else { 0.995 };
        pluck(&mut out, 8 * beat + i * beat / 2, *f, 0.35, decay, &mut rng);
    }
    let peak = out.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    out.iter().map(|v| v / peak * 0.5).collect()
}
