//! Changing a GPU batch between buffers: streams added (prewarmed alone) and removed while the
//! others keep playing must leave every surviving stream's output identical to an undisturbed
//! CPU instance; queued (async) buffers equal synchronous ones. Device policy as elsewhere.

use crate::common::shared_nam;
use cubeaudio_nam::gpu::GpuWaveNetBatch;
use cubeaudio_nam::{load_file, LoadOptions, Model};
use cubecl::prelude::*;

const BUF: usize = 64;

fn signal(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761) | 1;
    (0..n)
        .map(|t| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            0.3 * (t as f32 * 0.013 * (1.0 + seed as f32)).sin() + 0.2 * (s as f32 / u32::MAX as f32 - 0.5)
        })
        .collect()
}

fn cpu(name: &str) -> Model {
    let mut m = Model::new(load_file(&shared_nam().join("models").join(name), LoadOptions::default()).unwrap().dsp);
    m.reset(BUF).unwrap();
    m
}

struct Stream {
    name: &'static str,
    input: Vec<f32>,
    cpu: Model,
    worst: f32,
}

impl Stream {
    fn new(name: &'static str, seed: u32) -> Self {
        Self { name, input: signal(BUF * 40, seed), cpu: cpu(name), worst: 0.0 }
    }

    fn block(&self, b: usize) -> &[f32] {
        &self.input[b * BUF..(b + 1) * BUF]
    }

    fn check(&mut self, b: usize, got: &[f32]) {
        let mut want = vec![0.0; BUF];
        let x = self.block(b).to_vec();
        self.cpu.process(&x, &mut want);
        let peak = want.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1.0);
        let err = got.iter().zip(&want).map(|(g, w)| (g - w).abs()).fold(0.0f32, f32::max) / peak;
        self.worst = self.worst.max(err);
        assert!(err <= 1e-4, "{} block {b}: relative error {err}", self.name);
    }
}

fn run<R: Runtime>(client: &ComputeClient<R>, label: &str) {
    let models: Vec<_> = ["core_wavenet.nam", "trainer_identity_wavenet_minimal.nam", "core_wavenet_a1_standard.nam"]
        .iter()
        .map(|n| load_file(&shared_nam().join("models").join(n), LoadOptions::default()).unwrap())
        .collect();
    let nets: Vec<&dyn cubeaudio_nam::dsp::Dsp> = models.iter().map(|m| m.dsp.as_ref()).collect();
    let mut live = vec![Stream::new("core_wavenet.nam", 1), Stream::new("trainer_identity_wavenet_minimal.nam", 2)];
    let mut batch = GpuWaveNetBatch::new(client, &nets[..2], BUF).unwrap();
    let step = |batch: &mut GpuWaveNetBatch<R>, live: &mut Vec<Stream>, b: usize| {
        let ins: Vec<&[f32]> = live.iter().map(|s| s.block(b)).collect();
        let mut out = vec![vec![0.0f32; BUF]; live.len()];
        let mut outs: Vec<&mut [f32]> = out.iter_mut().map(|o| o.as_mut_slice()).collect();
        batch.process(&ins, &mut outs).unwrap();
        for (s, o) in live.iter_mut().zip(&out) {
            s.check(b, o);
        }
    };
    for b in 0..8 {
        step(&mut batch, &mut live, b);
    }
    // A third stream joins mid-stream: prewarmed alone, the others untouched.
    assert_eq!(batch.add_stream(nets[2]).unwrap(), 2);
    live.push(Stream::new("core_wavenet_a1_standard.nam", 3));
    // It starts at block 0 of its own input; the others continue at block 8.
    let mut offsets = [8usize, 8, 0];
    for _ in 0..8 {
        let ins: Vec<&[f32]> = live.iter().zip(offsets).map(|(s, b)| s.block(b)).collect();
        let mut out = vec![vec![0.0f32; BUF]; live.len()];
        let mut outs: Vec<&mut [f32]> = out.iter_mut().map(|o| o.as_mut_slice()).collect();
        batch.process(&ins, &mut outs).unwrap();
        for ((s, o), b) in live.iter_mut().zip(&out).zip(offsets) {
            s.check(b, o);
        }
        offsets.iter_mut().for_each(|b| *b += 1);
    }
    // The first stream leaves; the other two carry on.
    batch.remove_stream(0).unwrap();
    let gone = live.remove(0);
    let mut offsets = [offsets[1], offsets[2]];
    // Async: three buffers queued before the first is fetched.
    let pending: Vec<_> = (0..3)
        .map(|k| {
            let ins: Vec<&[f32]> = live.iter().zip(offsets).map(|(s, b)| s.block(b + k)).collect();
            batch.process_async(&ins).unwrap()
        })
        .collect();
    for p in pending {
        let mut out = vec![vec![0.0f32; BUF]; live.len()];
        let mut outs: Vec<&mut [f32]> = out.iter_mut().map(|o| o.as_mut_slice()).collect();
        p.wait(&mut outs).unwrap();
        for ((s, o), b) in live.iter_mut().zip(&out).zip(offsets) {
            s.check(b, o);
        }
        offsets.iter_mut().for_each(|b| *b += 1);
    }
    assert!(batch.remove_stream(5).is_err());
    println!(
        "[gpu-nam] {label}: add/remove/async — worst relative error {:.3e} ({} removed after 16 blocks, {} and {} continued)",
        live.iter().map(|s| s.worst).fold(gone.worst, f32::max),
        gone.name,
        live[0].name,
        live[1].name
    );
}

cubeaudio_kernels::for_each_runtime!(|client, info| (client, &info.to_string()); run);
