//! A two-hour mono file renders from disk to disk on the CPU engine with bounded memory (issue
//! #16, defect 7: the whole-file render peaked at 5.4 GB). One test per binary: the peak is
//! measured over the process's waited children. The binary's peak resident memory is
//! measured by the kernel (`getrusage` of the waited child), and the output's last second is
//! checked against the engine run on just that part of the input (plus its receptive field), so
//! a block boundary that lost state anywhere in the file would show.
#![cfg(unix)] // getrusage

#[path = "../../nam/tests/common/mod.rs"]
mod common;
mod peak_memory;

use std::process::Command;

use common::shared_nam;
use cubeaudio_nam::{load_file, LoadOptions, Model};
use cubeaudio_runtime::wav::{SampleFormat, WavReader, WavWriter};
use peak_memory::children_peak_mb;

const RATE: u32 = 48_000;
const SECONDS: usize = 2 * 3600;
const PEAK_LIMIT_MB: i64 = 300;

fn sample(t: usize) -> f32 {
    // Deterministic, never periodic over the file: two incommensurate tones and a drift.
    let x = t as f64 / RATE as f64;
    (0.3 * (x * 2.0 * std::f64::consts::PI * 110.0).sin() + 0.2 * (x * 7.31).sin() * (x * 440.7).cos()) as f32
}

#[test]
fn a_two_hour_file_renders_in_bounded_memory() {
    let dir = std::env::temp_dir().join(format!("cubeaudio-long-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("two-hours.wav");
    let output = dir.join("two-hours-out.wav");
    let frames = SECONDS * RATE as usize;
    let mut writer = WavWriter::create(&input, 1, RATE, SampleFormat::Int16).unwrap();
    let block: Vec<f32> = Vec::with_capacity(1 << 16);
    let mut block = block;
    for start in (0..frames).step_by(1 << 16) {
        block.clear();
        block.extend((start..(start + (1 << 16)).min(frames)).map(sample));
        writer.write(&[&block]).unwrap();
    }
    writer.commit().unwrap();

    let model = shared_nam().join("models/trainer_identity_linear_10.nam");
    let started = std::time::Instant::now();
    let run = Command::new(env!("CARGO_BIN_EXE_cubeaudio"))
        .args(["render", "--backend", "cpu", "--format", "i16", "--model"])
        .arg(&model)
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .output()
        .unwrap();
    let took = started.elapsed();
    let peak = children_peak_mb();
    println!(
        "2-hour mono render: {took:.1?}, peak resident memory {peak} MB (limit {PEAK_LIMIT_MB} MB); {}",
        String::from_utf8_lossy(&run.stdout).trim()
    );
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(peak < PEAK_LIMIT_MB, "the render peaked at {peak} MB");

    let mut reader = WavReader::open(&output).unwrap();
    assert_eq!((reader.channels(), reader.frames()), (1, frames as u64));
    // The last second, against the engine given only the input that reaches it.
    let field = 10;
    let tail = RATE as usize;
    let from = frames - tail - field;
    let x: Vec<f32> = (from..frames).map(|t| (sample(t) * 32_767.0).round() / 32_768.0).collect();
    let mut m = Model::new(load_file(&model, LoadOptions::default()).unwrap().dsp);
    m.reset_like_plugin(512).unwrap();
    let mut want = vec![0.0; x.len()];
    m.process(&x, &mut want);
    let mut got = vec![Vec::new()];
    let mut skipped = 0u64;
    while skipped < (frames - tail) as u64 {
        got[0].clear();
        skipped += reader.read_into(((frames - tail) as u64 - skipped).min(1 << 20) as usize, &mut got).unwrap() as u64;
    }
    got[0].clear();
    reader.read_into(tail, &mut got).unwrap();
    let step = 1.0 / 32_768.0;
    let err = got[0].iter().zip(&want[field..]).map(|(a, b)| (a - b.clamp(-1.0, 1.0)).abs()).fold(0.0f32, f32::max);
    println!("last second against the engine on its own: max |err| {err:.2e} (16-bit step {step:.2e})");
    assert!(err <= step, "the end of the file differs by {err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
