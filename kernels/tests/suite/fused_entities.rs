use cubeaudio_kernels::fused_entities::{entity_step_reference, launch_fused_entities, FusedEntities, ENTITY_TYPES};
use cubeaudio_kernels::KernelError;
use cubecl::prelude::*;
use rand::seq::SliceRandom;
use rand::Rng;

use crate::harness::{assert_close, rng};

fn reference(types: &[u32], params: &[f32], steps: u32) -> Vec<f64> {
    types
        .iter()
        .enumerate()
        .map(|(e, &ty)| {
            let mut s = [0.0f32; 4];
            let phase = e as f32 * 0.071;
            (0..steps)
                .map(|t| {
                    let v = t as f32 * 0.0137 + phase;
                    let x = (v - v.floor()) * 1.8 - 0.9;
                    entity_step_reference(ty, x, &mut s, params[2 * e], params[2 * e + 1]) as f64
                })
                .sum()
        })
        .collect()
}

/// Every entity type, under a packed-like sequential layout with padding and under a shuffled
/// layout, gives the reference output for every instance, and state carries over launches.
pub fn fused_entities_match_reference<R: Runtime>(client: &ComputeClient<R>) {
    let mut rng = rng("fused_entities");
    let entities = 300;
    let types: Vec<u32> = (0..entities).map(|i| (i as u32) % ENTITY_TYPES).collect();
    let params: Vec<f32> = (0..2 * entities).map(|_| rng.gen_range(0.0..1.0)).collect();
    let steps = 200;
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
        // Sums of 200 samples; a bit-crusher step may round the other way on a device that
        // fuses multiply-adds, which moves a sum by at most a few hundredths.
        assert_close(&format!("fused entities, {name} layout"), &got, &all, 1e-2);
    }
    let work = FusedEntities::new(client, 1, &types, &params).unwrap();
    let bad: Vec<u32> = (0..entities as u32 - 1).collect();
    let handle = client.create_from_slice(u32::as_bytes(&bad));
    assert!(matches!(launch_fused_entities(client, &work, &bad, &handle, 1), Err(KernelError::Invalid { .. })));
    assert!(FusedEntities::new(client, 1, &[ENTITY_TYPES], &[0.0, 0.0]).is_err());
}

cubeaudio_kernels::for_each_runtime!(fused_entities_match_reference);
