//! Any bytes as a WAV file, read in odd-sized blocks: an error or samples, never a panic or a
//! hang, and memory bounded by what the bytes hold (a header may claim 4 GB of data).
#![no_main]

use cubeaudio_runtime::wav::WavReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = WavReader::new(std::io::Cursor::new(data), std::path::Path::new("fuzz.wav")) else {
        return;
    };
    let mut channels = vec![Vec::new(); reader.channels()];
    while let Ok(n) = reader.read_into(777, &mut channels) {
        if n == 0 {
            break;
        }
    }
});
