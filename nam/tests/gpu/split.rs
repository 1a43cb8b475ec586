//! The time-split renderer against the streaming render of the same engine: signals of several
//! lengths (shorter than a chunk, not whole chunks, many chunks) through WaveNets (the core's
//! standard capture and its A2 model) and a Linear model, split finer than a render would so
//! every stitch is exercised; equal within the references' tolerance. An LSTM is refused with a
//! reason.

use crate::common::shared_nam;
use cubeaudio_nam::gpu::split::{render_split, SplitPlan, SplitRenderer};
use cubeaudio_nam::gpu::GpuWaveNetBatch;
use cubeaudio_nam::{load_file, LoadOptions, NamError};
use cubecl::prelude::*;

fn signal(len: usize, seed: u64) -> Vec<f32> {
    // A deterministic guitar-like signal: decaying partials plus a little noise.
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|i| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let noise = ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5;
            let t = i as f32 / 48_000.0;
            0.5 * (t * 2.0 * std::f32::consts::PI * 110.0).sin() * (-(t % 0.5) * 4.0).exp() + 0.05 * noise
        })
        .collect()
}

fn split_equals_streaming<R: Runtime>(client: &ComputeClient<R>, device: &str) {
    let dir = shared_nam().join("models");
    for name in ["core_wavenet_a1_standard.nam", "core_A2.nam", "trainer_identity_linear_10.nam"] {
        let model = load_file(&dir.join(name), LoadOptions::default()).unwrap();
        let field = model.dsp.receptive_field().unwrap();
        let lengths = [field / 2 + 17, 3 * field + 1234, 9 * field + 5];
        let signals: Vec<Vec<f32>> = lengths.iter().enumerate().map(|(k, &n)| signal(n, k as u64)).collect();
        let views: Vec<&[f32]> = signals.iter().map(Vec::as_slice).collect();
        // Aim at many streams so chunks are as short as the plan allows (three overlaps).
        let (split, _, plan) = render_split(client, model.dsp.as_ref(), &views, 10_000, &mut |_, _| {}).unwrap();
        assert_eq!(plan, SplitPlan::new(&lengths, field, 10_000));
        assert!(plan.chunks > lengths.len(), "{name}: {plan:?} does not split");
        for (x, y) in signals.iter().zip(&split) {
            let mut streaming = GpuWaveNetBatch::new(client, &[model.dsp.as_ref()], 256).unwrap();
            let want = crate::process_in_buffers(&mut streaming, &[x.as_slice()], 256).remove(0);
            assert_eq!(y.len(), x.len());
            let peak = want.iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
            let err = y.iter().zip(&want).map(|(a, b)| (a - b).abs() as f64).fold(0.0, f64::max);
            println!(
                "[gpu-split] {device}: {name}, {} samples in {} chunks of {} + {} context: max |err| {err:.3e} (peak {peak:.3})",
                x.len(),
                plan.chunks,
                plan.chunk,
                plan.overlap
            );
            assert!(err <= 1e-4 * peak.max(1.0), "{device} {name}: split differs from streaming by {err:.3e}");
        }
    }
    segments_join_to_the_whole_render(client, device);
    let lstm = load_file(&dir.join("core_lstm.nam"), LoadOptions::default()).unwrap();
    let x = signal(1000, 9);
    match render_split(client, lstm.dsp.as_ref(), &[x.as_slice()], 4, &mut |_, _| {}) {
        Err(NamError::Unsupported { reason, .. }) => assert!(reason.contains("cannot be split"), "{reason}"),
        other => panic!("an LSTM was not refused: {:?}", other.map(|o| o.2)),
    }
}

/// A long signal rendered in segments (as `render` reads a file block by block), each continuing
/// where the last stopped, gives the one-shot split render's output bit for bit: every sample
/// sees the same receptive field of input through the same arithmetic.
fn segments_join_to_the_whole_render<R: Runtime>(client: &ComputeClient<R>, device: &str) {
    let model = load_file(&shared_nam().join("models/core_wavenet_a1_standard.nam"), LoadOptions::default()).unwrap();
    let field = model.dsp.receptive_field().unwrap();
    let signals = [signal(5 * field + 77, 3), signal(2 * field + 1, 4)];
    let views: Vec<&[f32]> = signals.iter().map(Vec::as_slice).collect();
    let (whole, _, _) = render_split(client, model.dsp.as_ref(), &views, 64, &mut |_, _| {}).unwrap();
    let mut renderer = SplitRenderer::new(client, model.dsp.as_ref(), 2, 64).unwrap();
    let mut joined = vec![Vec::new(); 2];
    // Segments shorter and longer than the receptive field; the second signal ends early.
    let mut at = [0usize; 2];
    // The two segments of one field after the second signal ended cut alike: the second
    // reuses the first's batch, reset.
    for step in [field / 3, 1, 2 * field + 5, field, field, usize::MAX] {
        let segment: Vec<&[f32]> = signals
            .iter()
            .zip(&mut at)
            .map(|(s, a)| {
                let end = a.saturating_add(step).min(s.len());
                let piece = &s[*a..end];
                *a = end;
                piece
            })
            .collect();
        let (outs, _, _) = renderer.render(&segment, &mut |_, _| {}).unwrap();
        for (j, o) in joined.iter_mut().zip(outs) {
            j.extend(o);
        }
    }
    let same = joined
        .iter()
        .zip(&whole)
        .all(|(a, b)| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()));
    println!(
        "[gpu-split] {device}: standard model in 6 segments ({} batches built) against one split render: identical {same}",
        renderer.batches_built()
    );
    assert!(same, "{device}: segmented split render differs from the whole one");
    assert!(renderer.batches_built() < 6, "{device}: no segment reused its batch");
}

cubeaudio_kernels::for_each_runtime!(|client, info| (client, &info.to_string()); split_equals_streaming);
