//! A Sequential model (amp capture → cab IR, core PR #323) through the binary: `info` shows the
//! chain and its calibration gain; `render` on the CPU engine equals the library's model with
//! the plugin's resets; `auto` renders the chain on a GPU when there is one (within the GPU
//! tolerance) and a chain holding an LSTM on the CPU engine, saying why.

mod binary;
#[path = "../../nam/tests/common/mod.rs"]
mod common;

use binary::{cubeaudio, render};
use common::{linear_ir_json, relative_error, sequential_json, shared_model_text};
use cubeaudio_nam::{load_str, LoadOptions, Model};
use cubeaudio_runtime::wav::{self, SampleFormat};

/// The library's CPU model, reset as the plugin does, over `input` in 512-frame buffers (the
/// binary's default).
fn library_render(chain: &str, input: &[f32]) -> Vec<f32> {
    let mut m = Model::new(load_str(chain, LoadOptions::default()).unwrap().dsp);
    m.reset_like_plugin(512).unwrap();
    let mut out = vec![0.0; input.len()];
    for (i, o) in input.chunks(512).zip(out.chunks_mut(512)) {
        m.process(i, o);
    }
    out
}

#[test]
fn a_chain_renders_through_the_binary() {
    let dir = std::env::temp_dir().join(format!("cubeaudio-sequential-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let chain = sequential_json(&[shared_model_text("core_wavenet.nam"), linear_ir_json(400, 9, Some(6.0), None)]);
    let model = dir.join("amp-cab.nam");
    std::fs::write(&model, &chain).unwrap();
    let samples: Vec<f32> = (0..30_000).map(|t| 0.5 * (t as f32 * 0.013).sin() * (t as f32 * 0.0007).cos()).collect();
    let input = dir.join("di.wav");
    wav::write(&input, std::slice::from_ref(&samples), 48_000, SampleFormat::Float32).unwrap();
    let want = library_render(&chain, &samples);

    let (code, info, stderr) = cubeaudio(&["info", model.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    for fact in ["architecture: Sequential", "Sequential of 2 models", "model 1: \"Linear\"", "input scaled by"] {
        assert!(info.contains(fact), "`info` lacks {fact:?}:\n{info}");
    }

    let cpu = dir.join("cpu.wav");
    render(&model, &input, &cpu, &["--backend", "cpu"]);
    assert_eq!(wav::read(&cpu).unwrap().channels[0], want, "CPU render differs from the library's chain");

    let auto = dir.join("auto.wav");
    let stdout = render(&model, &input, &auto, &[]);
    let got = &wav::read(&auto).unwrap().channels[0];
    let err = relative_error(got, &want);
    assert!(err <= 1e-4, "auto render ({stdout}) is {err:.3e} off the CPU chain");
    println!("[sequential] auto render: {} (relative error {err:.3e})", stdout.lines().next().unwrap_or(""));

    // An LSTM chain: the GPU's convolutional engine refuses it; auto runs it on the CPU engine.
    let lstm_chain = sequential_json(&[shared_model_text("core_lstm.nam"), linear_ir_json(64, 2, None, None)]);
    let lstm_model = dir.join("lstm-cab.nam");
    std::fs::write(&lstm_model, &lstm_chain).unwrap();
    let lstm_out = dir.join("lstm.wav");
    let stdout = render(&lstm_model, &input, &lstm_out, &[]);
    assert!(stdout.contains("backend cpu"), "{stdout}");
    assert_eq!(wav::read(&lstm_out).unwrap().channels[0], library_render(&lstm_chain, &samples));
    std::fs::remove_dir_all(&dir).unwrap();
}
