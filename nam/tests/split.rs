//! The CPU time-split render (`nam::split`): signals cut into chunks that run on threads, in
//! segments that continue one another, give the streaming render bit for bit — for the standard
//! WaveNet, a ConvNet-free Linear and a Sequential chain, signals of different lengths, and
//! segment sizes that are not multiples of the buffer.

mod common;

use common::{linear_ir_json, sequential_json, shared_model_text};
use cubeaudio_nam::dsp::Dsp;
use cubeaudio_nam::split::{render_on_threads, TimeSplitter};
use cubeaudio_nam::{load_str, LoadOptions, Model};

fn signal(n: usize, seed: u32) -> Vec<f32> {
    (0..n).map(|i| 0.5 * ((i as f32) * 0.0173 * seed as f32).sin() * ((i as f32) * 0.0009).cos()).collect()
}

fn instance(dsp: &dyn Dsp, buffer: usize) -> Model {
    let mut m = Model::new(dsp.boxed_clone());
    m.reset_like_plugin(buffer).unwrap();
    m
}

fn streamed(dsp: &dyn Dsp, x: &[f32], buffer: usize) -> Vec<f32> {
    let mut m = instance(dsp, buffer);
    let mut y = vec![0.0; x.len()];
    for (i, o) in x.chunks(buffer).zip(y.chunks_mut(buffer)) {
        m.process(i, o);
    }
    y
}

#[test]
fn threads_and_segments_give_the_streaming_render_bit_for_bit() {
    let chain = sequential_json(&[shared_model_text("core_wavenet.nam"), linear_ir_json(200, 3, Some(1.0), None)]);
    for (label, text) in [
        ("standard WaveNet", shared_model_text("core_wavenet_a1_standard.nam")),
        ("Linear IR", linear_ir_json(700, 1, None, None)),
        ("Sequential WaveNet → IR", chain),
    ] {
        let dsp = load_str(&text, LoadOptions::default()).unwrap().dsp;
        let buffer = 256;
        let signals = [signal(61_000, 1), signal(23_456, 2)];
        let want: Vec<Vec<f32>> = signals.iter().map(|x| streamed(dsp.as_ref(), x, buffer)).collect();
        for threads in [1, 3] {
            // Segments of 25,000 samples: not whole buffers, the shorter signal ends inside one.
            let mut splitter = TimeSplitter::new(dsp.as_ref(), signals.len(), threads).unwrap();
            let mut models: Vec<Model> = (0..threads).map(|_| instance(dsp.as_ref(), buffer)).collect();
            let mut got = vec![Vec::new(); signals.len()];
            let mut at = 0;
            while at < signals[0].len() {
                let views: Vec<&[f32]> =
                    signals.iter().map(|x| &x[at.min(x.len())..(at + 25_000).min(x.len())]).collect();
                let cut = splitter.cut(&views);
                for (g, y) in got.iter_mut().zip(render_on_threads(&cut, &mut models, buffer).unwrap()) {
                    g.extend(y);
                }
                at += 25_000;
            }
            for (s, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(g.len(), w.len(), "{label}: signal {s} length");
                let first = g.iter().zip(w).position(|(a, b)| a.to_bits() != b.to_bits());
                assert_eq!(first, None, "{label}, {threads} threads: signal {s} differs from sample {first:?}");
            }
            println!("[split] {label}: {threads} threads, segments of 25,000: bit for bit the streaming render");
        }
    }
}

#[test]
fn an_lstm_cannot_be_split_in_time() {
    let lstm = load_str(&shared_model_text("core_lstm.nam"), LoadOptions::default()).unwrap().dsp;
    let message = TimeSplitter::new(lstm.as_ref(), 1, 2).unwrap_err().to_string();
    assert!(message.contains("cannot be split in time"), "{message}");
}
