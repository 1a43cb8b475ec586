//! Writes the trainer-preset-shaped models the benchmarks use (deterministic weights) as .nam
//! files: `write_presets DIR` → DIR/feather.nam, DIR/lstm_3x18.nam. They are timing inputs for
//! `cubeaudio bench` on the GPU machine, not captures of an amp.

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    std::fs::create_dir_all(&dir).expect("create the output folder");
    for (name, text) in [
        ("lite.nam", cubeaudio_benches::lite_wavenet()),
        ("feather.nam", cubeaudio_benches::feather_wavenet()),
        ("nano.nam", cubeaudio_benches::nano_wavenet()),
        ("lstm_3x18.nam", cubeaudio_benches::lstm_3x18()),
    ] {
        std::fs::write(dir.join(name), text).expect("write a preset");
        println!("wrote {}", dir.join(name).display());
    }
}
