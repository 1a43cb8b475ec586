//! The 29 real user captures of `../shared/nam/real` (standard, lite, feather, nano, non-preset
//! widths, LSTMs, an A2 container; files 0.5.0–0.7.0 from several trainer versions) on the CPU
//! engine against the official core's outputs, both inputs, at the core's 64-frame buffers with
//! the plugin's resets; the four LSTMs (no `sample_rate`: prewarmed with one block, so the block
//! size shows) also at 512 frames against `out_b512`. Tolerance `1e-4 · max(1, peak)`.

mod common;

use common::{read_f32, real_manifest, relative_error, render_in_blocks, shared_nam};
use cubeaudio_nam::LoadOptions;

fn render(name: &str, input: &[f32], buffer: usize) -> Vec<f32> {
    let path = shared_nam().join("real/models").join(format!("{name}.nam"));
    render_in_blocks(&path, LoadOptions::default(), None, input, buffer)
}

#[test]
fn every_real_capture_matches_the_core() {
    let dir = shared_nam();
    let captures = real_manifest();
    assert_eq!(captures.len(), 66, "29 captures × 2 inputs, and the four LSTMs' 512-frame runs");
    assert_eq!(captures.iter().filter(|c| c.buffer == 512).count(), 8);
    let mut worst = (0.0f64, String::new());
    for c in &captures {
        let input = read_f32(&dir.join("refs").join(&c.input));
        let err = relative_error(&render(&c.name, &input, c.buffer), &read_f32(&dir.join("real").join(&c.output)));
        println!("[real] {} {} buffer {}: relative error {err:.3e}", c.name, c.input, c.buffer);
        assert!(err <= 1e-4, "{} {} buffer {}: relative error {err:.3e}", c.name, c.input, c.buffer);
        if err > worst.0 {
            worst = (err, format!("{} {} buffer {}", c.name, c.input, c.buffer));
        }
    }
    println!("[real] {} runs within 1e-4; worst {:.3e} ({})", captures.len(), worst.0, worst.1);
}
