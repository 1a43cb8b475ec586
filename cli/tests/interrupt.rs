//! Ctrl-C or `kill` during a render leaves nothing behind (issue #16, defect 3): the output is
//! streamed into a temporary file beside the target, and SIGINT/SIGTERM remove it before the
//! command exits with 128 + the signal, as a shell reports it.
#![cfg(unix)]

#[path = "../../nam/tests/common/mod.rs"]
mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::shared_nam;
use cubeaudio_runtime::wav::{self, SampleFormat};

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[test]
fn an_interrupted_render_leaves_no_file() {
    let dir = std::env::temp_dir().join(format!("cubeaudio-interrupt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("in.wav");
    // 60 s through the standard WaveNet: several seconds of CPU work, time to interrupt it.
    let x: Vec<f32> = (0..60 * 48_000).map(|t| 0.3 * (t as f32 * 0.0144).sin()).collect();
    wav::write(&input, &[x], 48_000, SampleFormat::Float32).unwrap();
    let model = shared_nam().join("models/core_wavenet_a1_standard.nam");
    for (signal, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM")] {
        let output = dir.join("out.wav");
        let mut child = Command::new(env!("CARGO_BIN_EXE_cubeaudio"))
            .args(["render", "--backend", "cpu", "--model"])
            .arg(&model)
            .arg("--input")
            .arg(&input)
            .arg("--output")
            .arg(&output)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until the output is being written (its temporary file exists) and under way.
        let started = Instant::now();
        while !names(&dir).iter().any(|n| n.ends_with(".partial")) {
            assert!(started.elapsed() < Duration::from_secs(60), "no temporary output appeared");
            assert!(child.try_wait().unwrap().is_none(), "the render ended before it could be interrupted");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(500));
        assert!(child.try_wait().unwrap().is_none(), "the render ended before it could be interrupted");
        // SAFETY: a signal to our own child.
        assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
        let out = child.wait_with_output().unwrap();
        let left = names(&dir);
        println!(
            "{name}: exit {:?}, {}, files left {left:?}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        assert_eq!(out.status.code(), Some(128 + signal), "{name}");
        assert_eq!(left, vec!["in.wav".to_string()], "{name} left files behind");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
