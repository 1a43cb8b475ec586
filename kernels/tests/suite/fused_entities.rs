use cubeaudio_kernels::fused_entities::{entity_step_reference, launch_fused_entities, FusedEntities, ENTITY_TYPES};
use cubeaudio_kernels::KernelError;
use cubecl::prelude::*;
use rand::seq::SliceRandom;
use rand::Rng;

use crate::harness::{assert_close, rng};

/// Entity type 5 (`fused_entities`): `floor(x · levels + 0.5) / levels`, levels = 4 + 12 · p0.
const BIT_CRUSHER: u32 = 5;

/// Entity `e`'s input at step `t` (the kernel's test signal).
fn input(e: usize, t: u32) -> f32 {
    let v = t as f32 * 0.0137 + e as f32 * 0.071;
    (v - v.floor()) * 1.8 - 0.9
}

fn reference(types: &[u32], params: &[f32], steps: u32) -> Vec<f64> {
    types
        .iter()
        .enumerate()
        .map(|(e, &ty)| {
            let mut s = [0.0f32; 4];
            (0..steps)
                .map(|t| entity_step_reference(ty, input(e, t), &mut s, params[2 * e], params[2 * e + 1]) as f64)
                .sum()
        })
        .collect()
}

/// A bit crusher's level count whose rounding no step of its input comes near a tie of: a
/// device that fuses `x · levels + 0.5` into one FMA rounds a near-tie the other way, moving one
/// step by a whole level (up to 1/4) — a difference of arithmetic, not a kernel error.
fn unambiguous_crusher(rng: &mut impl Rng, e: usize, steps: u32) -> f32 {
    loop {
        let p0: f32 = rng.gen_range(0.0..1.0);
        let levels = 4.0 + 12.0 * p0 as f64;
        let clear = (0..steps).all(|t| {
            let q = input(e, t) as f64 * levels + 0.5;
            let frac = q - q.floor();
            frac > 1e-4 && frac < 1.0 - 1e-4
        });
        if clear {
            return p0;
        }
    }
}

/// Every entity type, under a packed-like sequential layout with padding and under a shuffled
/// layout, gives the reference output for every instance, and state carries over launches.
pub fn fused_entities_match_reference<R: Runtime>(client: &ComputeClient<R>) {
    let mut rng = rng("fused_entities");
    let entities = 300;
    let types: Vec<u32> = (0..entities).map(|i| (i as u32) % ENTITY_TYPES).collect();
    let steps = 200;
    let mut params: Vec<f32> = (0..2 * entities).map(|_| rng.gen_range(0.0..1.0)).collect();
    for (e, _) in types.iter().enumerate().filter(|(_, &ty)| ty == BIT_CRUSHER) {
        params[2 * e] = unambiguous_crusher(&mut rng, e, steps);
    }
    let expected = reference(&types, &params, steps);
    let mut sequential: Vec<u32> = (0..entities as u32).collect();
    sequential.resize(320, u32::MAX);
    let mut shuffled = sequential.clone();
    shuffled.shuffle(&mut rng);
    for (name, layout) in [("sequential", sequential), ("shuffled", shuffled)] {
        let work = FusedEntities::new(client, 3, &types, &params).unwrap();
        let handle = client.create_from_slice(u32::as_bytes(&layout));
        launch_fused_entities(client, &work, &layout, &handle, steps).unwrap();
        let got = work.output.read(client, "fused_entities").unwrap();
        let all: Vec<f64> = (0..3).flat_map(|_| expected.iter().copied()).collect();
        // Sums of 200 samples; with the bit crushers away from rounding ties (above) devices
        // differ by fused multiply-adds only: up to 1.8e-4 on an H200 (2026-12-02).
        assert_close(&format!("fused entities, {name} layout"), &got, &all, 1e-3);
    }
    let work = FusedEntities::new(client, 1, &types, &params).unwrap();
    let bad: Vec<u32> = (0..entities as u32 - 1).collect();
    let handle = client.create_from_slice(u32::as_bytes(&bad));
    assert!(matches!(launch_fused_entities(client, &work, &bad, &handle, 1), Err(KernelError::Invalid { .. })));
    assert!(FusedEntities::new(client, 1, &[ENTITY_TYPES], &[0.0, 0.0]).is_err());
}

cubeaudio_kernels::for_each_runtime!(fused_entities_match_reference);
