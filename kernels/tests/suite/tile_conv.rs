use cubeaudio_kernels::delay_line::{launch_append_and_stage, StageArgs};
use cubeaudio_kernels::tile_conv::{launch_tile_conv, tensor_cores, TileConvArgs, TileConvConfig, TileConvPath};
use cubeaudio_kernels::util::Buffer;
use cubeaudio_kernels::KernelError;
use cubecl::prelude::*;

use crate::harness::{assert_close, random_vec, rng, to_f64};

/// Per instance: `dst (+)= bias + mix·in + Σ_tap Σ_ci W·x(ci, t − back)`, taps before the tile
/// from the staged block of that tap, in f64.
#[allow(clippy::too_many_arguments)]
fn reference(
    a: TileConvArgs,
    tile: usize,
    instances: usize,
    weights: &[f32],
    src: &[f32],
    stage: &[f32],
    mix_in: &[f32],
    dst: &[f32],
    mix: bool,
    add: bool,
) -> Vec<f64> {
    let (wl, sl, gl) = (a.weights_len(), a.rows_in * tile, a.stage_len(tile));
    let mut out = vec![0.0f64; instances * a.rows_out * tile];
    for inst in 0..instances {
        let w = &weights[inst * wl..(inst + 1) * wl];
        let bias = &w[a.rows_out * a.rows_in * a.taps..];
        for o in 0..a.rows_out {
            for t in 0..tile {
                let at = (inst * a.rows_out + o) * tile + t;
                let mut acc = bias[o] as f64;
                if mix {
                    acc += bias[a.rows_out + o] as f64 * mix_in[inst * tile + t] as f64;
                }
                if add {
                    acc += dst[at] as f64;
                }
                for tap in 0..a.taps {
                    let back = a.dilation * (a.taps - 1 - tap);
                    for ci in 0..a.rows_in {
                        let x = if t >= back {
                            src[inst * sl + ci * tile + t - back]
                        } else {
                            stage[inst * gl + (tap * a.rows_in + ci) * tile + t]
                        };
                        acc += w[(o * a.rows_in + ci) * a.taps + tap] as f64 * x as f64;
                    }
                }
                out[at] = acc;
            }
        }
    }
    out
}

fn run_case<R: Runtime>(
    client: &ComputeClient<R>,
    rng: &mut rand::rngs::SmallRng,
    cfg: TileConvConfig,
    args: TileConvArgs,
    tol: f64,
) {
    let (instances, tile) = (3, cfg.tile);
    let weights = random_vec(rng, instances * args.weights_len(), 0.5);
    let src = random_vec(rng, instances * args.rows_in * tile, 1.0);
    let stage = random_vec(rng, instances * args.stage_len(tile).max(1), 1.0);
    let mix_in = random_vec(rng, instances * tile, 1.0);
    let dst = random_vec(rng, instances * args.rows_out * tile, 1.0);
    let expected = reference(args, tile, instances, &weights, &src, &stage, &mix_in, &dst, cfg.mix, cfg.add);
    let dst_buf = Buffer::upload(client, &dst);
    launch_tile_conv(
        client,
        cfg,
        args,
        instances,
        128,
        &Buffer::upload(client, &weights),
        &Buffer::upload(client, &src),
        &Buffer::upload(client, &stage),
        &Buffer::upload(client, &mix_in),
        &dst_buf,
    )
    .unwrap();
    assert_close(&format!("{cfg:?} {args:?}"), &dst_buf.read(client, "tile_conv").unwrap(), &expected, tol);
}

/// Layer conv shapes (taps inside and before the tile, dilations shorter and longer than it),
/// conv1x1 residuals, and odd row counts that do not fill a tensor-core tile.
const CASES: [(TileConvArgs, bool, bool); 7] = [
    (TileConvArgs { rows_out: 16, rows_in: 16, taps: 3, dilation: 1 }, true, false),
    (TileConvArgs { rows_out: 16, rows_in: 16, taps: 3, dilation: 8 }, true, false),
    (TileConvArgs { rows_out: 32, rows_in: 16, taps: 3, dilation: 64 }, true, false),
    (TileConvArgs { rows_out: 8, rows_in: 8, taps: 3, dilation: 5 }, true, false),
    (TileConvArgs { rows_out: 16, rows_in: 16, taps: 1, dilation: 0 }, false, true),
    (TileConvArgs { rows_out: 12, rows_in: 5, taps: 2, dilation: 3 }, true, true),
    (TileConvArgs { rows_out: 3, rows_in: 20, taps: 1, dilation: 0 }, false, true),
];

pub fn tile_conv_matches_f64_reference<R: Runtime>(client: &ComputeClient<R>) {
    let mut rng = rng("tile_conv");
    let mut paths =
        vec![(TileConvPath::Scalar { rows: 2, frames: 1 }, 1e-5), (TileConvPath::Scalar { rows: 4, frames: 4 }, 1e-5)];
    if tensor_cores(client) {
        // 3×TF32 must hold fp32-level accuracy; plain tf32 (10-bit mantissa) is checked at the
        // accuracy it has, so a broken fragment layout still fails.
        paths.push((TileConvPath::TensorCore { split: true }, 1e-5));
        paths.push((TileConvPath::TensorCore { split: false }, 1e-2));
    } else {
        eprintln!("[kernel-test] SKIPPED tile_conv tensor-core path: this device has no tf32 MMA (m16n8k8)");
    }
    for (path, tol) in paths {
        for (tile, (args, mix, add)) in [64usize, 32].into_iter().cycle().zip(CASES) {
            run_case(client, &mut rng, TileConvConfig { tile, path, mix, add }, args, tol);
        }
    }
}

pub fn tile_conv_rejects_bad_shapes<R: Runtime>(client: &ComputeClient<R>) {
    let args = TileConvArgs { rows_out: 4, rows_in: 4, taps: 1, dilation: 0 };
    let b = |n: usize| Buffer::upload(client, &vec![0.0; n]);
    let scalar = TileConvConfig { tile: 12, path: TileConvPath::Scalar { rows: 2, frames: 8 }, mix: false, add: false };
    assert!(matches!(
        launch_tile_conv(client, scalar, args, 1, 64, &b(24), &b(48), &b(1), &b(12), &b(48)),
        Err(KernelError::Invalid { .. })
    ));
    let mma = TileConvConfig { tile: 12, path: TileConvPath::TensorCore { split: true }, mix: false, add: false };
    assert!(matches!(
        launch_tile_conv(client, mma, args, 1, 64, &b(24), &b(48), &b(1), &b(12), &b(48)),
        Err(KernelError::Invalid { .. })
    ));
    let ok = TileConvConfig { tile: 16, path: TileConvPath::Scalar { rows: 2, frames: 1 }, mix: false, add: false };
    assert!(matches!(
        launch_tile_conv(client, ok, args, 1, 64, &b(24), &b(63), &b(1), &b(16), &b(64)),
        Err(KernelError::SizeMismatch { what: "src", .. })
    ));
}

/// The history step: the tile lands at its positions (wrapping the ring) and every staged tap
/// holds the ring's frames from before the tile, exactly.
pub fn append_and_stage_matches_host_ring<R: Runtime>(client: &ComputeClient<R>) {
    let mut rng = rng("append_and_stage");
    for (rows, taps, dilation, frames, tile, size, position) in [
        (4usize, 3usize, 2usize, 32usize, 32usize, 64usize, 50u32),
        (3, 3, 40, 20, 32, 128, 7),
        (5, 1, 0, 16, 16, 32, 31),
        (2, 2, 16, 16, 16, 32, u32::MAX - 5),
    ] {
        let args = StageArgs { rows, taps, dilation, frames, size, position };
        let ring = random_vec(&mut rng, rows * size, 1.0);
        let block = random_vec(&mut rng, rows * tile, 1.0);
        let stage_len = (taps - 1) * rows * tile;
        let staged = random_vec(&mut rng, stage_len.max(1), 1.0);
        let (mut ring_ref, mut staged_ref) = (ring.clone(), staged.clone());
        let at = |r: usize, p: u32| r * size + (p as usize & (size - 1));
        for r in 0..rows {
            for t in 0..tile {
                for tap in 0..taps - 1 {
                    let back = dilation * (taps - 1 - tap);
                    if t < back {
                        let p = position.wrapping_add(t as u32).wrapping_sub(back as u32);
                        staged_ref[(tap * rows + r) * tile + t] = ring[at(r, p)];
                    }
                }
                if t < frames {
                    ring_ref[at(r, position.wrapping_add(t as u32))] = block[r * tile + t];
                }
            }
        }
        let (ring_buf, staged_buf) = (Buffer::upload(client, &ring), Buffer::upload(client, &staged));
        launch_append_and_stage(client, tile, args, &ring_buf, &Buffer::upload(client, &block), &staged_buf).unwrap();
        let what = format!("{args:?}");
        assert_close(&format!("{what} ring"), &ring_buf.read(client, "delay_line").unwrap(), &to_f64(&ring_ref), 0.0);
        assert_close(
            &format!("{what} staged"),
            &staged_buf.read(client, "delay_line").unwrap(),
            &to_f64(&staged_ref),
            0.0,
        );
    }
}

cubeaudio_kernels::for_each_runtime!(
    tile_conv_matches_f64_reference,
    tile_conv_rejects_bad_shapes,
    append_and_stage_matches_host_ring
);
