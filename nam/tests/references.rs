//! Parity with the official NAM core: every reference of `shared/nam/refs/manifest.txt`, within
//! `1e-4 · max(1, peak)`, at the reference buffer (64) and, for the noise input, at buffer sizes
//! 1, 7, 500 and 4096 too.

mod common;

use common::{manifest, read_f32, render_in_blocks, shared_nam};
use cubeaudio_nam::{load_file, LoadOptions};

fn render(model: &str, fast_tanh: bool, slim: Option<f64>, input: &[f32], buffer: usize) -> Vec<f32> {
    render_in_blocks(&shared_nam().join("models").join(model), LoadOptions { fast_tanh }, slim, input, buffer)
}

#[test]
fn every_reference_matches_the_core() {
    let refs = manifest();
    assert!(refs.len() >= 40, "manifest has {} entries", refs.len());
    let dir = shared_nam();
    let mut worst = 0.0f64;
    for r in &refs {
        let input = read_f32(&dir.join("refs").join(&r.input));
        let expected = read_f32(&dir.join("refs").join(&r.output));
        let peak = expected.iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
        let tol = 1e-4 * peak.max(1.0);
        let buffers: &[usize] = if r.input.starts_with("noise") { &[64, 1, 7, 500, 4096] } else { &[64] };
        for &b in buffers {
            let got = render(&r.model, r.fast_tanh, r.slim, &input, b);
            let err = got.iter().zip(&expected).map(|(a, e)| (a - e).abs() as f64).fold(0.0, f64::max);
            println!(
                "{} {} {} buffer {b}: max |err| {err:.3e} (peak {peak:.3}, tolerance {tol:.1e})",
                r.model, r.variant, r.input
            );
            assert!(got.iter().all(|v| v.is_finite()), "{} {}: non-finite output", r.model, r.variant);
            assert!(err <= tol, "{} {} {} buffer {b}: max |err| {err:.3e} > {tol:.1e}", r.model, r.variant, r.input);
            worst = worst.max(err / peak.max(1.0));
        }
    }
    println!("worst relative error over all references: {worst:.3e}");
}

#[test]
fn refused_files_say_why() {
    let dir = shared_nam().join("models");
    for (file, needle) in [
        ("core_sequential.nam", "no longer registers"),
        ("trainer_output_knob_conditioned_model.nam", "expects a condition of 7 channels"),
    ] {
        let err = load_file(&dir.join(file), LoadOptions::default()).err().unwrap_or_else(|| panic!("{file} loaded"));
        let msg = err.to_string();
        println!("{file}: {msg}");
        assert!(msg.contains(file) && msg.contains(needle), "{msg}");
    }
}

#[test]
fn every_shipped_model_loads_or_is_refused_clearly() {
    let dir = shared_nam().join("models");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "nam") {
            match load_file(&path, LoadOptions::default()) {
                Ok(m) => println!("{}: {} ok", path.display(), m.architecture),
                Err(e) => {
                    let name = path.file_name().unwrap().to_string_lossy();
                    assert!(
                        ["core_sequential.nam", "trainer_output_knob_conditioned_model.nam"].contains(&name.as_ref()),
                        "{e}"
                    );
                }
            }
        }
    }
}
