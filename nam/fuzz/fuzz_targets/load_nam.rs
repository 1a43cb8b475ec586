//! Any bytes given to the loader give a model or an error, never a panic, an abort or an
//! unbounded allocation; a loaded model then runs a short block without panicking.
#![no_main]

use cubeaudio_nam::{load_str, LoadOptions, Model};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for fast_tanh in [true, false] {
        if let Ok(loaded) = load_str(text, LoadOptions { fast_tanh }) {
            let mut model = Model::new(loaded.dsp);
            if model.reset(32).is_ok() {
                let input = [0.5f32; 40];
                let mut output = vec![0.0f32; 40 * model.out_channels() / model.in_channels().max(1)];
                if model.in_channels() == 1 {
                    model.process(&input, &mut output);
                }
            }
        }
    }
});
