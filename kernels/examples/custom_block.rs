//! Writing a new building block: a `#[cube]` function usable inside other kernels, a launchable
//! kernel around it, a host helper that validates sizes and returns a typed error instead of
//! launching something wrong, and a check against a plain-Rust f64 reference — the pattern of
//! every block in `kernels/src` (docs/KERNELS.md).
//!
//! The block: a DC blocker, the one-pole high-pass `y[n] = x[n] − x[n−1] + r·y[n−1]` that
//! removes an offset before a gain stage, one unit per channel, state kept on the device.
//!
//! `cargo run --release -p cubeaudio-kernels --example custom_block` (on every runtime with a
//! device; `CUBEAUDIO_REQUIRE=wgpu` makes a missing device an error, as in CI).

use cubeaudio_kernels::device::{Backend, DeviceInfo, DeviceJob};
use cubeaudio_kernels::util::Buffer;
use cubeaudio_kernels::KernelError;
use cubecl::prelude::*;

/// One sample of the filter: usable from any kernel that keeps `(x1, y1)` per channel.
#[cube]
fn dc_block_step(x: f32, x1: f32, y1: f32, r: f32) -> f32 {
    x - x1 + r * y1
}

/// Channel `c` (one unit each) filters its `frames` samples of planar `input`; `state` holds
/// `(x[n−1], y[n−1])` per channel between launches.
#[cube(launch)]
fn dc_blocker_kernel(
    input: &Array<f32>,
    output: &mut Array<f32>,
    state: &mut Array<f32>,
    r: f32,
    channels: u32,
    frames: u32,
) {
    let c = ABSOLUTE_POS;
    if c < channels as usize {
        let n = frames as usize;
        let mut x1 = state[2 * c];
        let mut y1 = state[2 * c + 1];
        for t in 0..n {
            let x = input[c * n + t];
            let y = dc_block_step(x, x1, y1, r);
            output[c * n + t] = y;
            x1 = x;
            y1 = y;
        }
        state[2 * c] = x1;
        state[2 * c + 1] = y1;
    }
}

/// Host side: `channels` DC blockers with their state on the device.
struct DcBlocker {
    channels: usize,
    r: f32,
    state: Buffer,
}

impl DcBlocker {
    fn new<R: Runtime>(client: &ComputeClient<R>, channels: usize, r: f32) -> Result<Self, KernelError> {
        if channels == 0 {
            return Err(KernelError::Zero { kernel: "dc_blocker", what: "channels" });
        }
        if !(0.0..1.0).contains(&r) {
            return Err(KernelError::Invalid { kernel: "dc_blocker", reason: format!("pole {r} must be in [0, 1)") });
        }
        Ok(Self { channels, r, state: Buffer::filled(client, 2 * channels, 0.0) })
    }

    fn process<R: Runtime>(
        &mut self,
        client: &ComputeClient<R>,
        input: &Buffer,
        output: &Buffer,
        frames: usize,
    ) -> Result<(), KernelError> {
        for (what, buffer) in [("input", input), ("output", output)] {
            if buffer.len != self.channels * frames {
                return Err(KernelError::SizeMismatch {
                    kernel: "dc_blocker",
                    what,
                    expected: self.channels * frames,
                    actual: buffer.len,
                });
            }
        }
        let cubes = self.channels.div_ceil(64) as u32;
        dc_blocker_kernel::launch::<R>(
            client,
            CubeCount::Static(cubes, 1, 1),
            CubeDim::new_1d(64),
            input.arg(),
            output.arg(),
            self.state.arg(),
            self.r,
            self.channels as u32,
            frames as u32,
        );
        Ok(())
    }
}

/// Two blocks of three channels (a step, a sine with an offset, silence) against an f64
/// reference; then the helper's refusals.
struct Check;

impl DeviceJob for Check {
    type Output = Result<f64, KernelError>;

    fn run<R: Runtime>(self, client: &ComputeClient<R>, info: &DeviceInfo) -> Self::Output {
        println!("dc_blocker on {info}");
        let (channels, frames, r) = (3usize, 257usize, 0.995f32);
        let signal = |c: usize, t: usize| -> f32 {
            match c {
                0 => 1.0,
                1 => 0.3 + 0.5 * (t as f32 * 0.05).sin(),
                _ => 0.0,
            }
        };
        let mut blocker = DcBlocker::new(client, channels, r)?;
        let (mut x1, mut y1) = (vec![0.0f64; channels], vec![0.0f64; channels]);
        let mut worst = 0.0f64;
        for block in 0..2 {
            let input: Vec<f32> =
                (0..channels).flat_map(|c| (0..frames).map(move |t| signal(c, block * frames + t))).collect();
            let output = Buffer::filled(client, channels * frames, f32::NAN);
            blocker.process(client, &Buffer::upload(client, &input), &output, frames)?;
            let got = output.read(client, "dc_blocker")?;
            for c in 0..channels {
                for t in 0..frames {
                    let x = input[c * frames + t] as f64;
                    let y = x - x1[c] + r as f64 * y1[c];
                    (x1[c], y1[c]) = (x, y);
                    worst = worst.max((got[c * frames + t] as f64 - y).abs());
                }
            }
        }
        assert!(matches!(DcBlocker::new(client, 0, r), Err(KernelError::Zero { .. })));
        assert!(matches!(DcBlocker::new(client, 1, 1.5), Err(KernelError::Invalid { .. })));
        let short = Buffer::filled(client, 5, 0.0);
        assert!(matches!(blocker.process(client, &short, &short, frames), Err(KernelError::SizeMismatch { .. })));
        Ok(worst)
    }
}

fn main() {
    let device = match Backend::Auto.open_gpu() {
        Ok(device) => device,
        Err(e) if cubeaudio_kernels::device::required("wgpu") => panic!("a device is required here: {e}"),
        Err(e) => {
            eprintln!("SKIPPED custom_block example: no device ({e})");
            return;
        }
    };
    let worst = device.run(Check).expect("the helper accepts valid sizes");
    println!("max |error| against the f64 reference: {worst:.2e}");
    assert!(worst < 1e-4, "dc_blocker differs from the reference by {worst}");
}
