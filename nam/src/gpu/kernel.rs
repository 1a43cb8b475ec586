//! One launch per buffer for a whole batch of WaveNet streams: cube `s` runs stream `s` — its own
//! model (plan + weights) and its own history — through every layer of every array, a tile of
//! up to [`MAX_TILE`] frames at a time ([`StreamsShape`]), activations in shared memory, histories in device rings.
//!
//! Streams of different models (different channel counts, layer counts, kernel sizes,
//! activations) share the launch: the plan is read at run time, so one compiled kernel serves
//! every model within [`MAX_ROWS`].

use cubeaudio_kernels::activation::activate_dynamic;
use cubecl::prelude::*;

/// Largest frames per tile (a shared-memory row); rings are sized for it, so any tile up to it
/// runs the same plan.
pub const MAX_TILE: usize = 128;
/// Largest row count of any activation block (channels, gate rows, head rows).
pub const MAX_ROWS: usize = 32;

/// The compiled shape of a launch: activation blocks of `rows × tile` floats in shared memory
/// (5 of them plus the input row: `4·(5·rows·tile + tile)` bytes). Bigger tiles cut the serial
/// stages per buffer (each layer is 4 barrier-separated stages per tile); the engine picks the
/// largest tile the device's shared memory and the buffer size allow.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub struct StreamsShape {
    pub rows: usize,
    pub tile: usize,
}

impl StreamsShape {
    pub fn shared_bytes(&self) -> usize {
        4 * (5 * self.rows * self.tile + self.tile)
    }
}
/// u32 per stream in the meta array: plan, weights, state, input, output offsets and cursor.
pub const META: usize = 8;
/// u32 per array header and per layer in a plan (see `plan.rs`).
pub const ARRAY_HEADER: usize = 16;
pub const LAYER_RECORD: usize = 8;


#[cube]
fn ring_at(state_base: usize, ring: usize, size: usize, row: usize, position: usize) -> usize {
    state_base + ring + row * size + (position & (size - 1))
}

/// Appends this tile (`n` frames of `rows` rows of shared `region`) to a history ring, and
/// makes it visible to the whole cube.
#[cube]
fn push_history(
    state: &mut Array<f32>,
    sh: &SharedMemory<f32>,
    region: usize,
    rows: usize,
    n: usize,
    state_base: usize,
    ring: usize,
    size: usize,
    pos: usize,
    #[comptime] tile: usize,
) {
    let mut i = UNIT_POS as usize;
    while i < rows * tile {
        let t = i % tile;
        if t < n {
            state[ring_at(state_base, ring, size, i / tile, pos + t)] = sh[region + i];
        }
        i += CUBE_DIM as usize;
    }
    sync_storage();
    sync_cube();
}

#[cube]
fn act(x: f32, code: u32, weights: &Array<f32>, p: usize) -> f32 {
    activate_dynamic(x, code, weights[p], weights[p + 1], weights[p + 2], weights[p + 3], weights[p + 4])
}

/// Launched unchecked (no per-access bounds test): cubecl's checked mode spends ~6 instructions
/// on each array access, and this kernel is bound by instruction issue on address arithmetic.
/// Every index is in range by construction — see `GpuWaveNetBatch::launch_records`.
#[allow(unused_assignments)] // runtime branches assign variables declared before them
#[cube(launch_unchecked)]
pub fn wavenet_streams_kernel(
    meta: &Array<u32>,
    plan: &Array<u32>,
    weights: &Array<f32>,
    state: &mut Array<f32>,
    input: &Array<f32>,
    output: &mut Array<f32>,
    frames: u32,
    #[comptime] shape: StreamsShape,
) {
    let tile = shape.tile;
    let block = shape.rows * shape.tile;
    let z_at = block;
    let a_at = 2 * block;
    let h_at = 3 * block;
    let ho_at = 4 * block;
    let in_at = 5 * block;
    let m = CUBE_POS * META;
    let p0 = meta[m] as usize;
    let wb = meta[m + 1] as usize;
    let sb = meta[m + 2] as usize;
    let in_off = meta[m + 3] as usize;
    let out_off = meta[m + 4] as usize;
    let cursor = meta[m + 5] as usize;
    let n_arrays = plan[p0] as usize;
    let head_scale = weights[wb + plan[p0 + 1] as usize];
    let total = frames as usize;
    let unit = UNIT_POS as usize;
    let step = CUBE_DIM as usize;
    let mut sh = SharedMemory::<f32>::new(5 * block + tile);

    // Runtime zero: a plain `0` would be a compile-time value the loop cannot advance.
    let mut start = total - total;
    while start < total {
        let mut n = total - start;
        if n > tile {
            n = tile;
        }
        let pos = cursor + start;
        let mut i = unit;
        while i < tile {
            let mut v = 0.0f32;
            if i < n {
                v = input[in_off + start + i];
            }
            sh[in_at + i] = v;
            i += step;
        }
        sync_cube();

        let mut ap = p0 + 2;
        for a in 0..n_arrays {
            let c = plan[ap + 1] as usize;
            let g = plan[ap + 2] as usize;
            let b = plan[ap + 3] as usize;
            let gating = plan[ap + 4];
            let hs = plan[ap + 5] as usize;
            let hout = plan[ap + 6] as usize;
            let hk = plan[ap + 7] as usize;
            let hd = plan[ap + 8] as usize;
            let head_bias = plan[ap + 9];
            let layers = plan[ap + 10] as usize;
            let w_re = wb + plan[ap + 11] as usize;
            let w_head = wb + plan[ap + 12] as usize;
            let head_ring = plan[ap + 13] as usize;
            let head_size = plan[ap + 14] as usize;
            let l1x1 = plan[ap + 15];
            let input_rows = plan[ap] as usize;

            // Rechannel into Z (array 0 reads the raw input, later ones the previous layers' x),
            // then move it to X; the head accumulator starts from the previous array's head.
            let mut src = a - a;
            if a == 0 {
                src = a - a + in_at;
            }
            let mut i = unit;
            while i < c * tile {
                let r = i / tile;
                let t = i % tile;
                let mut acc = 0.0f32;
                let mut wi = w_re + r * input_rows;
                let mut si = src + t;
                for _k in 0..input_rows {
                    acc += weights[wi] * sh[si];
                    wi += 1;
                    si += tile;
                }
                sh[z_at + i] = acc;
                i += step;
            }
            sync_cube();
            let mut i = unit;
            while i < block {
                let r = i / tile;
                if r < c {
                    sh[i] = sh[z_at + i];
                }
                if r < hs {
                    let mut h = 0.0f32;
                    if a > 0 {
                        h = sh[ho_at + i];
                    }
                    sh[h_at + i] = h;
                }
                i += step;
            }
            sync_cube();

            let mut lp = ap + ARRAY_HEADER;
            for _l in 0..layers {
                let kk = plan[lp] as usize;
                let d = plan[lp + 1] as usize;
                let code = plan[lp + 2];
                let sec = plan[lp + 3];
                let w = wb + plan[lp + 4] as usize;
                let ring = plan[lp + 5] as usize;
                let size = plan[lp + 6] as usize;
                let pa = wb + plan[lp + 7] as usize;

                // History: this tile's layer input goes into the ring.
                push_history(state, &sh, 0, c, n, sb, ring, size, pos, tile);

                // z = conv(x) + bias + mixin · input
                let w_bias = w + g * c * kk;
                let w_mix = w_bias + g;
                let mut i = unit;
                while i < g * tile {
                    let o = i / tile;
                    let t = i % tile;
                    let mut acc = weights[w_bias + o] + weights[w_mix + o] * sh[in_at + t];
                    // Taps outside, channels inside with running indices: the inner loop is two
                    // loads, one FMA and two adds (the kernel is bound by instruction issue).
                    for tap in 0..kk {
                        let back = d * (kk - 1 - tap);
                        let mut xi = ring_at(sb, ring, size, 0, pos + t + size - back);
                        let mut wi = w + o * c * kk + tap;
                        for _ci in 0..c {
                            acc += weights[wi] * state[xi];
                            xi += size;
                            wi += kk;
                        }
                    }
                    sh[z_at + i] = acc;
                    i += step;
                }
                sync_cube();

                // a = act(z[0:B]) (⊙ sec(z[B:2B]) when gated, blended when blended)
                let mut i = unit;
                while i < b * tile {
                    let z = sh[z_at + i];
                    let mut y = act(z, code, weights, pa);
                    if gating != 0 {
                        let zs = sh[z_at + b * tile + i];
                        let alpha = act(zs, sec, weights, pa + 5);
                        if gating == 1 {
                            y = y * alpha;
                        } else {
                            y = alpha * y + (1.0 - alpha) * z;
                        }
                    }
                    sh[a_at + i] = y;
                    i += step;
                }
                sync_cube();

                // x += layer1x1(a) + bias; head += a
                let w_l1 = w_mix + g;
                let mut i = unit;
                while i < block {
                    let r = i / tile;
                    let t = i % tile;
                    if r < c && l1x1 != 0 {
                        let mut acc = weights[w_l1 + c * b + r];
                        let mut wi = w_l1 + r * b;
                        let mut ai = a_at + t;
                        for _j in 0..b {
                            acc += weights[wi] * sh[ai];
                            wi += 1;
                            ai += tile;
                        }
                        sh[i] += acc;
                    }
                    if r < hs {
                        sh[h_at + i] += sh[a_at + i];
                    }
                    i += step;
                }
                sync_cube();
                lp += LAYER_RECORD;
            }

            // Head rechannel: a causal conv with its own history of the head accumulator.
            push_history(state, &sh, h_at, hs, n, sb, head_ring, head_size, pos, tile);
            let w_hb = w_head + hout * hs * hk;
            let mut i = unit;
            while i < hout * tile {
                let o = i / tile;
                let t = i % tile;
                let mut acc = 0.0f32;
                if head_bias != 0 {
                    acc = weights[w_hb + o];
                }
                for tap in 0..hk {
                    let back = hd * (hk - 1 - tap);
                    let mut xi = ring_at(sb, head_ring, head_size, 0, pos + t + head_size - back);
                    let mut wi = w_head + o * hs * hk + tap;
                    for _r in 0..hs {
                        acc += weights[wi] * state[xi];
                        xi += head_size;
                        wi += hk;
                    }
                }
                sh[ho_at + i] = acc;
                i += step;
            }
            sync_cube();
            ap = lp;
        }

        let mut i = unit;
        while i < n {
            output[out_off + start + i] = head_scale * sh[ho_at + i];
            i += step;
        }
        sync_cube();
        start += tile;
    }
}
