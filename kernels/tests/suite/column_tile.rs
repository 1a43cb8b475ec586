use cubeaudio_kernels::column_tile::{launch_column_layer, ColumnLayerArgs, ColumnTileConfig};
use cubeaudio_kernels::device::DeviceInfo;
use cubeaudio_kernels::util::Buffer;
use cubeaudio_kernels::KernelError;
use cubecl::prelude::*;

use crate::harness::{assert_close, random_vec, rng};

/// Per instance and position `p = cursor + t`: `z = bias + Σ_tap Σ_c W·x_c(p − back)`, the tile's
/// own positions from `x`, older ones from the ring as it was before the launch;
/// `y = x + M·z + bias_M`. In f64.
fn reference(
    cfg: ColumnTileConfig,
    a: ColumnLayerArgs,
    weights: &[f32],
    ring: &[f32],
    x: &[f32],
) -> (Vec<f64>, Vec<f64>) {
    let (rows, tile, taps) = (cfg.rows, cfg.tile(), cfg.taps);
    let (mut z, mut y) = (vec![0.0; x.len()], vec![0.0; x.len()]);
    for inst in 0..a.instances {
        let w = &weights[inst * cfg.weights_len()..];
        let bias = &w[rows * rows * taps..];
        let m = &bias[rows..];
        let mb = &m[rows * rows..];
        let xi = |c: usize, t: usize| x[(inst * rows + c) * tile + t] as f64;
        for t in 0..tile {
            let p = a.cursor as usize + t;
            let mut zt = vec![0.0f64; rows];
            for (o, zo) in zt.iter_mut().enumerate() {
                *zo = bias[o] as f64;
                for tap in 0..taps {
                    let back = a.dilation * (taps - 1 - tap);
                    for c in 0..rows {
                        let v = if back <= t {
                            xi(c, t - back)
                        } else {
                            ring[(inst * rows + c) * a.ring + ((p - back) & (a.ring - 1))] as f64
                        };
                        *zo += w[(o * rows + c) * taps + tap] as f64 * v;
                    }
                }
            }
            for o in 0..rows {
                let at = (inst * rows + o) * tile + t;
                z[at] = zt[o];
                y[at] = xi(o, t) + mb[o] as f64 + (0..rows).map(|c| m[o * rows + c] as f64 * zt[c]).sum::<f64>();
            }
        }
    }
    (z, y)
}

/// Shapes of the NAM layers (16/8/4 channels, 3 taps) and odd ones; dilations inside the tile,
/// across it and far beyond it; a cursor near the u32 wrap.
pub fn column_tile_matches_f64_reference<R: Runtime>(client: &ComputeClient<R>, info: &DeviceInfo) {
    let mut rng = rng("column_tile");
    let mut cases = vec![
        (ColumnTileConfig { rows: 3, taps: 1, frames: 4, lanes: 8, splits: 1, staged: false }, 0, 5),
        (ColumnTileConfig { rows: 5, taps: 4, frames: 2, lanes: 8, splits: 1, staged: false }, 3, 77),
        (ColumnTileConfig { rows: 8, taps: 3, frames: 1, lanes: 64, splits: 1, staged: false }, 512, u32::MAX - 20),
        (ColumnTileConfig { rows: 4, taps: 3, frames: 4, lanes: 16, splits: 1, staged: false }, 40, 1000),
        // Rows split over threads (the NAM kernel's latency shape): through the ring and shared.
        (ColumnTileConfig { rows: 8, taps: 3, frames: 1, lanes: 64, splits: 4, staged: false }, 16, 9),
        (ColumnTileConfig { rows: 6, taps: 2, frames: 2, lanes: 16, splits: 3, staged: false }, 300, u32::MAX - 3),
        (ColumnTileConfig { rows: 4, taps: 3, frames: 1, lanes: 32, splits: 4, staged: false }, 1, 0),
        // Weights staged in shared memory first (fewer floats than threads, and several each).
        (ColumnTileConfig { rows: 5, taps: 4, frames: 2, lanes: 8, splits: 1, staged: true }, 3, 77),
        (ColumnTileConfig { rows: 4, taps: 3, frames: 1, lanes: 32, splits: 4, staged: true }, 1, 0),
        (ColumnTileConfig { rows: 6, taps: 2, frames: 2, lanes: 16, splits: 3, staged: true }, 300, u32::MAX - 3),
    ];
    // Sixteen rows compiled for minutes on lavapipe (LLVM, 2026-11-30: 9 minutes for 16 rows × 4
    // positions through WGSL, over 3 through SPIR-V for 16 × 2): hardware adapters only.
    if info.is_software {
        eprintln!("[kernel-test] SKIPPED column_tile shapes of 16 rows on {}: minutes of shader compilation on a software adapter", info.adapter);
    } else {
        cases.push((ColumnTileConfig { rows: 16, taps: 3, frames: 2, lanes: 32, splits: 1, staged: false }, 1, 3));
        cases.push((ColumnTileConfig { rows: 16, taps: 3, frames: 4, lanes: 16, splits: 1, staged: false }, 40, 1000));
        cases.push((ColumnTileConfig { rows: 16, taps: 3, frames: 1, lanes: 64, splits: 8, staged: false }, 2, 70));
        // The NAM kernel's one-stream shape: 16 rows over 4 threads, 2 positions each, staged.
        cases.push((ColumnTileConfig { rows: 16, taps: 3, frames: 2, lanes: 32, splits: 4, staged: true }, 8, 1 << 20));
    }
    for (cfg, dilation, cursor) in cases {
        let started = std::time::Instant::now();
        let ring = (dilation * (cfg.taps - 1) + cfg.tile()).next_power_of_two();
        let args = ColumnLayerArgs { instances: 3, dilation, ring, cursor };
        let n = args.instances;
        let weights = random_vec(&mut rng, n * cfg.weights_len(), 0.4);
        let history = random_vec(&mut rng, n * cfg.rows * ring, 1.0);
        let x = random_vec(&mut rng, n * cfg.rows * cfg.tile(), 1.0);
        let (ez, ey) = reference(cfg, args, &weights, &history, &x);
        let poison = || Buffer::filled(client, x.len(), f32::NAN);
        let (z, y) = (poison(), poison());
        let hist = Buffer::upload(client, &history);
        let (w, xb) = (Buffer::upload(client, &weights), Buffer::upload(client, &x));
        launch_column_layer(client, cfg, args, &w, &hist, &xb, &z, &y).unwrap();
        assert_close(&format!("{cfg:?} {args:?} z"), &z.read(client, "column_tile").unwrap(), &ez, 1e-5);
        assert_close(&format!("{cfg:?} {args:?} y"), &y.read(client, "column_tile").unwrap(), &ey, 1e-5);
        println!("[kernel-test] column_tile {cfg:?}: compiled and checked in {:?}", started.elapsed());
    }
}

pub fn column_tile_rejects_bad_shapes<R: Runtime>(client: &ComputeClient<R>, _info: &DeviceInfo) {
    let b = |n: usize| Buffer::upload(client, &vec![0.0; n]);
    let cfg = ColumnTileConfig { rows: 4, taps: 3, frames: 2, lanes: 8, splits: 1, staged: false };
    let args = ColumnLayerArgs { instances: 1, dilation: 9, ring: 32, cursor: 0 };
    let (wl, tile) = (cfg.weights_len(), cfg.tile());
    // The ring cannot hold 18 frames of taps and a 16-frame tile.
    let launch =
        |cfg, args, h| launch_column_layer(client, cfg, args, &b(wl), &b(h), &b(4 * tile), &b(4 * tile), &b(4 * tile));
    assert!(matches!(launch(cfg, args, 4 * 32), Err(KernelError::Invalid { .. })));
    assert!(matches!(
        launch(cfg, ColumnLayerArgs { ring: 48, ..args }, 4 * 48),
        Err(KernelError::NotPowerOfTwo { .. })
    ));
    assert!(matches!(
        launch(cfg, ColumnLayerArgs { ring: 64, ..args }, 4 * 63),
        Err(KernelError::SizeMismatch { what: "history", .. })
    ));
    assert!(matches!(launch(ColumnTileConfig { rows: 0, ..cfg }, args, 1), Err(KernelError::Zero { .. })));
    assert!(matches!(launch(ColumnTileConfig { splits: 3, ..cfg }, args, 4 * 32), Err(KernelError::Invalid { .. })));
    assert!(matches!(
        launch(ColumnTileConfig { splits: 2, lanes: 1024, ..cfg }, args, 4 * 32),
        Err(KernelError::TooLarge { .. })
    ));
    // 32 rows × 16 taps of weights do not fit a static shared block.
    let huge = ColumnTileConfig { rows: 32, taps: 16, staged: true, ..cfg };
    assert!(matches!(
        launch_column_layer(
            client,
            huge,
            args,
            &b(huge.weights_len()),
            &b(32 * 32),
            &b(32 * tile),
            &b(32 * tile),
            &b(32 * tile)
        ),
        Err(KernelError::TooLarge { .. })
    ));
}

cubeaudio_kernels::for_each_runtime!(|client, info| (client, info); column_tile_matches_f64_reference, column_tile_rejects_bad_shapes);
