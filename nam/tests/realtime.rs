//! After `reset`, processing allocates nothing: a counting allocator watches this thread while
//! every shipped model processes buffers of several sizes, NaN input included.

mod common;

use common::counting::{allocations_during, Counting};

use common::{linear_ir_json, sequential_json, shared_model_text, shared_nam};
use cubeaudio_nam::{load_file, load_str, LoadOptions, Model};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn the_counter_sees_allocations() {
    // Guards against a counter that can never fire.
    assert!(allocations_during(|| drop(std::hint::black_box(vec![1u8; 64]))) >= 1);
}

#[test]
fn processing_allocates_nothing_for_any_model() {
    let dir = shared_nam().join("models");
    let files = [
        "core_wavenet_a1_standard.nam",
        "core_A2.nam",
        "core_lstm.nam",
        "core_wavenet_a2_max.nam",
        "core_wavenet_condition_dsp.nam",
        "core_slimmable_wavenet.nam",
        "trainer_identity_linear_10.nam",
    ];
    let mut models: Vec<_> = files
        .iter()
        .map(|name| (name.to_string(), load_file(&dir.join(name), LoadOptions::default()).unwrap()))
        .collect();
    // A Sequential (amp, then a cab IR at another calibration level): its models pass blocks
    // through buffers sized at reset.
    let chain = sequential_json(&[shared_model_text("core_lstm.nam"), linear_ir_json(64, 1, Some(3.0), None)]);
    models.push(("Sequential LSTM → Linear".into(), load_str(&chain, LoadOptions::default()).unwrap()));
    for (name, loaded) in models {
        let mut model = Model::new(loaded.dsp);
        model.reset(256).unwrap();
        let mut input = vec![0.1f32; 1000];
        input[17] = f32::NAN;
        let mut output = vec![0.0f32; 1000];
        let n = allocations_during(|| {
            for size in [256usize, 64, 1, 1000] {
                for _ in 0..20 {
                    model.process(&input[..size], &mut output[..size]);
                }
            }
        });
        assert_eq!(n, 0, "{name}: {n} allocations on the processing path");
        println!("{name}: 0 allocations over 80 buffers");
    }
}
