//! `render_files`: several inputs (different lengths, channel counts, sample rates) as one
//! batch give the same files as rendering each alone — exactly on the CPU engine, within the
//! GPU tolerance on a GPU runtime (lavapipe in CI).

#[path = "../../nam/tests/common/mod.rs"]
mod common;

use std::path::PathBuf;

use common::shared_nam;
use cubeaudio::render::{render_file, render_files, RenderOptions};
use cubeaudio_kernels::device::Backend;
use cubeaudio_runtime::wav::{self, SampleFormat};

fn read_wav(path: &std::path::Path) -> (Vec<Vec<f32>>, u32) {
    let w = wav::read(path).unwrap();
    (w.channels, w.sample_rate)
}

fn tone(n: usize, f: f32, rate: f32) -> Vec<f32> {
    (0..n).map(|t| 0.4 * (std::f32::consts::TAU * f * t as f32 / rate).sin() * (1.0 - t as f32 / n as f32)).collect()
}

fn options(backend: Backend) -> RenderOptions {
    RenderOptions {
        backend,
        buffer: 256,
        fast_tanh: true,
        slim: None,
        format: SampleFormat::Float32,
        split: true,
        threads: 1,
    }
}

#[test]
fn a_batch_of_files_equals_each_file_alone() {
    let dir = std::env::temp_dir().join(format!("cubeaudio-batch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = shared_nam().join("models/core_wavenet.nam");
    let a = dir.join("a.wav");
    let b = dir.join("b.wav");
    wav::write(&a, &[tone(9_000, 110.0, 48_000.0)], 48_000, SampleFormat::Float32).unwrap();
    wav::write(&b, &[tone(5_000, 220.0, 44_100.0), tone(5_000, 330.0, 44_100.0)], 44_100, SampleFormat::Float32)
        .unwrap();

    let jobs = vec![(a.clone(), dir.join("a-batch.wav")), (b.clone(), dir.join("b-batch.wav"))];
    let report = render_files(&model, &jobs, &options(Backend::Cpu), &mut |_, _| {}).unwrap();
    assert_eq!((report.files, report.channels), (2, 3));
    for (input, batch_out) in &jobs {
        let alone = dir.join("alone.wav");
        render_file(&model, input, &alone, &options(Backend::Cpu), &mut |_, _| {}).unwrap();
        let (x, rx) = read_wav(input);
        let (y, ry) = read_wav(batch_out);
        let (z, _) = read_wav(&alone);
        assert_eq!((y.len(), y[0].len(), ry), (x.len(), x[0].len(), rx), "shape and rate of {}", batch_out.display());
        assert_eq!(y, z, "CPU batch output of {} differs from rendering it alone", input.display());
    }

    let gpu_jobs = vec![(a.clone(), dir.join("a-gpu.wav")), (b.clone(), dir.join("b-gpu.wav"))];
    // Time-split, and streamed buffer by buffer (b ends inside a buffer while a goes on).
    for split in [true, false] {
        let opts = RenderOptions { split, ..options(Backend::Wgpu) };
        match render_files(&model, &gpu_jobs, &opts, &mut |_, _| {}) {
            Ok(report) => {
                println!(
                    "[kernel-test] render batch ({}): runtime {} | adapter (as reported)",
                    report.method, report.backend
                );
                for ((_, gpu), (_, cpu)) in gpu_jobs.iter().zip(&jobs) {
                    let (g, _) = read_wav(gpu);
                    let (c, _) = read_wav(cpu);
                    for (gc, cc) in g.iter().zip(&c) {
                        let peak = cc.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1.0);
                        let err = gc.iter().zip(cc).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
                        println!("[gpu-nam] batch render {}: max |GPU − CPU| {err:.3e}", gpu.display());
                        assert!(err <= 1e-4 * peak, "{}: {err}", gpu.display());
                    }
                }
            }
            Err(e) if cubeaudio_kernels::device::required("wgpu") => panic!("GPU batch render required here: {e}"),
            Err(e) => eprintln!("[kernel-test] SKIPPED GPU batch render: {e}"),
        }
    }
    let _ = std::fs::remove_dir_all(PathBuf::from(&dir));
}

/// An LSTM model renders on the GPU engine too (its own batch kind) and equals the CPU render.
#[test]
fn lstm_renders_on_the_gpu_like_the_cpu() {
    let dir = std::env::temp_dir().join(format!("cubeaudio-lstm-render-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = shared_nam().join("models/core_lstm.nam");
    let input = dir.join("in.wav");
    wav::write(&input, &[tone(7_000, 150.0, 48_000.0), tone(7_000, 95.0, 48_000.0)], 48_000, SampleFormat::Float32)
        .unwrap();
    let cpu = dir.join("cpu.wav");
    let gpu = dir.join("gpu.wav");
    render_file(&model, &input, &cpu, &options(Backend::Cpu), &mut |_, _| {}).unwrap();
    match render_file(&model, &input, &gpu, &options(Backend::Wgpu), &mut |_, _| {}) {
        Ok(report) => {
            assert_ne!(report.backend, "cpu");
            let (g, _) = read_wav(&gpu);
            let (c, _) = read_wav(&cpu);
            for (gc, cc) in g.iter().zip(&c) {
                let peak = cc.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                assert!(peak > 0.01);
                let err = gc.iter().zip(cc).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
                println!("[gpu-nam] LSTM render on {}: max |GPU − CPU| {err:.3e} (peak {peak:.3})", report.backend);
                assert!(err <= 1e-4 * peak.max(1.0), "{err}");
            }
        }
        Err(e) if cubeaudio_kernels::device::required("wgpu") => panic!("GPU render required here: {e}"),
        Err(e) => eprintln!("[kernel-test] SKIPPED GPU LSTM render: {e}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
