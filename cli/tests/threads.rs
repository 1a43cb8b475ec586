//! `render --threads N` on the CPU engine: a convolutional model's file cut in time across the
//! threads, an LSTM's channels spread over them — the same bytes as one thread, through the
//! binary (a resampled stereo file, so segments, rate conversion and channels all take part).

mod binary;
#[path = "../../nam/tests/common/mod.rs"]
mod common;

use binary::render;
use common::shared_nam;
use cubeaudio_runtime::wav::{self, SampleFormat};

#[test]
fn every_thread_count_writes_the_same_file() {
    let dir = std::env::temp_dir().join(format!("cubeaudio-threads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let n = 44_100 * 25;
    let left: Vec<f32> = (0..n).map(|t| 0.4 * (t as f32 * 0.0157).sin() * (t as f32 * 0.00011).cos()).collect();
    let right: Vec<f32> = (0..n).map(|t| 0.3 * (t as f32 * 0.0291).sin()).collect();
    let input = dir.join("stereo.wav");
    wav::write(&input, &[left, right], 44_100, SampleFormat::Float32).unwrap();
    let models = shared_nam().join("models");
    for (model, split_label, spread_label) in [
        ("core_wavenet_a1_standard.nam", "time-split on 3 CPU threads", "one CPU instance per channel"),
        ("core_lstm.nam", "channels spread over 2 threads", "channels spread over 2 threads"),
    ] {
        let model = models.join(model);
        let one = dir.join("one.wav");
        let many = dir.join("many.wav");
        let streamed = dir.join("streamed.wav");
        let first = render(&model, &input, &one, &["--backend", "cpu", "--threads", "1"]);
        assert!(first.contains("one CPU instance per channel") && !first.contains("spread"), "{first}");
        let split = render(&model, &input, &many, &["--backend", "cpu", "--threads", "3"]);
        assert!(split.contains(split_label), "{split}");
        assert_eq!(std::fs::read(&one).unwrap(), std::fs::read(&many).unwrap(), "{split}");
        let stream = render(&model, &input, &streamed, &["--backend", "cpu", "--threads", "2", "--stream"]);
        assert!(stream.contains(spread_label), "{stream}");
        assert_eq!(std::fs::read(&one).unwrap(), std::fs::read(&streamed).unwrap(), "{stream}");
        println!("[threads] {}: {}", model.display(), split.trim());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
