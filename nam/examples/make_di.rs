//! Regenerates `examples/audio/di_guitar.wav` from [`cubeaudio_nam::example_signal`].

use std::path::PathBuf;

use cubeaudio_nam::example_signal::{di_signal, RATE};
use cubeaudio_nam::render::{write_wav, OutputFormat};

fn main() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/audio/di_guitar.wav");
    write_wav(&path, &[di_signal()], RATE, OutputFormat::Int16).expect("write DI");
    println!("wrote {}", path.display());
}
