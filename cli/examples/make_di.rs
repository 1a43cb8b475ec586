//! Regenerates `examples/audio/di_guitar.wav` from [`cubeaudio::example_signal`].

use std::path::PathBuf;

use cubeaudio::example_signal::{di_signal, RATE};
use cubeaudio_runtime::wav::{self, SampleFormat};

fn main() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/audio/di_guitar.wav");
    wav::write(&path, &[di_signal()], RATE, SampleFormat::Int16).expect("write DI");
    println!("wrote {}", path.display());
}
