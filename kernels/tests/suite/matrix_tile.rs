use cubeaudio_kernels::matrix_tile::{has_plane_ops, launch_matrix_tile, MatrixTileConfig, TileB, TileExchange};
use cubeaudio_kernels::util::Buffer;
use cubeaudio_kernels::KernelError;
use cubecl::prelude::*;

use crate::harness::{assert_close, random_vec, rng};

fn matmul_acc_ref(a: &[f32], b: &[f32], c: &[f32], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut out: Vec<f64> = c.iter().map(|&v| v as f64).collect();
    for i in 0..m {
        for j in 0..n {
            for kk in 0..k {
                out[i * n + j] += a[i * k + kk] as f64 * b[kk * n + j] as f64;
            }
        }
    }
    out
}

/// Whether to run the plane-shuffle path here. Devices that advertise plane ops run it; software
/// adapters that run subgroup ops correctly without advertising them (lavapipe, see
/// ../shared/NOTES.md) run it when `CUBEAUDIO_FORCE_PLANE=1`, which CI sets deliberately.
fn plane_path_enabled<R: Runtime>(client: &ComputeClient<R>) -> bool {
    has_plane_ops(client) || std::env::var("CUBEAUDIO_FORCE_PLANE").is_ok_and(|v| v == "1")
}

fn run_case<R: Runtime>(
    client: &ComputeClient<R>,
    rng: &mut rand::rngs::SmallRng,
    cfg: MatrixTileConfig,
    instances: usize,
) {
    let a = random_vec(rng, instances * cfg.m * cfg.k, 1.0);
    let b = random_vec(rng, instances * cfg.k * cfg.n, 1.0);
    let c = random_vec(rng, instances * cfg.m * cfg.n, 1.0);
    let c_buf = Buffer::upload(client, &c);
    launch_matrix_tile(client, cfg, instances, &Buffer::upload(client, &a), &Buffer::upload(client, &b), &c_buf)
        .unwrap();
    let mut expected = Vec::new();
    for i in 0..instances {
        let (am, bm, cm) = (cfg.m * cfg.k, cfg.k * cfg.n, cfg.m * cfg.n);
        expected.extend(matmul_acc_ref(
            &a[i * am..(i + 1) * am],
            &b[i * bm..(i + 1) * bm],
            &c[i * cm..(i + 1) * cm],
            cfg.m,
            cfg.k,
            cfg.n,
        ));
    }
    assert_close(&format!("{cfg:?}"), &c_buf.read(client, "matrix_tile").unwrap(), &expected, 1e-5);
}

pub fn matrix_tiles_match_reference<R: Runtime>(client: &ComputeClient<R>) {
    let mut rng = rng("matrix_tile");
    let plane = client.properties().hardware.plane_size_max as usize;
    println!("[kernel-test] matrix_tile: plane width {plane}, plane ops advertised: {}", has_plane_ops(client));
    let mut sources = vec![TileB::Shared, TileB::Registers(TileExchange::Shared)];
    if plane_path_enabled(client) {
        sources.push(TileB::Registers(TileExchange::Plane));
    } else {
        eprintln!("[kernel-test] SKIPPED matrix_tile plane-shuffle path: device does not advertise plane ops");
    }
    for b in sources {
        for (m, k, n) in [(16, 16, 4), (8, 16, 1), (3, 5, 7), (32, 8, 2)] {
            run_case(client, &mut rng, MatrixTileConfig { m, k, n, plane, b }, 3);
        }
    }
}

pub fn matrix_tile_rejects_bad_shapes<R: Runtime>(client: &ComputeClient<R>) {
    let buf = Buffer::upload(client, &[0.0; 16]);
    let cfg = MatrixTileConfig { m: 4, k: 4, n: 1, plane: 6, b: TileB::Shared };
    assert!(matches!(launch_matrix_tile(client, cfg, 1, &buf, &buf, &buf), Err(KernelError::NotPowerOfTwo { .. })));
    let cfg = MatrixTileConfig { m: 4, k: 4, n: 4, plane: 8, b: TileB::Shared };
    let small = Buffer::upload(client, &[0.0; 4]);
    assert!(matches!(
        launch_matrix_tile(client, cfg, 1, &buf, &small, &buf),
        Err(KernelError::SizeMismatch { what: "b", .. })
    ));
}

cubeaudio_kernels::for_each_runtime!(matrix_tiles_match_reference, matrix_tile_rejects_bad_shapes);
