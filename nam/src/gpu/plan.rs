//! Flattens a [`WaveNet`] into the plan (u32), weights (f32) and state layout the streams kernel
//! reads, or says which feature the GPU engine does not run yet.

use super::kernel::{ARRAY_HEADER, LAYER_RECORD, MAX_ROWS, MAX_TILE};
use crate::activation::Activation;
use crate::error::{NamError, Result};
use crate::wavenet::config::Gating;
use crate::wavenet::WaveNet;

/// One model laid out for the kernel; offsets are relative to the stream's own bases.
#[derive(Debug, Clone, Default)]
pub struct ModelPlan {
    pub plan: Vec<u32>,
    pub weights: Vec<f32>,
    /// Floats of history state (rings) the stream needs.
    pub state_len: usize,
    /// Samples of silence that settle the model (the core's prewarm count).
    pub prewarm: usize,
    /// Rows of the largest activation block (channels, gate rows, head rows, input size).
    pub rows: usize,
}

fn unsupported(what: impl Into<String>) -> NamError {
    NamError::Unsupported { architecture: "WaveNet (GPU engine)".into(), reason: what.into() }
}

/// Runtime code and 5 parameters of an activation (see `activate_dynamic`).
fn activation(a: &Activation, rows: usize) -> Result<(u32, [f32; 5])> {
    use cubeaudio_kernels::activation::{activation_code, ActivationKind as K};
    Ok(match a {
        Activation::Identity => (activation_code(K::Identity), [0.0; 5]),
        Activation::Tanh => (activation_code(K::Tanh), [0.0; 5]),
        Activation::FastTanh => (activation_code(K::FastTanh), [0.0; 5]),
        Activation::Sigmoid => (activation_code(K::Sigmoid), [0.0; 5]),
        Activation::ReLU => (activation_code(K::ReLU), [0.0; 5]),
        Activation::LeakyReLU(s) => (activation_code(K::LeakyReLU), [*s, 0.0, 0.0, 0.0, 0.0]),
        Activation::PReLU(s) if s.len() == 1 || s.iter().all(|v| *v == s[0]) => (activation_code(K::LeakyReLU), [s[0], 0.0, 0.0, 0.0, 0.0]),
        Activation::PReLU(_) => return Err(unsupported(format!("per-channel PReLU slopes ({rows} channels)"))),
        Activation::Hardtanh => (activation_code(K::Hardtanh), [0.0; 5]),
        Activation::LeakyHardtanh { lo, hi, lo_slope, hi_slope } => (activation_code(K::LeakyHardtanh), [0.0, *lo, *hi, *lo_slope, *hi_slope]),
        Activation::Softsign => (activation_code(K::Softsign), [0.0; 5]),
        Activation::SiLU => (activation_code(K::SiLU), [0.0; 5]),
        Activation::Hardswish => (activation_code(K::Hardswish), [0.0; 5]),
    })
}

fn ring_size(lookback: usize) -> usize {
    (lookback + MAX_TILE).next_power_of_two()
}

fn rows_ok(what: &str, rows: usize) -> Result<()> {
    if rows == 0 || rows > MAX_ROWS {
        return Err(unsupported(format!("{what} = {rows} (the GPU engine handles 1..={MAX_ROWS})")));
    }
    Ok(())
}

impl ModelPlan {
    pub fn build(net: &WaveNet) -> Result<Self> {
        use crate::dsp::Dsp;
        if net.condition.is_some() {
            return Err(unsupported("condition_dsp"));
        }
        if net.post_head.is_some() {
            return Err(unsupported("post-stack head"));
        }
        if net.in_channels != 1 || net.out_channels() != 1 {
            return Err(unsupported("models that are not mono in/out"));
        }
        let mut p = ModelPlan { prewarm: net.prewarm_samples(), ..Default::default() };
        let mut state = 0usize;
        p.plan.push(net.arrays.len() as u32);
        p.plan.push(0); // head_scale offset, patched below
        for array in &net.arrays {
            let c = array.channels();
            let hs = array.head_rows();
            let hout = array.head_out();
            let first = array.layers.first().ok_or_else(|| unsupported("a layer array without layers"))?;
            let (g, b, gating) = (first.gate_rows(), first.bottleneck, first.gating);
            rows_ok("channels", c)?;
            rows_ok("gate rows", g)?;
            rows_ok("head rows", hs)?;
            rows_ok("head outputs", hout)?;
            rows_ok("input size", array.input_size())?;
            p.rows = p.rows.max(c).max(g).max(hs).max(hout).max(array.input_size());
            let l1x1 = first.layer1x1.is_some();
            for l in &array.layers {
                let f = &l.films;
                if f.conv_pre.is_some() || f.conv_post.is_some() || f.mixin_pre.is_some() || f.mixin_post.is_some() || f.activation_pre.is_some() || f.activation_post.is_some() || f.layer1x1_post.is_some() || f.head1x1_post.is_some() {
                    return Err(unsupported("FiLM"));
                }
                if l.head1x1.is_some() {
                    return Err(unsupported("head1x1"));
                }
                if l.condition != 1 {
                    return Err(unsupported("a condition of more than one channel"));
                }
                if l.gating != gating || l.gate_rows() != g || l.bottleneck != b || l.layer1x1.is_some() != l1x1 {
                    return Err(unsupported("gating, bottleneck or layer1x1 that changes between layers of an array"));
                }
            }
            if hs != b {
                return Err(unsupported("a head accumulator wider than the bottleneck"));
            }
            let header_at = p.plan.len();
            let w_re = p.weights.len();
            for r in 0..c {
                for k in 0..array.input_size() {
                    p.weights.push(array.rechannel.weight.at(r, k));
                }
            }
            let head = &array.head_rechannel;
            let w_head = p.weights.len();
            for o in 0..hout {
                for r in 0..hs {
                    for tap in &head.taps {
                        p.weights.push(tap.at(o, r));
                    }
                }
            }
            if let Some(bias) = &head.bias {
                p.weights.extend_from_slice(bias);
            }
            let head_size = ring_size(head.lookback());
            let head_ring = state;
            state += hs * head_size;
            p.plan.extend_from_slice(&[
                array.input_size() as u32,
                c as u32,
                g as u32,
                b as u32,
                match gating {
                    Gating::None => 0,
                    Gating::Gated => 1,
                    Gating::Blended => 2,
                },
                hs as u32,
                hout as u32,
                head.kernel_size() as u32,
                head.dilation as u32,
                u32::from(head.bias.is_some()),
                array.layers.len() as u32,
                w_re as u32,
                w_head as u32,
                head_ring as u32,
                head_size as u32,
                u32::from(l1x1),
            ]);
            debug_assert_eq!(p.plan.len() - header_at, ARRAY_HEADER);
            for l in &array.layers {
                let k = l.conv.kernel_size();
                let w = p.weights.len();
                for o in 0..g {
                    for ci in 0..c {
                        for tap in &l.conv.taps {
                            p.weights.push(tap.at(o, ci));
                        }
                    }
                }
                p.weights.extend_from_slice(l.conv.bias.as_deref().ok_or_else(|| unsupported("a layer conv without bias"))?);
                for o in 0..g {
                    p.weights.push(l.mixin.weight.at(o, 0));
                }
                if let Some(l1) = &l.layer1x1 {
                    for r in 0..c {
                        for j in 0..b {
                            p.weights.push(l1.weight.at(r, j));
                        }
                    }
                    p.weights.extend_from_slice(l1.bias.as_deref().unwrap_or(&vec![0.0; c]));
                }
                let (code, params) = activation(&l.activation, b)?;
                let (sec, sec_params) = activation(&l.secondary, b)?;
                let pa = p.weights.len();
                p.weights.extend_from_slice(&params);
                p.weights.extend_from_slice(&sec_params);
                let size = ring_size(l.conv.lookback());
                p.plan.extend_from_slice(&[k as u32, l.conv.dilation as u32, code, sec, w as u32, state as u32, size as u32, pa as u32]);
                state += c * size;
            }
            debug_assert_eq!((p.plan.len() - header_at - ARRAY_HEADER) % LAYER_RECORD, 0);
        }
        p.plan[1] = p.weights.len() as u32;
        p.weights.push(net.head_scale);
        p.state_len = state;
        Ok(p)
    }
}
