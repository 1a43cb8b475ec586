use cubecl::prelude::*;

use super::{
    routed_biquad_kernel, routed_copy_kernel, routed_fir_kernel, routed_gain_kernel, routed_gate_kernel,
    routed_mix_kernel, FIR_RECORD, MIX_INPUTS,
};
use crate::biquad::BiquadCoefficients;
use crate::delay_line::DelayLineConfig;
use crate::util::{at_most, cube_count_1d, len_eq, nonzero, Buffer, IndexBuffer};
use crate::KernelError;

const KERNEL: &str = "routed";

/// Checks that the highest slot a table names lies inside the arena (`stride` frames per
/// slot). Tables are fixed at construction, so their highest slot is kept rather than rescanned
/// every buffer.
pub(crate) fn slots_fit(what: &'static str, highest: u32, arena: &Buffer, stride: usize) -> Result<(), KernelError> {
    let available = arena.len / stride.max(1);
    if highest as usize >= available {
        return Err(KernelError::TooLarge {
            kernel: KERNEL,
            what,
            value: highest as usize,
            limit: available.saturating_sub(1),
        });
    }
    Ok(())
}

/// The highest slot of a table.
pub(crate) fn highest(slots: &[u32]) -> u32 {
    slots.iter().copied().max().unwrap_or(0)
}

pub(crate) fn frames_fit(frames: usize, stride: usize) -> Result<(), KernelError> {
    nonzero(KERNEL, "frames", frames)?;
    at_most(KERNEL, "frames", frames, stride)
}

fn finite(what: &str, values: &[f32]) -> Result<(), KernelError> {
    crate::util::finite(KERNEL, what, values)
}

/// Copies `frames` samples along each `(source offset, destination offset)` route, in one launch.
/// The table is uploaded by the caller once ([`IndexBuffer`] of pairs) and reused every buffer.
pub fn copy_routes<R: Runtime>(
    client: &ComputeClient<R>,
    src: &Buffer,
    dst: &Buffer,
    routes: &IndexBuffer,
    frames: usize,
) -> Result<(), KernelError> {
    nonzero(KERNEL, "frames", frames)?;
    if !routes.len.is_multiple_of(2) || routes.len == 0 {
        return Err(KernelError::Invalid {
            kernel: KERNEL,
            reason: format!("copy table holds {} entries, expected a positive even count", routes.len),
        });
    }
    routed_copy_kernel::launch::<R>(
        client,
        cube_count_1d(routes.len / 2 * frames, 256),
        CubeDim::new_1d(256),
        src.arg(),
        dst.arg(),
        routes.arg(),
        frames as u32,
    );
    Ok(())
}

/// Validates a copy table against its two buffers (at setup, not per buffer).
pub fn check_copy_routes(
    routes: &[(u32, u32)],
    src_len: usize,
    dst_len: usize,
    max_frames: usize,
) -> Result<(), KernelError> {
    for (i, &(s, d)) in routes.iter().enumerate() {
        if s as usize + max_frames > src_len || d as usize + max_frames > dst_len {
            return Err(KernelError::Invalid {
                kernel: KERNEL,
                reason: format!("copy route {i} ({s} → {d}) runs past its buffers"),
            });
        }
    }
    Ok(())
}

/// Per-sample smoothed gains on the device: state, targets, and the targets last uploaded (a new
/// upload only when they change). Shared by [`RoutedGain`] and [`RoutedMix`].
#[derive(Debug, Clone)]
struct Smoothers {
    coef: f32,
    state: Buffer,
    targets: Buffer,
    applied: Vec<f32>,
}

impl Smoothers {
    /// Starts at `initial`, so the first buffer does not ramp.
    fn new<R: Runtime>(client: &ComputeClient<R>, coef: f32, initial: &[f32]) -> Result<Self, KernelError> {
        finite("initial gain", initial)?;
        if !(coef > 0.0 && coef <= 1.0) {
            return Err(KernelError::Invalid {
                kernel: KERNEL,
                reason: format!("coefficient {coef} must be in (0, 1]"),
            });
        }
        Ok(Self {
            coef,
            state: Buffer::upload(client, initial),
            targets: Buffer::upload(client, initial),
            applied: initial.to_vec(),
        })
    }

    fn set<R: Runtime>(&mut self, client: &ComputeClient<R>, targets: &[f32]) -> Result<(), KernelError> {
        len_eq(KERNEL, "targets", self.applied.len(), targets.len())?;
        finite("target", targets)?;
        if targets != self.applied.as_slice() {
            self.targets = Buffer::upload(client, targets);
            self.applied.copy_from_slice(targets);
        }
        Ok(())
    }
}

/// The launch function of `routed_gain_kernel` and `routed_mix_kernel`.
type RoutedLaunch<R> =
    fn(&ComputeClient<R>, CubeCount, CubeDim, ArrayArg<R>, ArrayArg<R>, ArrayArg<R>, ArrayArg<R>, f32, u32, u32);

/// What [`RoutedGain`] and [`RoutedMix`] share: a route table, its highest slot, and one
/// smoothed gain per routed input.
#[derive(Debug, Clone)]
struct SmoothedRoutes {
    channels: usize,
    routes: IndexBuffer,
    highest_slot: u32,
    gains: Smoothers,
}

impl SmoothedRoutes {
    /// `slots`: every channel's route, flattened; `initial`: one gain per routed input.
    fn new<R: Runtime>(
        client: &ComputeClient<R>,
        channels: usize,
        slots: &[u32],
        coef: f32,
        initial: &[f32],
        gains_per_channel: usize,
    ) -> Result<Self, KernelError> {
        nonzero(KERNEL, "channels", channels)?;
        len_eq(KERNEL, "initial gains", channels * gains_per_channel, initial.len())?;
        Ok(Self {
            channels,
            routes: IndexBuffer::upload(client, slots),
            highest_slot: highest(slots),
            gains: Smoothers::new(client, coef, initial)?,
        })
    }

    /// Launches `kernel` (gain or mix: the same arguments) over the arena, after refusing frames
    /// or slots that do not fit it.
    fn launch<R: Runtime>(
        &self,
        client: &ComputeClient<R>,
        what: &'static str,
        kernel: RoutedLaunch<R>,
        arena: &Buffer,
        stride: usize,
        frames: usize,
    ) -> Result<(), KernelError> {
        frames_fit(frames, stride)?;
        slots_fit(what, self.highest_slot, arena, stride)?;
        let g = &self.gains;
        kernel(
            client,
            cube_count_1d(self.channels, 64),
            CubeDim::new_1d(64),
            arena.arg(),
            self.routes.arg(),
            g.state.arg(),
            g.targets.arg(),
            g.coef,
            stride as u32,
            frames as u32,
        );
        Ok(())
    }
}

/// Smoothed gain on routed channels (`(input slot, output slot)` each).
#[derive(Debug, Clone)]
pub struct RoutedGain(SmoothedRoutes);

impl RoutedGain {
    /// Starts at `initial` (one per channel), so the first buffer does not ramp.
    pub fn new<R: Runtime>(
        client: &ComputeClient<R>,
        routes: &[(u32, u32)],
        coef: f32,
        initial: &[f32],
    ) -> Result<Self, KernelError> {
        let slots: Vec<u32> = routes.iter().flat_map(|&(a, b)| [a, b]).collect();
        Ok(Self(SmoothedRoutes::new(client, routes.len(), &slots, coef, initial, 1)?))
    }

    /// New targets (linear gains, one per channel); uploaded only when they changed.
    pub fn set_targets<R: Runtime>(&mut self, client: &ComputeClient<R>, targets: &[f32]) -> Result<(), KernelError> {
        self.0.gains.set(client, targets)
    }

    /// Applies the gains to `frames` samples of every route of the arena (`stride` floats per slot).
    pub fn process<R: Runtime>(
        &mut self,
        client: &ComputeClient<R>,
        arena: &Buffer,
        stride: usize,
        frames: usize,
    ) -> Result<(), KernelError> {
        self.0.launch(client, "gain slot", routed_gain_kernel::launch::<R>, arena, stride, frames)
    }
}

/// Sum of [`MIX_INPUTS`] routed inputs per channel, each with its own smoothed gain.
#[derive(Debug, Clone)]
pub struct RoutedMix(SmoothedRoutes);

impl RoutedMix {
    /// `routes[c]`: the input slots (silent slot where unconnected) and the output slot of channel
    /// `c`; `initial[c · MIX_INPUTS + k]` the starting gain of its input `k`.
    pub fn new<R: Runtime>(
        client: &ComputeClient<R>,
        routes: &[([u32; MIX_INPUTS], u32)],
        coef: f32,
        initial: &[f32],
    ) -> Result<Self, KernelError> {
        let slots: Vec<u32> = routes.iter().flat_map(|(ins, out)| ins.iter().copied().chain([*out])).collect();
        Ok(Self(SmoothedRoutes::new(client, routes.len(), &slots, coef, initial, MIX_INPUTS)?))
    }

    /// New targets, `MIX_INPUTS` per channel; uploaded only when they changed.
    pub fn set_targets<R: Runtime>(&mut self, client: &ComputeClient<R>, targets: &[f32]) -> Result<(), KernelError> {
        self.0.gains.set(client, targets)
    }

    /// Mixes `frames` samples of every route of the arena (`stride` floats per slot).
    pub fn process<R: Runtime>(
        &mut self,
        client: &ComputeClient<R>,
        arena: &Buffer,
        stride: usize,
        frames: usize,
    ) -> Result<(), KernelError> {
        self.0.launch(client, "mix slot", routed_mix_kernel::launch::<R>, arena, stride, frames)
    }
}

/// One biquad section per routed channel; coefficients may change between buffers (state kept).
#[derive(Debug, Clone)]
pub struct RoutedBiquad {
    channels: usize,
    routes: IndexBuffer,
    highest_slot: u32,
    coeffs: Buffer,
    state: Buffer,
    applied: Vec<BiquadCoefficients>,
}

impl RoutedBiquad {
    /// One biquad per route with these coefficients and zero state.
    pub fn new<R: Runtime>(
        client: &ComputeClient<R>,
        routes: &[(u32, u32)],
        coeffs: &[BiquadCoefficients],
    ) -> Result<Self, KernelError> {
        nonzero(KERNEL, "channels", routes.len())?;
        len_eq(KERNEL, "coefficients", routes.len(), coeffs.len())?;
        let slots: Vec<u32> = routes.iter().flat_map(|&(a, b)| [a, b]).collect();
        let mut me = Self {
            channels: routes.len(),
            routes: IndexBuffer::upload(client, &slots),
            highest_slot: highest(&slots),
            coeffs: Buffer::filled(client, routes.len() * 5, 0.0),
            state: Buffer::filled(client, routes.len() * 2, 0.0),
            applied: Vec::new(),
        };
        me.set_coefficients(client, coeffs)?;
        Ok(me)
    }

    /// Uploads only when a coefficient changed.
    pub fn set_coefficients<R: Runtime>(
        &mut self,
        client: &ComputeClient<R>,
        coeffs: &[BiquadCoefficients],
    ) -> Result<(), KernelError> {
        len_eq(KERNEL, "coefficients", self.channels, coeffs.len())?;
        if let Some(i) = coeffs.iter().position(|c| !c.is_finite()) {
            return Err(KernelError::Invalid {
                kernel: KERNEL,
                reason: format!("biquad of channel {i} has non-finite coefficients"),
            });
        }
        if coeffs != self.applied.as_slice() {
            let flat: Vec<f32> = coeffs.iter().flat_map(|c| c.0).collect();
            self.coeffs = Buffer::upload(client, &flat);
            self.applied = coeffs.to_vec();
        }
        Ok(())
    }

    /// Filters `frames` samples of every route of the arena (`stride` floats per slot).
    pub fn process<R: Runtime>(
        &mut self,
        client: &ComputeClient<R>,
        arena: &Buffer,
        stride: usize,
        frames: usize,
    ) -> Result<(), KernelError> {
        frames_fit(frames, stride)?;
        slots_fit("biquad slot", self.highest_slot, arena, stride)?;
        routed_biquad_kernel::launch::<R>(
            client,
            cube_count_1d(self.channels, 64),
            CubeDim::new_1d(64),
            arena.arg(),
            self.routes.arg(),
            self.coeffs.arg(),
            self.state.arg(),
            stride as u32,
            frames as u32,
        );
        Ok(())
    }
}

/// Noise-gate settings of one channel, as the kernel consumes them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GateSettings {
    /// Opening threshold, linear amplitude.
    pub threshold: f32,
    /// Per-sample smoothing coefficients (see [`crate::gain::smoothing_coefficient`]).
    pub attack: f32,
    /// Per-sample coefficient of the gain closing.
    pub release: f32,
    /// Per-sample decay factor of the peak envelope.
    pub envelope_fall: f32,
}

impl GateSettings {
    fn check(&self, channel: usize) -> Result<(), KernelError> {
        let ok = self.threshold.is_finite()
            && self.threshold >= 0.0
            && [self.attack, self.release].iter().all(|c| *c > 0.0 && *c <= 1.0)
            && (0.0..1.0).contains(&self.envelope_fall);
        if ok {
            Ok(())
        } else {
            Err(KernelError::Invalid {
                kernel: KERNEL,
                reason: format!("gate settings of channel {channel} out of range: {self:?}"),
            })
        }
    }
}

/// Noise gate on routed channels; starts closed.
#[derive(Debug, Clone)]
pub struct RoutedGate {
    channels: usize,
    routes: IndexBuffer,
    highest_slot: u32,
    settings: Buffer,
    state: Buffer,
    applied: Vec<GateSettings>,
}

impl RoutedGate {
    /// One gate per route with these settings, closed.
    pub fn new<R: Runtime>(
        client: &ComputeClient<R>,
        routes: &[(u32, u32)],
        settings: &[GateSettings],
    ) -> Result<Self, KernelError> {
        nonzero(KERNEL, "channels", routes.len())?;
        let slots: Vec<u32> = routes.iter().flat_map(|&(a, b)| [a, b]).collect();
        let mut me = Self {
            channels: routes.len(),
            routes: IndexBuffer::upload(client, &slots),
            highest_slot: highest(&slots),
            settings: Buffer::filled(client, routes.len() * 4, 0.0),
            state: Buffer::filled(client, routes.len() * 2, 0.0),
            applied: Vec::new(),
        };
        me.set_settings(client, settings)?;
        Ok(me)
    }

    /// New settings, one per route; uploaded only when they changed.
    pub fn set_settings<R: Runtime>(
        &mut self,
        client: &ComputeClient<R>,
        settings: &[GateSettings],
    ) -> Result<(), KernelError> {
        len_eq(KERNEL, "gate settings", self.channels, settings.len())?;
        for (c, s) in settings.iter().enumerate() {
            s.check(c)?;
        }
        if settings != self.applied.as_slice() {
            let flat: Vec<f32> =
                settings.iter().flat_map(|s| [s.threshold, s.attack, s.release, s.envelope_fall]).collect();
            self.settings = Buffer::upload(client, &flat);
            self.applied = settings.to_vec();
        }
        Ok(())
    }

    /// Gates `frames` samples of every route of the arena (`stride` floats per slot).
    pub fn process<R: Runtime>(
        &mut self,
        client: &ComputeClient<R>,
        arena: &Buffer,
        stride: usize,
        frames: usize,
    ) -> Result<(), KernelError> {
        frames_fit(frames, stride)?;
        slots_fit("gate slot", self.highest_slot, arena, stride)?;
        routed_gate_kernel::launch::<R>(
            client,
            cube_count_1d(self.channels, 64),
            CubeDim::new_1d(64),
            arena.arg(),
            self.routes.arg(),
            self.settings.arg(),
            self.state.arg(),
            stride as u32,
            frames as u32,
        );
        Ok(())
    }
}

/// Longest FIR accepted per channel (direct form; 0.34 s at 48 kHz).
pub const MAX_FIR_TAPS: usize = 16_384;

/// FIRs of any lengths on routed channels, each over its own history ring, in one launch.
#[derive(Debug, Clone)]
pub struct RoutedFir {
    channels: usize,
    max_frames: usize,
    table: IndexBuffer,
    highest_slot: u32,
    taps: Buffer,
    rings: Buffer,
    cursor: u32,
}

impl RoutedFir {
    /// `channels[c] = ((input slot, output slot), taps)`; buffers of up to `max_frames`.
    pub fn new<R: Runtime>(
        client: &ComputeClient<R>,
        channels: &[((u32, u32), &[f32])],
        max_frames: usize,
    ) -> Result<Self, KernelError> {
        nonzero(KERNEL, "channels", channels.len())?;
        nonzero(KERNEL, "max_frames", max_frames)?;
        at_most(KERNEL, "max_frames", max_frames, 1 << 16)?;
        let (mut table, mut taps, mut ring_len, mut slots) = (Vec::new(), Vec::new(), 0usize, Vec::new());
        for (c, ((src, dst), h)) in channels.iter().enumerate() {
            nonzero(KERNEL, "taps", h.len())?;
            at_most(KERNEL, "taps", h.len(), MAX_FIR_TAPS)?;
            if let Some(i) = h.iter().position(|v| !v.is_finite()) {
                return Err(KernelError::Invalid {
                    kernel: KERNEL,
                    reason: format!("FIR of channel {c}: tap {i} is {}", h[i]),
                });
            }
            let size = DelayLineConfig::size_for(h.len() - 1, max_frames);
            table.extend_from_slice(&[*src, *dst, taps.len() as u32, h.len() as u32, ring_len as u32, size as u32]);
            slots.extend_from_slice(&[*src, *dst]);
            taps.extend_from_slice(h);
            ring_len += size;
        }
        debug_assert_eq!(table.len(), channels.len() * FIR_RECORD);
        Ok(Self {
            channels: channels.len(),
            max_frames,
            table: IndexBuffer::upload(client, &table),
            highest_slot: highest(&slots),
            taps: Buffer::upload(client, &taps),
            rings: Buffer::filled(client, ring_len, 0.0),
            cursor: 0,
        })
    }

    /// Filters `frames` samples of every route of the arena (`stride` floats per slot).
    pub fn process<R: Runtime>(
        &mut self,
        client: &ComputeClient<R>,
        arena: &Buffer,
        stride: usize,
        frames: usize,
    ) -> Result<(), KernelError> {
        frames_fit(frames, stride)?;
        at_most(KERNEL, "frames", frames, self.max_frames)?;
        slots_fit("FIR slot", self.highest_slot, arena, stride)?;
        routed_fir_kernel::launch::<R>(
            client,
            CubeCount::Static(self.channels as u32, 1, 1),
            CubeDim::new_1d(128),
            arena.arg(),
            self.table.arg(),
            self.taps.arg(),
            self.rings.arg(),
            self.cursor,
            stride as u32,
            frames as u32,
        );
        self.cursor = self.cursor.wrapping_add(frames as u32);
        Ok(())
    }

    /// Back to silence: every history cleared (the taps are kept).
    pub fn reset<R: Runtime>(&mut self, client: &ComputeClient<R>) {
        self.rings = Buffer::filled(client, self.rings.len, 0.0);
        self.cursor = 0;
    }
}
