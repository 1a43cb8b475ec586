//! Sequential models (core PR #323) on the CPU engine: a chain equals its models run one after
//! another with the core's calibration gains and resets, nesting changes nothing, and every
//! malformed chain is refused by name. The core's outputs for Sequential files are not in
//! `../shared`; the oracle here is the core's procedure written out over models each checked
//! against the core elsewhere (references.rs).

mod common;

use common::{linear_ir_json, sequential_json, shared_model_text};
use cubeaudio_nam::dsp::Dsp;
use cubeaudio_nam::{load_str, LoadOptions, Model};

fn signal(n: usize) -> Vec<f32> {
    (0..n).map(|i| 0.6 * ((i as f32) * 0.031).sin() * (1.0 + 0.4 * ((i as f32) * 0.0023).cos())).collect()
}

fn dsp(text: &str) -> Box<dyn Dsp> {
    load_str(text, LoadOptions::default()).unwrap_or_else(|e| panic!("{e}")).dsp
}

/// The core's `Sequential`, written out: every model reset on its own (its own prewarm), then
/// `1 + Σ (field − 1)` zeros through the chain in whole `buffer`-frame blocks, then `input`;
/// between models, the output times the calibration gain.
fn core_procedure(models: &[&str], gains: &[f32], buffer: usize, input: &[f32]) -> Vec<f32> {
    let mut chain: Vec<Model> = models.iter().map(|m| Model::new(dsp(m))).collect();
    let fields: usize = chain.iter().map(|m| m.dsp().receptive_field().unwrap_or(m.dsp().prewarm_samples()) - 1).sum();
    for m in &mut chain {
        m.reset(buffer).unwrap();
    }
    let mut step = |block: &[f32]| -> Vec<f32> {
        let mut x = block.to_vec();
        for (i, m) in chain.iter_mut().enumerate() {
            if i > 0 {
                x.iter_mut().for_each(|s| *s *= gains[i]);
            }
            let mut y = vec![0.0; x.len()];
            m.process(&x, &mut y);
            x = y;
        }
        x
    };
    let prewarm = (1 + fields).div_ceil(buffer) * buffer;
    for _ in 0..prewarm / buffer {
        step(&vec![0.0; buffer]);
    }
    input.chunks(buffer).flat_map(&mut step).collect()
}

fn render(text: &str, buffer: usize, input: &[f32]) -> Vec<f32> {
    let mut m = Model::new(dsp(text));
    m.reset(buffer).unwrap();
    let mut out = vec![0.0; input.len()];
    for (i, o) in input.chunks(buffer).zip(out.chunks_mut(buffer)) {
        m.process(i, o);
    }
    out
}

fn gain(db: f64) -> f32 {
    10f64.powf(db / 20.0) as f32
}

#[test]
fn an_amp_then_a_cab_is_the_cores_chain_with_its_calibration_gain() {
    // The amp outputs at 12.3 dBu; the cab IR is calibrated for 6 dBu in: +6.3 dB between them.
    let amp = shared_model_text("core_wavenet.nam");
    let cab = linear_ir_json(300, 7, Some(6.0), Some(-3.0));
    let file = sequential_json(&[amp.clone(), cab.clone()]);
    let loaded = load_str(&file, LoadOptions::default()).unwrap();
    assert_eq!(loaded.architecture, "Sequential");
    assert_eq!(loaded.metadata.input_level_dbu, Some(18.3), "input level from the first model");
    assert_eq!(loaded.metadata.output_level_dbu, Some(-3.0), "output level from the last model");
    assert_eq!(loaded.metadata.loudness, None, "loudness from the last model, which has none");
    let amp_field = dsp(&amp).receptive_field().unwrap();
    assert_eq!(loaded.dsp.receptive_field(), Some(amp_field + 299));
    assert_eq!(loaded.dsp.prewarm_samples(), amp_field + 299);
    let input = signal(5000);
    for buffer in [64, 700] {
        let got = render(&file, buffer, &input);
        let want = core_procedure(&[&amp, &cab], &[1.0, gain(6.3)], buffer, &input);
        assert_eq!(got, want, "buffer {buffer}");
        // The gain is not a no-op: without it the chain sounds different.
        let unity = core_procedure(&[&amp, &cab], &[1.0, 1.0], buffer, &input);
        let diff = got.iter().zip(&unity).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(diff > 1e-3, "calibration gain made no difference ({diff})");
    }
}

#[test]
fn an_lstm_then_a_cab_keeps_the_lstms_state_rules() {
    let amp = shared_model_text("core_lstm.nam");
    let cab = linear_ir_json(128, 3, None, None);
    let file = sequential_json(&[amp.clone(), cab.clone()]);
    let loaded = load_str(&file, LoadOptions::default()).unwrap();
    assert_eq!(loaded.dsp.receptive_field(), None, "an LSTM's memory is unbounded");
    let input = signal(3000);
    let got = render(&file, 256, &input);
    assert_eq!(got, core_procedure(&[&amp, &cab], &[1.0, 1.0], 256, &input));
    assert!(got.iter().all(|v| v.is_finite()) && got.iter().any(|v| v.abs() > 1e-3));
}

#[test]
fn nesting_a_chain_changes_nothing() {
    let amp = shared_model_text("core_wavenet.nam");
    let (ir1, ir2) = (linear_ir_json(100, 1, Some(0.0), Some(4.0)), linear_ir_json(60, 2, Some(-2.0), None));
    let flat = sequential_json(&[amp.clone(), ir1.clone(), ir2.clone()]);
    let nested = sequential_json(&[sequential_json(&[amp, ir1]), ir2]);
    let input = signal(4000);
    let got = render(&nested, 128, &input);
    assert_eq!(got, render(&flat, 128, &input));
    assert!(got.iter().any(|v| v.abs() > 1e-3));
}

#[test]
fn a_chain_slims_every_slimmable_model_in_it() {
    let slim = shared_model_text("core_slimmable_wavenet.nam");
    let cab = linear_ir_json(32, 5, None, None);
    let mut m = Model::new(dsp(&sequential_json(&[slim, cab])));
    m.reset(64).unwrap();
    let input = signal(512);
    let mut full = vec![0.0; 512];
    m.process(&input, &mut full);
    m.set_slim(0.0).unwrap();
    let mut small = vec![0.0; 512];
    m.process(&input, &mut small);
    assert_ne!(full, small, "the slimmable WaveNet inside the chain did not change size");
    let mut plain = Model::new(dsp(&sequential_json(&[linear_ir_json(8, 1, None, None)])));
    assert!(plain.set_slim(0.5).is_err(), "a chain of nothing slimmable refuses a slim value");
}

/// The error of loading `text`, as the user reads it.
fn refusal(text: &str) -> String {
    match load_str(text, LoadOptions::default()) {
        Ok(m) => panic!("loaded a {} that should be refused", m.architecture),
        Err(e) => e.to_string(),
    }
}

#[test]
fn malformed_chains_are_refused_by_name() {
    let cab = linear_ir_json(16, 1, None, None);
    let with_config = |config: &str, weights: &str| {
        format!(r#"{{"version": "0.7.0", "architecture": "Sequential", "config": {config}, "weights": {weights}}}"#)
    };
    // The old core example (lower-case) and the legacy flattened export stay refused, each
    // with the core's reason.
    let legacy = refusal(&shared_model_text("core_sequential.nam"));
    assert!(legacy.contains("no longer registers"), "{legacy}");
    let flattened = refusal(&with_config(r#"{"models": [{"architecture": "Linear"}]}"#, "[0.5, 0.5]"));
    assert!(flattened.contains("legacy export") && flattened.contains("2 numbers"), "{flattened}");
    let empty = refusal(&with_config(r#"{"models": []}"#, "[]"));
    assert!(empty.contains("at least one model"), "{empty}");
    let not_a_list = refusal(&with_config(r#"{"models": 3}"#, "[]"));
    assert!(not_a_list.contains("`config.models` must be an array"), "{not_a_list}");
    // An error inside a model names the model.
    let broken = cab.replace(r#""bias": true"#, r#""bias": false"#);
    let inner = refusal(&sequential_json(&[cab.clone(), broken]));
    assert!(inner.starts_with("Sequential model 1: weight mismatch"), "{inner}");
    let rates = refusal(&sequential_json(&[cab.clone(), cab.replace("48000", "44100")]));
    assert!(rates.contains("Sequential model 1") && rates.contains("44100"), "{rates}");
    let stereo = cab.replace(r#""bias": true"#, r#""bias": true, "out_channels": 2"#);
    let channels = refusal(&sequential_json(&[stereo, cab.clone()]));
    assert!(channels.contains("model 0 outputs 2 channel(s) but model 1 takes 1"), "{channels}");
    let mut deep = cab.clone();
    for _ in 0..12 {
        deep = sequential_json(&[deep]);
    }
    let nested = refusal(&deep);
    assert!(nested.contains("nested too deeply"), "{nested}");
}

#[test]
fn a_chain_of_long_irs_is_refused_for_its_total_receptive_field() {
    // Five IRs of 960,000 taps (each within the Linear limit) reach 1 + 5 · 959,999 samples.
    let zeros = |n: usize| format!("[{}0]", "0,".repeat(n - 1));
    let long = format!(
        r#"{{"version": "0.5.4", "architecture": "Linear", "config": {{"receptive_field": 960000, "bias": false}}, "weights": {}}}"#,
        zeros(960_000)
    );
    let message = refusal(&sequential_json(&vec![long; 5]));
    assert!(message.contains("receptive field") && message.contains("4799996"), "{message}");
}
