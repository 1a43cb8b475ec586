//! Bad model input never panics: malformed files, absurd sizes, non-finite samples, bad
//! requests, each a clear error that names the file.

mod common;

use std::path::PathBuf;

use common::shared_nam;
use cubeaudio_nam::{load_file, load_str, LoadOptions, Model, NamError};

fn minimal() -> serde_json::Value {
    let text = std::fs::read_to_string(shared_nam().join("models/trainer_identity_wavenet_minimal.nam")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn error_of(v: &serde_json::Value) -> String {
    match load_str(&v.to_string(), LoadOptions::default()) {
        Ok(_) => panic!("accepted: {v}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn malformed_files_give_clear_errors() {
    assert!(load_str("{\"version\": ", LoadOptions::default()).unwrap_err().to_string().contains("malformed JSON"));
    assert!(load_str("[1, 2]", LoadOptions::default()).unwrap_err().to_string().contains("JSON object"));

    let mut v = minimal();
    v["architecture"] = "Transformer".into();
    assert!(error_of(&v).contains("unknown architecture `Transformer`"));

    let mut v = minimal();
    v["weights"].as_array_mut().unwrap().pop();
    assert!(matches!(
        load_str(&v.to_string(), LoadOptions::default()),
        Err(NamError::WeightCount { expected: 9, actual: 8 })
    ));

    let mut v = minimal();
    v["weights"].as_array_mut().unwrap().push(1.0.into());
    assert!(error_of(&v).contains("weight mismatch"));

    let mut v = minimal();
    v["weights"][3] = serde_json::json!(1e39); // finite in f64, infinite as f32
    assert!(error_of(&v).contains("weight 3 is not a finite number"));

    // Finite but near f32's limit: every sum overflows and an LSTM's state goes NaN for ever.
    for huge in [3e38, -1e7] {
        let mut v = minimal();
        v["weights"][5] = serde_json::json!(huge);
        let msg = error_of(&v);
        assert!(msg.contains("weight 5 is") && msg.contains("within ±1e6"), "{msg}");
    }
    let mut v = minimal();
    v["weights"][5] = serde_json::json!(1e6);
    load_str(&v.to_string(), LoadOptions::default()).unwrap();

    let mut v = minimal();
    v["config"]["layers"][0]["channels"] = serde_json::json!(1_000_000);
    assert!(error_of(&v).contains("outside the supported range"));

    let mut v = minimal();
    v["config"]["layers"][0]["dilations"] = serde_json::json!([4_000_000_000u64]);
    assert!(error_of(&v).contains("outside the supported range"));

    for (version, needle) in
        [("0.4.9", "older"), ("0.8.0", "newer"), ("1.0.0", "newer"), ("0.5", "MAJOR.MINOR.PATCH"), ("x.y.z", "MAJOR")]
    {
        let mut v = minimal();
        v["version"] = version.into();
        assert!(error_of(&v).contains(needle), "{version}");
    }
    let mut v = minimal();
    v["version"] = "0.7.3".into();
    let loaded = load_str(&v.to_string(), LoadOptions::default()).unwrap();
    assert!(loaded.warning.unwrap().contains("partially supported"));

    let mut v = minimal();
    v.as_object_mut().unwrap().remove("config");
    assert!(error_of(&v).contains("missing required key `config`"));

    let mut v = minimal();
    v["sample_rate"] = serde_json::json!(0);
    assert!(error_of(&v).contains("sample_rate"));

    let mut v = minimal();
    v["config"]["layers"][0]["activation"] = "Softsigmoid".into();
    assert!(error_of(&v).contains("unknown activation `Softsigmoid`"));
}

#[test]
fn errors_name_the_file() {
    let missing = PathBuf::from("/nonexistent/model.nam");
    let e = load_file(&missing, LoadOptions::default()).err().unwrap().to_string();
    assert!(e.contains("/nonexistent/model.nam"), "{e}");
    let dir = std::env::temp_dir().join(format!("cubeaudio-robust-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.nam");
    std::fs::write(&bad, "{not json").unwrap();
    let e = load_file(&bad, LoadOptions::default()).err().unwrap().to_string();
    assert!(e.contains("bad.nam") && e.contains("malformed JSON"), "{e}");
}

/// An endless "file" (a device that reports size 0 and never ends) is refused after a bounded
/// read, naming the file and the limit, instead of growing without bound.
#[cfg(unix)]
#[test]
fn endless_files_are_refused_after_a_bounded_read() {
    let zero = std::path::Path::new("/dev/zero");
    let start = std::time::Instant::now();
    let e = load_file(zero, LoadOptions::default()).expect_err("/dev/zero is not a model").to_string();
    assert!(e.contains("/dev/zero") && e.contains("not a regular file"), "{e}");
    assert!(e.contains(&cubeaudio_nam::loader::MAX_STREAM_BYTES.to_string()), "{e}");
    println!("/dev/zero refused in {:?}: {e}", start.elapsed());
}

/// Non-finite input is replaced by silence: the buffer that carried it is finite and the state
/// afterwards equals that of a stream that got zeros there.
#[test]
fn nan_input_does_not_poison_state() {
    let path = shared_nam().join("models/core_wavenet_a1_standard.nam");
    let mut a = Model::new(load_file(&path, LoadOptions::default()).unwrap().dsp);
    let mut b = Model::new(load_file(&path, LoadOptions::default()).unwrap().dsp);
    a.reset(64).unwrap();
    b.reset(64).unwrap();
    let signal: Vec<f32> = (0..6400).map(|i| (i as f32 * 0.01).sin() * 0.5).collect();
    let mut poisoned = signal.clone();
    poisoned[100] = f32::NAN;
    poisoned[2000] = f32::INFINITY;
    let mut clean = signal.clone();
    clean[100] = 0.0;
    clean[2000] = 0.0;
    let (mut ya, mut yb) = (vec![0.0; 6400], vec![0.0; 6400]);
    a.process(&poisoned, &mut ya);
    b.process(&clean, &mut yb);
    assert!(ya.iter().all(|v| v.is_finite()));
    assert_eq!(ya, yb);
    assert_eq!(a.sanitized_samples(), 2);
}

/// Issue #16, defect 5: one huge finite sample made NAM's fast tanh compute inf/inf, and an LSTM
/// then output NaN for ever. Now every output is finite; a WaveNet's output equals the clean
/// run's again once the spike has left its receptive field.
#[test]
fn huge_finite_samples_keep_outputs_finite() {
    let fast = LoadOptions { fast_tanh: true };
    let signal: Vec<f32> = (0..48_000).map(|i| (i as f32 * 0.01).sin() * 0.5).collect();
    let mut spiked = signal.clone();
    spiked[1000] = 1e10;
    spiked[1500] = -1e30;
    // The largest finite samples: a WaveNet's first convolution sums them past f32 (inf − inf).
    spiked[1700] = f32::MAX;
    spiked[1701] = -3e38;
    spiked[1702] = f32::MAX;
    for name in ["core_lstm.nam", "core_wavenet_a1_standard.nam", "core_A2.nam", "core_wavenet.nam"] {
        let loaded = load_file(&shared_nam().join("models").join(name), fast).unwrap();
        let field = loaded.dsp.receptive_field();
        let mut a = Model::new(loaded.dsp.boxed_clone());
        let mut b = Model::new(loaded.dsp);
        a.reset(64).unwrap();
        b.reset(64).unwrap();
        let (mut ya, mut yb) = (vec![0.0; signal.len()], vec![0.0; signal.len()]);
        a.process(&spiked, &mut ya);
        b.process(&signal, &mut yb);
        let bad = ya.iter().filter(|v| !v.is_finite()).count();
        assert_eq!(bad, 0, "{name}: {bad} non-finite outputs after samples of 1e10 to f32::MAX");
        if let Some(field) = field {
            assert_eq!(ya[1702 + field..], yb[1702 + field..], "{name}: the spike outlived the receptive field");
        }
    }
}

/// An LSTM whose weights all sit at the accepted limit (±1e6) fed the largest finite samples:
/// its gates saturate but stay finite, so its state is never NaN — the output after the spikes
/// is the recurrence's, not the silence a poisoned state would be sanitised to.
#[test]
fn weights_at_the_limit_never_poison_an_lstm() {
    let text = std::fs::read_to_string(shared_nam().join("models/core_lstm.nam")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    for (i, w) in v["weights"].as_array_mut().unwrap().iter_mut().enumerate() {
        *w = serde_json::json!(if i % 3 == 0 { -1e6 } else { 1e6 });
    }
    let mut m = Model::new(load_str(&v.to_string(), LoadOptions::default()).unwrap().dsp);
    m.reset(64).unwrap();
    let mut x: Vec<f32> = (0..8192).map(|i| (i as f32 * 0.01).sin() * 0.5).collect();
    x[100] = f32::MAX;
    x[101] = -f32::MAX;
    x[102] = 3e38;
    let mut y = vec![0.0; x.len()];
    m.process(&x, &mut y);
    let after = &y[200..];
    let zeros = after.iter().filter(|v| **v == 0.0).count();
    println!("LSTM at ±1e6 weights after f32::MAX samples: {zeros} of {} outputs are 0", after.len());
    assert!(y.iter().all(|v| v.is_finite()));
    assert!(zeros < after.len() / 100, "the state was poisoned: {zeros} silent outputs");
}

#[test]
fn bad_requests_are_errors_not_panics() {
    let path = shared_nam().join("models/core_wavenet_a1_standard.nam");
    let mut m = Model::new(load_file(&path, LoadOptions::default()).unwrap().dsp);
    assert!(m.reset(0).is_err());
    assert!(m.reset(1 << 20).is_err());
    assert!(m.set_slim(0.5).unwrap_err().to_string().contains("not slimmable"));
    let a2 = shared_nam().join("models/core_A2.nam");
    let mut m = Model::new(load_file(&a2, LoadOptions::default()).unwrap().dsp);
    assert!(m.set_slim(f64::NAN).is_err());
    assert!(m.set_slim(1.5).is_err());
    m.set_slim(0.25).unwrap();
}

/// Issue #16, defect 6: shapes within every per-field limit whose real costs run away are
/// refused with the field and the limit, before anything large is allocated or run: a ConvNet
/// with a 67M-sample receptive field (a 26 kB file that ran for minutes), a WaveNet whose
/// histories need gigabytes at large blocks. Every shipped model and real capture is far inside.
#[test]
fn runaway_costs_are_refused_by_name() {
    // ConvNet: 1,024 blocks of kernel 2 at dilation 65,536 (each within its own limit).
    let blocks = 1024;
    let dilations: Vec<usize> = vec![1 << 16; blocks];
    let weights = vec![0.1f32; blocks * 3 + 2];
    let convnet = serde_json::json!({
        "version": "0.5.4", "architecture": "ConvNet",
        "config": {"channels": 1, "dilations": dilations, "batchnorm": false, "activation": "Tanh"},
        "weights": weights,
    });
    let started = std::time::Instant::now();
    let msg = match load_str(&convnet.to_string(), LoadOptions::default()) {
        Err(e) => e.to_string(),
        Ok(m) => panic!("loaded a ConvNet with receptive field {:?}", m.dsp.receptive_field()),
    };
    println!("ConvNet, 1,024 dilations of 65,536: {msg} ({:?})", started.elapsed());
    assert!(msg.contains("receptive field") && msg.contains("at most 4194304"), "{msg}");

    // WaveNets of 200 channels: 1 layer at dilation 65,536 costs 1.6e10 operations to prewarm
    // (inside the limit), 2 layers 3.1e10 (refused at load); 12 layers of dilation 1 load and run
    // at 64-frame blocks, but their histories at 65,536-frame blocks would need 2.5 GB (refused
    // by `reset`, before allocating).
    let wavenet = |dilations: &[usize]| {
        let c = 200;
        let cfg = serde_json::json!({"layers": [{
            "input_size": 1, "condition_size": 1, "channels": c, "head_size": 1, "kernel_size": 2,
            "dilations": dilations, "activation": "Tanh", "gated": false, "head_bias": false}],
            "head_scale": 1.0});
        let count = c + dilations.len() * (c * c * 2 + c + c + c * c + c) + c + 1;
        let weights = vec!["0.001"; count].join(",");
        format!(r#"{{"version": "0.5.4", "architecture": "WaveNet", "config": {cfg}, "weights": [{weights}]}}"#)
    };
    load_str(&wavenet(&[65_536]), LoadOptions::default()).unwrap();
    let msg = load_str(&wavenet(&[65_536, 65_536]), LoadOptions::default()).unwrap_err().to_string();
    println!("WaveNet 200 channels, 2 layers at dilation 65,536: {msg}");
    assert!(msg.contains("prewarm work") && msg.contains("at most 20000000000"), "{msg}");
    let mut m = Model::new(load_str(&wavenet(&[1; 12]), LoadOptions::default()).unwrap().dsp);
    m.reset(64).unwrap();
    let msg = m.reset(65_536).unwrap_err().to_string();
    println!("WaveNet 200 channels × 12 layers, 65,536-frame blocks: {msg}");
    assert!(msg.contains("state for 65536-frame blocks") && msg.contains("at most 2147483648"), "{msg}");

    // Every shipped model and real capture passes both checks, at the largest block.
    let dir = shared_nam();
    let mut widest = 0;
    for folder in [dir.join("models"), dir.join("real/models")] {
        for entry in std::fs::read_dir(folder).unwrap().flatten() {
            let path = entry.path();
            if let Ok(loaded) = load_file(&path, LoadOptions::default()) {
                let (small, largest) = (loaded.dsp.state_floats(4096) * 4, loaded.dsp.state_floats(65_536) * 4);
                assert!(small < 64 << 20, "{}: {small} bytes of state at 4,096 frames", path.display());
                assert!(largest < 1 << 30, "{}: {largest} bytes of state at 65,536 frames", path.display());
                widest = widest.max(largest);
                Model::new(loaded.dsp).reset(4096).unwrap();
            }
        }
    }
    println!("largest state of a shipped model or real capture at 65,536-frame blocks: {widest} bytes");
}
