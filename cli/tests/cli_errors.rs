//! The command line under bad input: exit codes and messages, no panics, no partial output;
//! the shipped DI signal; `pack`'s contract; several inputs into a folder.

mod binary;
#[path = "../../nam/tests/common/mod.rs"]
mod common;

use std::process::Command;

use binary::cubeaudio;
use common::shared_nam;

/// `render --model M --input I --output O` followed by `extra`.
fn render_args<'a>(model: &'a str, input: &'a str, output: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["render", "--model", model, "--input", input, "--output", output];
    args.extend_from_slice(extra);
    args
}

fn write_wav(path: &std::path::Path, rate: u32, channels: u16, samples: &[f32]) {
    let spec =
        hound::WavSpec { channels, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for s in samples {
        w.write_sample((s * 32767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn cli_renders_and_fails_cleanly() {
    let dir = std::env::temp_dir().join(format!("cubeaudio-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = shared_nam().join("models/core_wavenet_a1_standard.nam");
    let model = model.to_str().unwrap();
    // A 44.1 kHz stereo 16-bit file: exercises resampling and one instance per channel.
    let input = dir.join("in.wav");
    let samples: Vec<f32> = (0..44_100 * 2).map(|i| ((i / 2) as f32 * 0.05).sin() * 0.3).collect();
    write_wav(&input, 44_100, 2, &samples);
    let output = dir.join("out.wav");
    let (code, stdout, stderr) =
        cubeaudio(&render_args(model, input.to_str().unwrap(), output.to_str().unwrap(), &["--backend", "cpu"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("backend cpu") && stdout.contains("real-time factor"), "{stdout}");
    let reader = hound::WavReader::open(&output).unwrap();
    let spec = reader.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample, spec.sample_format),
        (2, 44_100, 32, hound::SampleFormat::Float)
    );
    assert_eq!(reader.len() as usize, samples.len());

    // An output that is a file the command reads is refused before any work, under any name.
    let input_copy = std::fs::read(&input).unwrap();
    let model_copy = std::fs::read(model).unwrap();
    let dotted = dir.join(".").join("in.wav");
    let model_alias =
        std::path::Path::new(model).parent().unwrap().join(".").join(std::path::Path::new(model).file_name().unwrap());
    for (out, role) in [(dotted.to_str().unwrap(), "input"), (model_alias.to_str().unwrap(), "model")] {
        let (code, _, stderr) = cubeaudio(&render_args(model, input.to_str().unwrap(), out, &["--backend", "cpu"]));
        assert_ne!(code, 0, "--output {out} was accepted");
        assert!(stderr.contains(&format!("is the {role}")), "{stderr}");
    }
    assert_eq!(std::fs::read(&input).unwrap(), input_copy, "the input changed");
    assert_eq!(std::fs::read(model).unwrap(), model_copy, "the model changed");

    let (code, _, stderr) = cubeaudio(&["info", model]);
    assert_eq!(code, 0, "{stderr}");

    // auto: a GPU when there is a hardware one, otherwise the CPU engine and the reason.
    let auto_out = dir.join("auto.wav");
    let (code, stdout, stderr) =
        cubeaudio(&render_args(model, input.to_str().unwrap(), auto_out.to_str().unwrap(), &[]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("backend "), "{stdout}");
    if stdout.starts_with("backend cpu") {
        assert!(stderr.contains("no GPU used ("), "auto fell back without saying why: {stderr}");
    }

    // Failures: non-zero exit, one clear message naming the file, no panic, no output left.
    let empty = dir.join("empty.wav");
    write_wav(&empty, 48_000, 1, &[]);
    let garbage = dir.join("garbage.wav");
    std::fs::write(&garbage, b"RIFF....WAVEjunk").unwrap();
    let bad_model = dir.join("bad.nam");
    std::fs::write(&bad_model, "{\"version\": \"0.5.0\"").unwrap();
    let never = dir.join("never.wav");
    for (args, needle) in [
        (render_args(model, empty.to_str().unwrap(), never.to_str().unwrap(), &[]), "no samples"),
        (render_args(model, garbage.to_str().unwrap(), never.to_str().unwrap(), &[]), "garbage.wav"),
        (render_args(bad_model.to_str().unwrap(), input.to_str().unwrap(), never.to_str().unwrap(), &[]), "bad.nam"),
        (render_args(model, input.to_str().unwrap(), never.to_str().unwrap(), &["--backend", "tpu"]), "invalid value"),
        (render_args(model, input.to_str().unwrap(), never.to_str().unwrap(), &["--slim", "0.5"]), "not slimmable"),
        (render_args(model, input.to_str().unwrap(), never.to_str().unwrap(), &["--buffer", "0"]), "--buffer"),
        (vec!["info", "/nonexistent.nam"], "/nonexistent.nam"),
    ] {
        let (code, _, stderr) = cubeaudio(&args);
        assert_ne!(code, 0, "{args:?} succeeded");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        let partial =
            std::fs::read_dir(&dir).unwrap().flatten().any(|e| e.file_name().to_string_lossy().ends_with(".partial"));
        assert!(!never.exists() && !partial, "{args:?} left an output file");
    }
}

#[test]
fn shipped_di_signal_is_the_generator_output() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/audio/di_guitar.wav");
    let cubeaudio_runtime::wav::Wav { channels, sample_rate: rate } = cubeaudio_runtime::wav::read(&path).unwrap();
    assert_eq!(rate, cubeaudio::example_signal::RATE);
    let expected = cubeaudio::example_signal::di_signal();
    assert_eq!(channels[0].len(), expected.len());
    let worst = channels[0].iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(
        worst <= 1.0 / 32767.0,
        "committed DI differs from the generator by {worst}: regenerate with the make_di example"
    );
}

#[test]
fn cli_pack_follows_the_contract() {
    use std::io::Write;
    let run = |input: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cubeaudio"))
            .arg("pack")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, stdout, _) = run(r#"{"warp_size": 32, "warps": 32, "counts": [1000, 1, 1]}"#);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["max_occupancy"], 3);
    assert_eq!(v["warps"].as_array().unwrap().len(), 32);
    for bad in
        [r#"{"warp_size": 32, "warps": 1, "counts": [33]}"#, "{", r#"{"warp_size": 0, "warps": 1, "counts": [1]}"#]
    {
        let (code, stdout, stderr) = run(bad);
        assert_eq!(code, Some(2), "{bad}");
        assert!(stdout.is_empty());
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    }
    // Issue #16, defect 9: a warp width near u64::MAX / 4 overflowed the slot count into
    // "0 slots, infeasible"; five entities fit in one such warp.
    let (code, stdout, stderr) = run(r#"{"warp_size": 4611686018427387904, "warps": 4, "counts": [5]}"#);
    assert_eq!(code, Some(0), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["max_occupancy"], 1, "{stdout}");
    // The largest tables are refused before any allocation (4,096 types × 65,536 warps took
    // 1 GB), naming the limit.
    let counts = vec!["1"; 4096].join(",");
    let (code, _, stderr) = run(&format!(r#"{{"warp_size": 32, "warps": 65536, "counts": [{counts}]}}"#));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cells") && stderr.contains("limit"), "{stderr}");
}

#[test]
fn cli_renders_several_inputs_into_a_folder() {
    let dir = std::env::temp_dir().join(format!("cubeaudio-cli-batch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = shared_nam().join("models/core_wavenet.nam");
    let model = model.to_str().unwrap();
    let a = dir.join("a.wav");
    let b = dir.join("b.wav");
    write_wav(&a, 48_000, 1, &(0..6_000).map(|i| (i as f32 * 0.03).sin() * 0.3).collect::<Vec<_>>());
    write_wav(&b, 44_100, 2, &(0..8_000).map(|i| (i as f32 * 0.02).sin() * 0.3).collect::<Vec<_>>());
    let out = dir.join("rendered");
    let more = ["--input", b.to_str().unwrap(), "--backend", "cpu"];
    let (code, stdout, stderr) = cubeaudio(&render_args(model, a.to_str().unwrap(), out.to_str().unwrap(), &more));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("2 file(s), 3 channel(s)"), "{stdout}");
    for (name, channels, rate, frames) in [("a.wav", 1, 48_000, 6_000), ("b.wav", 2, 44_100, 4_000)] {
        let r = hound::WavReader::open(out.join(name)).unwrap();
        assert_eq!((r.spec().channels, r.spec().sample_rate, r.duration()), (channels, rate, frames), "{name}");
    }
    // Two inputs with one name would overwrite each other: refused before anything runs.
    let sub = dir.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::copy(&a, sub.join("a.wav")).unwrap();
    let twin = sub.join("a.wav");
    let (code, _, stderr) = cubeaudio(&render_args(
        model,
        a.to_str().unwrap(),
        out.to_str().unwrap(),
        &["--input", twin.to_str().unwrap()],
    ));
    assert_ne!(code, 0);
    assert!(stderr.contains("would both be written"), "{stderr}");
    // With several inputs, --output must not be an existing file.
    let (code, _, stderr) =
        cubeaudio(&render_args(model, a.to_str().unwrap(), a.to_str().unwrap(), &["--input", b.to_str().unwrap()]));
    assert_ne!(code, 0);
    assert!(stderr.contains("must be a folder"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue #16, defect 10: each cause named once, a UTF-8 byte-order mark accepted as the core
/// does, `info` printing config values as the file writes them, and a short weights array told
/// the whole count its config needs.
#[test]
fn messages_are_exact() {
    let dir = std::env::temp_dir().join(format!("cubeaudio-messages-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("missing.nam");
    let (code, _, stderr) = cubeaudio(&["info", missing.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stderr.matches("os error 2").count(), 1, "the OS error is repeated: {stderr}");

    let models = shared_nam().join("models");
    let text = std::fs::read_to_string(models.join("core_lstm.nam")).unwrap();
    let bom = dir.join("bom.nam");
    std::fs::write(&bom, format!("\u{feff}{text}")).unwrap();
    let (code, stdout, stderr) = cubeaudio(&["info", bom.to_str().unwrap()]);
    assert_eq!(code, 0, "a byte-order mark is refused: {stderr}");
    assert!(stdout.contains("LSTM") && !stdout.contains("Some("), "{stdout}");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let layers = &json["config"]["num_layers"];
    let hidden = &json["config"]["hidden_size"];
    assert!(stdout.contains(&format!("LSTM {layers} layers × {hidden} hidden")), "{stdout}");

    // Every weight but the last two: the error names the full count.
    let mut short = json.clone();
    let all = short["weights"].as_array().unwrap().len();
    short["weights"].as_array_mut().unwrap().truncate(all - 2);
    let path = dir.join("short.nam");
    std::fs::write(&path, short.to_string()).unwrap();
    let (code, _, stderr) = cubeaudio(&["info", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stderr.contains(&format!("needs {all} weights but the file has {}", all - 2)), "{stderr}");
    // None at all.
    short["weights"] = serde_json::json!([]);
    std::fs::write(&path, short.to_string()).unwrap();
    let (_, _, stderr) = cubeaudio(&["info", path.to_str().unwrap()]);
    assert!(stderr.contains(&format!("needs {all} weights but the file has 0")), "{stderr}");

    // The rest of defect 10: a missing output folder is refused before the render (it used to
    // fail only when writing, after all the work), and `--help` tells where `--buffer` matters.
    let input = dir.join("in.wav");
    write_wav(&input, 48_000, 1, &[0.1; 4800]);
    let model = models.join("core_wavenet_a1_standard.nam");
    let nowhere = dir.join("no-such-folder").join("out.wav");
    let (code, stdout, stderr) = cubeaudio(&render_args(
        model.to_str().unwrap(),
        input.to_str().unwrap(),
        nowhere.to_str().unwrap(),
        &["--backend", "cpu"],
    ));
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty() && stderr.contains("output folder") && stderr.contains("does not exist"), "{stderr}");
    let (code, _, stderr) =
        cubeaudio(&render_args(model.to_str().unwrap(), input.to_str().unwrap(), dir.to_str().unwrap(), &[]));
    assert_eq!(code, 1);
    assert!(stderr.contains("is a folder"), "{stderr}");
    let (_, help, _) = cubeaudio(&["render", "--help"]);
    assert!(help.contains("except for LSTM models"), "{help}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue #16, defect 6, through the binary: a 1 Hz WAV against a 48 kHz model asked the
/// resampler for 18.5 GB and aborted; it is refused up front, exit 1, and no file is left.
#[test]
fn absurd_sample_rates_are_refused_before_any_work() {
    let dir = std::env::temp_dir().join(format!("cubeaudio-rates-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("one-hertz.wav");
    write_wav(&input, 1, 1, &[0.1; 100]);
    let model = shared_nam().join("models/core_wavenet.nam");
    let output = dir.join("out.wav");
    let args =
        render_args(model.to_str().unwrap(), input.to_str().unwrap(), output.to_str().unwrap(), &["--backend", "cpu"]);
    let (code, _, stderr) = cubeaudio(&args);
    println!("{stderr}");
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("cannot resample 1 Hz → 48000 Hz") && stderr.contains("at most 16× apart"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("one-hertz.wav")]);
}

/// Lengths in seconds that are not numbers, not finite or past what the command can hold are
/// refused by the parser, naming the value (NaN made `live` stop at once and `bench` skip its
/// file; infinity made `bench` allocate without bound); so are the bench's counts whose 0 broke
/// a measurement (`--latency-buffers 0` panicked on an empty percentile) or whose size is
/// unbounded, and a sweep whose first count is past its last.
#[test]
fn lengths_and_counts_are_checked() {
    let model = shared_nam().join("models/core_wavenet.nam");
    let model = model.to_str().unwrap();
    for value in ["nan", "inf", "1e12", "-5", "ten"] {
        let flag = format!("--single-file-seconds={value}");
        let (code, _, stderr) = cubeaudio(&["bench", "--model", model, &flag]);
        assert_eq!(code, 2, "bench {flag}: {stderr}");
        assert!(stderr.contains(&format!("`{value}` is not a length from 0 (none) to 3600 seconds")), "{stderr}");
    }
    for value in ["nan", "inf", "0", "-1", "ten"] {
        let flag = format!("--seconds={value}");
        let (code, _, stderr) = cubeaudio(&["live", "--model", model, &flag]);
        assert_eq!(code, 2, "live {flag}: {stderr}");
        assert!(stderr.contains(&format!("`{value}` is not a positive number of seconds")), "{stderr}");
    }
    let counts = [
        ("--buffers", "64,0", "`0` is not a whole number from 1 to 65536"),
        ("--buffers", "65537", "`65537` is not a whole number from 1 to 65536"),
        ("--max-streams", "0", "`0` is not a whole number from 1 to 1048576"),
        ("--latency-buffers", "0", "`0` is not a whole number from 1 to 100000000"),
        ("--distinct", "70000", "`70000` is not a whole number from 0 to 65536"),
        ("--min-instances", "0", "`0` is not a whole number from 1 to 1048576"),
        ("--max-instances", "-3", "`-3` is not a whole number from 1 to 1048576"),
        ("--phase-groups", "2,0", "`0` is not a whole number from 1 to 256"),
    ];
    for (flag, value, message) in counts {
        let arg = format!("{flag}={value}");
        let (code, _, stderr) = cubeaudio(&["bench", "--model", model, &arg]);
        assert_eq!(code, 2, "bench {arg}: {stderr}");
        assert!(stderr.contains(message), "bench {arg}: {stderr}");
    }
    for spec in ["nonsense", "=x.nam", "m="] {
        let (code, _, stderr) = cubeaudio(&["bench", "--model", spec]);
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains(&format!("--model {spec}: takes NAME=PATH[@SLIM], a name and a path")), "{stderr}");
    }
    let rig = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/rigs/pedals.json");
    let (code, _, stderr) = cubeaudio(&["bench", "--rig", rig, "--min-instances", "9", "--max-instances", "2"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("--min-instances 9 is above --max-instances 2"), "{stderr}");
}
