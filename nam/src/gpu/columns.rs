//! The shape-specialised WaveNet kernel's device code and shapes live in the kernel library
//! ([`cubeaudio_kernels::wavenet_columns`]) so that a graph program can run a stream with it;
//! this module derives a model's shape from its plan ([`arrays_of`]). The interpreter
//! ([`super::kernel`]) runs what the shape does not cover.

pub use cubeaudio_kernels::wavenet_columns::*;

use super::kernel::{
    ARRAY_HEADER, DEST_OUTPUT, LAYER_RECORD, NONE, OP_ARRAY, OP_OUT, OUT_RECORD, REGION_HO, REGION_IN, REGION_X,
};
use super::plan::ModelPlan;

/// The arrays of `plan` when its model is a WaveNet the columns kernel runs, else `None`.
pub fn arrays_of(plan: &ModelPlan) -> Option<([ArrayShape; MAX_ARRAYS], usize)> {
    use cubeaudio_kernels::activation::ActivationKind as K;
    if plan.general {
        return None;
    }
    let p = &plan.plan;
    let n_ops = *p.first()? as usize;
    if !(2..=MAX_ARRAYS + 1).contains(&n_ops) {
        return None;
    }
    let kind = |code: u32| {
        [
            K::Identity,
            K::Tanh,
            K::FastTanh,
            K::Sigmoid,
            K::ReLU,
            K::LeakyReLU,
            K::Hardtanh,
            K::LeakyHardtanh,
            K::Softsign,
            K::SiLU,
            K::Hardswish,
        ]
        .into_iter()
        .find(|k| cubeaudio_kernels::activation::activation_code(*k) == code)
    };
    let mut arrays = Vec::new();
    let mut at = 1;
    for ai in 0..n_ops - 1 {
        let rec = p.get(at..at + ARRAY_HEADER)?;
        let (c, hs, hout, hk, layers) = (rec[3] as usize, rec[4] as usize, rec[5] as usize, rec[6], rec[9] as usize);
        let src_ok = if ai == 0 { rec[1] == REGION_IN } else { rec[1] == REGION_X };
        if rec[0] != OP_ARRAY || !src_ok || hk != 1 || rec[15] != REGION_IN || layers == 0 {
            return None;
        }
        let first = p.get(at + ARRAY_HEADER..at + ARRAY_HEADER + LAYER_RECORD)?;
        let shape = ArrayShape {
            input_rows: rec[2] as usize,
            channels: c,
            bottleneck: first[9] as usize,
            gate_rows: first[8] as usize,
            head_out: hout,
            taps: first[0] as usize,
            layers,
            activation: kind(first[2])?,
            secondary: kind(first[3])?,
            gating: first[10],
            head_bias: rec[8] != 0,
        };
        for l in 0..layers {
            let r = p.get(at + ARRAY_HEADER + l * LAYER_RECORD..at + ARRAY_HEADER + (l + 1) * LAYER_RECORD)?;
            // Same shape as the first layer; layer1x1 present, no head1x1, a one-row
            // condition, no FiLM site.
            let same = r[0] == first[0] && r[2] == first[2] && r[3] == first[3] && r[8..11] == first[8..11];
            // One contiguous weight block per layer (the split kernel stages it whole).
            let contiguous = r[11].checked_sub(r[4]) == Some(shape.layer1x1_at() as u32);
            if !same
                || !contiguous
                || r[11] == NONE
                || r[12] != NONE
                || r[13] != 1
                || r[16..].iter().step_by(2).any(|&o| o != NONE)
            {
                return None;
            }
        }
        if hs != shape.bottleneck || shape.gate_rows != shape.bottleneck * if shape.gating == 0 { 1 } else { 2 } {
            return None;
        }
        arrays.push(shape);
        at += ARRAY_HEADER + layers * LAYER_RECORD;
    }
    for w in arrays.windows(2) {
        if w[1].input_rows != w[0].channels || w[1].bottleneck != w[0].head_out {
            return None;
        }
    }
    let out = p.get(at..at + OUT_RECORD)?;
    let last = arrays.last()?;
    if out[0] != OP_OUT || out[1] != REGION_HO || out[2] != DEST_OUTPUT || out[3] != 1 || last.head_out != 1 {
        return None;
    }
    if at + OUT_RECORD != p.len() || arrays[0].input_rows != 1 {
        return None;
    }
    let count = arrays.len();
    let mut all = [arrays[0]; MAX_ARRAYS];
    all[..count].copy_from_slice(&arrays);
    Some((all, count))
}
