//! A [`super::ProgramSpec`] run in plain Rust, f64, stage by stage, for tests: the device
//! program must equal it whatever the layout.

use super::{ProgramSpec, IDLE, KIND_BIQUAD, KIND_COMPRESSOR, KIND_DRIVE, KIND_ECHO, KIND_GAIN, KIND_GATE};
use super::{KIND_MIX, KIND_TREMOLO};
use crate::effects::reference as fx;
use crate::routed::MIX_INPUTS;

/// Every instance of a program with its state, on the host.
pub struct ReferenceProgram {
    spec: ProgramSpec,
    params: Vec<f64>,
    state: Vec<[f64; 4]>,
    phases: Vec<f32>,
    rings: Vec<Vec<f64>>,
    /// Every input sample each convolution of each instance has taken (direct convolution).
    histories: Vec<Vec<f64>>,
    at: usize,
}

impl ReferenceProgram {
    /// The program with `params` (as [`super::GraphProgram::new`] takes them).
    pub fn new(spec: &ProgramSpec, params: &[f32]) -> Self {
        let per = spec.params_per_instance();
        let mut state = Vec::new();
        let mut rings = Vec::new();
        for p in params.chunks(per.max(1)).take(spec.instances) {
            let mut at = 0;
            for item in &spec.items {
                let k = spec.kind_params(item.kind);
                state.push(spec.initial_state(item.kind, &p[at..at + k]).map(f64::from));
                rings.push(vec![0.0; item.ring]);
                at += k;
            }
        }
        let convs = spec.convolutions.iter().flatten().count();
        Self {
            histories: vec![Vec::new(); convs * spec.instances],
            spec: spec.clone(),
            params: params.iter().map(|&v| v as f64).collect(),
            phases: vec![0.0; state.len()],
            state,
            rings,
            at: 0,
        }
    }

    /// New parameter values, applied from the next buffer.
    pub fn set_params(&mut self, params: &[f32]) {
        self.params = params.iter().map(|&v| v as f64).collect();
    }

    /// One buffer: `input[instance][channel][frame]` → `output[instance][channel][frame]`.
    pub fn process(&mut self, input: &[Vec<Vec<f32>>], frames: usize) -> Vec<Vec<Vec<f64>>> {
        let spec = &self.spec;
        let per = spec.params_per_instance();
        let mut offsets = Vec::with_capacity(spec.items.len());
        let mut at = 0;
        for item in &spec.items {
            offsets.push(at);
            at += spec.kind_params(item.kind);
        }
        let mut outputs = Vec::with_capacity(spec.instances);
        for (inst, inp) in input.iter().enumerate().take(spec.instances) {
            let mut arena = vec![vec![0.0f64; frames]; spec.slots];
            for &(c, s) in &spec.input_routes {
                for (d, &x) in arena[s as usize].iter_mut().zip(&inp[c as usize]) {
                    *d = if x.is_finite() { x as f64 } else { 0.0 };
                }
            }
            let mut conv_index = inst * spec.convolutions.iter().flatten().count();
            for (s_index, stage) in spec.stages.iter().enumerate() {
                for &e in stage.iter().filter(|&&e| e != IDLE) {
                    let e = e as usize;
                    let item = &spec.items[e];
                    let k = inst * spec.items.len() + e;
                    let p = &self.params[inst * per + offsets[e]..][..spec.kind_params(item.kind)];
                    let s = &mut self.state[k];
                    let mut out = vec![0.0f64; frames];
                    for (t, y) in out.iter_mut().enumerate() {
                        let x = arena[item.inputs[0] as usize][t];
                        *y = match item.kind {
                            KIND_GAIN => {
                                s[0] += p[1] * (p[0] - s[0]);
                                x * s[0]
                            }
                            KIND_MIX => (0..MIX_INPUTS)
                                .map(|j| {
                                    s[j] += p[MIX_INPUTS] * (p[j] - s[j]);
                                    s[j] * arena[item.inputs[j] as usize][t]
                                })
                                .sum(),
                            KIND_BIQUAD => {
                                let y = p[0] * x + s[0];
                                s[0] = p[1] * x - p[3] * y + s[1];
                                s[1] = p[2] * x - p[4] * y;
                                y
                            }
                            KIND_GATE => fx::gate(x, p, s),
                            KIND_COMPRESSOR => fx::compressor(x, p, s),
                            KIND_TREMOLO => fx::tremolo(x, p, &mut self.phases[k], &mut s[1..]),
                            KIND_DRIVE => fx::drive(x, p, s),
                            KIND_ECHO => fx::echo(x, p, &mut self.rings[k], self.at + t),
                            kind => match spec.device_kinds.get(kind) {
                                Some(device) => (device.reference)(x, p, s),
                                None => unreachable!("kinds are checked by the spec"),
                            },
                        };
                    }
                    arena[item.output as usize] = out;
                }
                for conv in spec.convolutions.get(s_index).into_iter().flatten() {
                    let history = &mut self.histories[conv_index];
                    history.extend(&arena[conv.input as usize]);
                    let now = history.len() - frames;
                    let out = (0..frames)
                        .map(|t| {
                            let taps = conv.ir.len().min(now + t + 1);
                            (0..taps).map(|k| conv.ir[k] as f64 * history[now + t - k]).sum()
                        })
                        .collect();
                    arena[conv.output as usize] = out;
                    conv_index += 1;
                }
            }
            let mut o = vec![vec![0.0f64; frames]; spec.outputs];
            for &(s, c) in &spec.output_routes {
                o[c as usize].copy_from_slice(&arena[s as usize]);
            }
            outputs.push(o);
        }
        self.at += frames;
        outputs
    }
}
