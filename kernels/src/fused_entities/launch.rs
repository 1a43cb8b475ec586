use cubecl::prelude::*;

use super::fused_entities_kernel;
use crate::util::{at_most, len_eq, nonzero, Buffer};
use crate::KernelError;

const KERNEL: &str = "fused_entities";

/// Number of distinct entity types (branch bodies) in [`super::entity_step`].
pub const ENTITY_TYPES: u32 = 11;

fn fract(x: f32) -> f32 {
    x - x.floor()
}

/// The same step in plain Rust (f32, same operation order) for tests.
pub fn entity_step_reference(ty: u32, x: f32, s: &mut [f32; 4], p0: f32, p1: f32) -> f32 {
    match ty {
        0 => {
            s[0] += (0.05 + 0.5 * p0) * (x - s[0]);
            s[0]
        }
        1 => {
            let y = (0.2 + 0.1 * p0) * x + s[0];
            s[0] = 0.3 * x - (0.2 + 0.1 * p1) * y + s[1];
            s[1] = 0.1 * x - 0.1 * y;
            y
        }
        2 => {
            s[0] = fract(s[0] + 0.01 + 0.01 * p0);
            let ph = s[0] * 2.0 - 1.0;
            4.0 * ph * (1.0 - ph.abs()) * (0.5 + 0.5 * x)
        }
        3 => {
            let dt = 0.003 + 0.01 * p1;
            s[0] = fract(s[0] + dt);
            let t = s[0];
            let blep = if t < dt {
                let u = t / dt;
                u + u - u * u - 1.0
            } else if t > 1.0 - dt {
                let u = (t - 1.0) / dt;
                u * u + u + u + 1.0
            } else {
                0.0
            };
            2.0 * t - 1.0 - blep + 0.1 * x
        }
        4 => {
            let d = x * (1.0 + 3.0 * p0);
            let d2 = d * d;
            (d * (27.0 + d2) / (27.0 + 9.0 * d2)).clamp(-1.0, 1.0)
        }
        5 => {
            let levels = 4.0 + 12.0 * p0;
            (x * levels + 0.5).floor() / levels
        }
        6 => {
            let g = 0.1 + 0.2 * p0;
            let hp = x - s[0] - s[1];
            let bp = g * hp + s[1];
            let lp = g * bp + s[0];
            s[1] = g * hp + bp;
            s[0] = g * bp + lp;
            lp
        }
        7 => {
            s[0] = fract(s[0] + 0.618_034 + 0.01 * p1);
            (s[0] * 2.0 - 1.0) * x
        }
        8 => {
            let a = x.abs();
            let k = if a > s[0] { 0.3 } else { 0.01 };
            s[0] += k * (a - s[0]);
            s[0]
        }
        9 => {
            let x2 = x * x;
            (8.0 * x2 * x2 - 8.0 * x2 + 1.0) * 0.5 * p0 + 0.5 * x
        }
        _ => {
            s[0] = fract(s[0] + 0.02 + 0.01 * p0);
            let y = x * (s[0] * 2.0 - 1.0) + 0.5 * s[1];
            s[1] = 0.5 * y;
            y
        }
    }
}

/// Entities of `instances` identical instruments, with device-resident state.
#[derive(Debug, Clone)]
pub struct FusedEntities {
    /// Copies of the instrument.
    pub instances: usize,
    /// Entities per instance.
    pub entities: usize,
    /// Branch body (type) of each entity.
    pub types: Buffer,
    /// Parameters of each entity.
    pub params: Buffer,
    /// Per-entity state kept between launches.
    pub state: Buffer,
    /// Every entity's output of the last launch.
    pub output: Buffer,
}

impl FusedEntities {
    /// `types[e]` and `params[2e..2e+2]` describe entity `e` of every instance.
    pub fn new<R: Runtime>(
        client: &ComputeClient<R>,
        instances: usize,
        types: &[u32],
        params: &[f32],
    ) -> Result<Self, KernelError> {
        let entities = types.len();
        nonzero(KERNEL, "entities", entities)?;
        nonzero(KERNEL, "instances", instances)?;
        at_most(KERNEL, "instances", instances, u16::MAX as usize)?;
        len_eq(KERNEL, "params", 2 * entities, params.len())?;
        if let Some(t) = types.iter().find(|&&t| t >= ENTITY_TYPES) {
            return Err(KernelError::Invalid { kernel: KERNEL, reason: format!("entity type {t} ≥ {ENTITY_TYPES}") });
        }
        let all_types: Vec<u32> = (0..instances).flat_map(|_| types.iter().copied()).collect();
        let all_params: Vec<f32> = (0..instances).flat_map(|_| params.iter().copied()).collect();
        let handle = client.create_from_slice(u32::as_bytes(&all_types));
        Ok(Self {
            instances,
            entities,
            types: Buffer { handle, len: all_types.len() },
            params: Buffer::upload(client, &all_params),
            state: Buffer::filled(client, 4 * entities * instances, 0.0),
            output: Buffer::filled(client, entities * instances, f32::NAN),
        })
    }
}

/// Runs `steps` samples of every entity; `layout[slot]` is the entity of each unit of a cube
/// (`u32::MAX` for padding), one cube per instance, `layout.len()` units per cube.
pub fn launch_fused_entities<R: Runtime>(
    client: &ComputeClient<R>,
    work: &FusedEntities,
    layout: &[u32],
    layout_buf: &cubecl::server::Handle,
    steps: u32,
) -> Result<(), KernelError> {
    nonzero(KERNEL, "layout", layout.len())?;
    at_most(KERNEL, "layout", layout.len(), client.properties().hardware.max_units_per_cube as usize)?;
    let mut seen = vec![false; work.entities];
    for &e in layout.iter().filter(|&&e| e != u32::MAX) {
        let slot = seen.get_mut(e as usize).ok_or_else(|| KernelError::Invalid {
            kernel: KERNEL,
            reason: format!("layout names entity {e} of {}", work.entities),
        })?;
        if *slot {
            return Err(KernelError::Invalid { kernel: KERNEL, reason: format!("layout places entity {e} twice") });
        }
        *slot = true;
    }
    if let Some(e) = seen.iter().position(|s| !s) {
        return Err(KernelError::Invalid { kernel: KERNEL, reason: format!("layout leaves entity {e} out") });
    }
    // SAFETY: the handle holds `layout.len()` u32 values (the caller uploaded `layout`).
    let layout_arg = unsafe { ArrayArg::from_raw_parts(layout_buf.clone(), layout.len()) };
    fused_entities_kernel::launch::<R>(
        client,
        CubeCount::Static(work.instances as u32, 1, 1),
        CubeDim::new_1d(layout.len() as u32),
        layout_arg,
        work.types.arg(),
        work.params.arg(),
        work.state.arg(),
        work.output.arg(),
        work.entities as u32,
        steps,
    );
    Ok(())
}
