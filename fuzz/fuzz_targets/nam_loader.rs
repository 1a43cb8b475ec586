//! Any bytes as a `.nam` file: a model or an error (both tanh modes), never a panic, a hang or
//! unbounded memory; a model that loads is reset and runs a short block (the loader's checks
//! are what the engine relies on).
#![no_main]

use cubeaudio_nam::{load_str, LoadOptions, Model};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for fast_tanh in [true, false] {
        let Ok(loaded) = load_str(text, LoadOptions { fast_tanh }) else { continue };
        let mut model = Model::new(loaded.dsp);
        if model.in_channels() == 1 && model.reset(32).is_ok() {
            let input: Vec<f32> = (0..40).map(|t| (t as f32 * 0.3).sin()).collect();
            let mut output = vec![0.0f32; 40 * model.out_channels()];
            model.process(&input, &mut output);
        }
    }
});
