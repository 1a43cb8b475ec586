//! Compiles a model into the program (u32 plan), weights (f32) and state layout the streams
//! kernel runs — WaveNet with every option the CPU engine has (FiLM, head1x1, condition_dsp,
//! post-stack heads, gating per layer), ConvNet and Linear — or says which feature it cannot.

use super::kernel::*;
use crate::activation::Activation;
use crate::conv::{Conv1D, Conv1x1, Film};
use crate::convnet::ConvNet;
use crate::dsp::{Architecture, Dsp};
use crate::error::{NamError, Result};
use crate::linear::Linear;
use crate::sequential::Sequential;
use crate::wavenet::config::Gating;
use crate::wavenet::WaveNet;

/// One model laid out for the kernel; offsets are relative to the stream's own bases.
#[derive(Debug, Clone, Default)]
pub struct ModelPlan {
    /// The ops, records of u32.
    pub plan: Vec<u32>,
    /// The weights the ops read, in op order.
    pub weights: Vec<f32>,
    /// Floats of history state (rings) the stream needs.
    pub state_len: usize,
    /// Samples of silence that settle the model (the core's prewarm count).
    pub prewarm: usize,
    /// Rows of the largest activation block (channels, gate rows, head rows, condition).
    pub rows: usize,
    /// Needs the kernel's general variant (FiLM, head1x1, a condition of several channels).
    pub general: bool,
}

fn unsupported(architecture: &str, what: impl Into<String>) -> NamError {
    NamError::Unsupported { architecture: format!("{architecture} (GPU engine)"), reason: what.into() }
}

fn ring_size(lookback: usize) -> usize {
    (lookback + MAX_TILE).next_power_of_two()
}

/// One conv of an `OP_CONV`: weights per output row, per input row, per tap; bias per row.
struct ConvSpec<'a> {
    taps: Vec<Vec<f32>>,
    rows_in: usize,
    rows_out: usize,
    dilation: usize,
    bias: Option<Vec<f32>>,
    pre: &'a Activation,
    post: &'a Activation,
}

impl<'a> ConvSpec<'a> {
    /// Per tap, row-major `rows_out × rows_in`.
    fn from_conv(c: &Conv1D, pre: &'a Activation, post: &'a Activation) -> Self {
        let taps =
            c.taps.iter().map(|m| (0..m.rows).flat_map(|o| (0..m.cols).map(move |i| m.at(o, i))).collect()).collect();
        ConvSpec {
            taps,
            rows_in: c.in_channels(),
            rows_out: c.out_channels(),
            dilation: c.dilation,
            bias: c.bias.clone(),
            pre,
            post,
        }
    }
}

static IDENTITY: Activation = Activation::Identity;

struct Builder {
    p: ModelPlan,
    ops: u32,
    arch: &'static str,
}

impl Builder {
    fn rows(&mut self, what: &str, rows: usize) -> Result<()> {
        if rows == 0 || rows > MAX_ROWS {
            return Err(unsupported(self.arch, format!("{what} = {rows} (the GPU engine handles 1..={MAX_ROWS})")));
        }
        self.p.rows = self.p.rows.max(rows);
        Ok(())
    }

    fn ring(&mut self, rows: usize, lookback: usize) -> (u32, u32) {
        let size = ring_size(lookback);
        let at = self.p.state_len;
        self.p.state_len += rows * size;
        (at as u32, size as u32)
    }

    fn at(&self) -> u32 {
        self.p.weights.len() as u32
    }

    fn constant(&mut self, v: f32) -> u32 {
        let at = self.at();
        self.p.weights.push(v);
        at
    }

    /// Runtime code and the offset of its 5 parameters (see `activate_dynamic`).
    fn activation(&mut self, a: &Activation, rows: usize) -> Result<(u32, u32)> {
        use cubeaudio_kernels::activation::{activation_code, ActivationKind as K};
        let (code, params) = match a {
            Activation::Identity => (activation_code(K::Identity), [0.0; 5]),
            Activation::Tanh => (activation_code(K::Tanh), [0.0; 5]),
            Activation::FastTanh => (activation_code(K::FastTanh), [0.0; 5]),
            Activation::Sigmoid => (activation_code(K::Sigmoid), [0.0; 5]),
            Activation::ReLU => (activation_code(K::ReLU), [0.0; 5]),
            Activation::LeakyReLU(s) => (activation_code(K::LeakyReLU), [*s, 0.0, 0.0, 0.0, 0.0]),
            Activation::PReLU(s) if s.len() == 1 || s.iter().all(|v| *v == s[0]) => {
                (activation_code(K::LeakyReLU), [s[0], 0.0, 0.0, 0.0, 0.0])
            }
            Activation::PReLU(s) => {
                if s.len() < rows {
                    return Err(unsupported(self.arch, format!("PReLU with {} slopes for {rows} rows", s.len())));
                }
                let at = self.at();
                self.p.weights.extend_from_slice(s);
                // The kernel reads 5 parameters of other activations at the same offset.
                self.p.weights.extend(std::iter::repeat_n(0.0, 5usize.saturating_sub(s.len())));
                return Ok((super::kernel::PRELU_ROWS, at));
            }
            Activation::Hardtanh => (activation_code(K::Hardtanh), [0.0; 5]),
            Activation::LeakyHardtanh { lo, hi, lo_slope, hi_slope } => {
                (activation_code(K::LeakyHardtanh), [0.0, *lo, *hi, *lo_slope, *hi_slope])
            }
            Activation::Softsign => (activation_code(K::Softsign), [0.0; 5]),
            Activation::SiLU => (activation_code(K::SiLU), [0.0; 5]),
            Activation::Hardswish => (activation_code(K::Hardswish), [0.0; 5]),
        };
        let at = self.at();
        self.p.weights.extend_from_slice(&params);
        Ok((code, at))
    }

    /// `y = W·x + b` laid out row-major, bias (or zeros) after; returns its offset.
    fn matrix(&mut self, m: &Conv1x1) -> u32 {
        let at = self.at();
        let w = &m.weight;
        for r in 0..w.rows {
            for j in 0..w.cols {
                self.p.weights.push(w.at(r, j));
            }
        }
        match &m.bias {
            Some(b) => self.p.weights.extend_from_slice(b),
            None => self.p.weights.extend(std::iter::repeat_n(0.0, w.rows)),
        }
        at
    }

    /// A FiLM site record: (offset, dim | shift << 16), or (NONE, 0).
    fn film(&mut self, f: &Option<Film>) -> [u32; 2] {
        match f {
            None => [NONE, 0],
            Some(f) => {
                self.p.general = true;
                [self.matrix(&f.projection), f.dim as u32 | u32::from(f.shift) << 16]
            }
        }
    }

    fn out(&mut self, src: u32, dst: u32, rows: usize, scale: f32) {
        let s = self.constant(scale);
        self.p.plan.extend_from_slice(&[OP_OUT, src, dst, rows as u32, s]);
        self.ops += 1;
    }

    fn conv(&mut self, src: u32, c: ConvSpec, dst: u32) -> Result<()> {
        self.rows("conv inputs", c.rows_in)?;
        self.rows("conv outputs", c.rows_out)?;
        if src == REGION_IN && c.rows_in != 1 {
            return Err(unsupported(self.arch, "models that are not mono in"));
        }
        let k = c.taps.len();
        let (pre, pre_pa) = self.activation(c.pre, c.rows_in)?;
        let (post, post_pa) = self.activation(c.post, c.rows_out)?;
        let (ring, size) = self.ring(c.rows_in, c.dilation * (k - 1));
        let w = self.at();
        for o in 0..c.rows_out {
            for i in 0..c.rows_in {
                for tap in &c.taps {
                    self.p.weights.push(tap[o * c.rows_in + i]);
                }
            }
        }
        if let Some(b) = &c.bias {
            self.p.weights.extend_from_slice(b);
        }
        self.p.plan.extend_from_slice(&[
            OP_CONV,
            src,
            c.rows_in as u32,
            pre,
            pre_pa,
            ring,
            size,
            k as u32,
            c.dilation as u32,
            w,
            u32::from(c.bias.is_some()),
            dst,
            c.rows_out as u32,
            post,
            post_pa,
            0,
        ]);
        self.ops += 1;
        Ok(())
    }

    /// Emits `dsp` reading the input row and leaving its output in `dest` (the stream's output,
    /// or the COND region for a condition DSP).
    fn dsp(&mut self, dsp: &dyn Dsp, dest: u32) -> Result<()> {
        if dsp.in_channels() != 1 {
            return Err(unsupported(self.arch, "models that are not mono in"));
        }
        if matches!(dest, DEST_OUTPUT | REGION_IN) && dsp.out_channels() != 1 {
            return Err(unsupported(self.arch, "models that are not mono out"));
        }
        if let Some(chain) = dsp.architecture().sequential() {
            self.sequential(chain, dest)
        } else if let Some(w) = dsp.architecture().wavenet() {
            self.wavenet(w, dest)
        } else if let Some(l) = dsp.architecture().linear() {
            self.linear(l, dest)
        } else if let Some(c) = dsp.architecture().convnet() {
            self.convnet(c, dest)
        } else {
            Err(unsupported(
                self.arch,
                "an LSTM (the convolutional kernel runs WaveNet, ConvNet and Linear, alone or chained; LSTMs run alone in their own batch)",
            ))
        }
    }

    /// Each model in turn, all but the last leaving their output in the input row, where the
    /// next one reads it (scaled there by its calibration gain; made finite, as on the CPU).
    fn sequential(&mut self, chain: &Sequential, dest: u32) -> Result<()> {
        let last = chain.models().count() - 1;
        for (i, (model, gain)) in chain.models().zip(chain.gains()).enumerate() {
            if i > 0 && *gain != 1.0 {
                self.out(REGION_IN, REGION_IN, 1, *gain);
            }
            self.dsp(model, if i == last { dest } else { REGION_IN })?;
        }
        Ok(())
    }

    fn linear(&mut self, l: &Linear, dest: u32) -> Result<()> {
        // y[t] = b + Σ_k w[k]·x[t−k]: tap k is the conv's tap N−1−k.
        let taps = l.taps().iter().rev().map(|w| vec![*w]).collect();
        let bias = Some(vec![l.bias()]);
        self.conv(
            REGION_IN,
            ConvSpec { taps, rows_in: 1, rows_out: 1, dilation: 1, bias, pre: &IDENTITY, post: &IDENTITY },
            REGION_HO,
        )?;
        self.out(REGION_HO, dest, l.out_channels(), 1.0);
        Ok(())
    }

    fn convnet(&mut self, net: &ConvNet, dest: u32) -> Result<()> {
        let mut cur = REGION_IN;
        for (conv, batchnorm) in net.blocks() {
            let mut spec = ConvSpec::from_conv(conv, &IDENTITY, net.activation());
            if let Some((scale, loc)) = batchnorm {
                // Inference BatchNorm folds into the conv: (W·x + b)·s + l.
                for tap in &mut spec.taps {
                    for (j, w) in tap.iter_mut().enumerate() {
                        *w *= scale[j / spec.rows_in];
                    }
                }
                spec.bias = Some(
                    (0..spec.rows_out).map(|o| spec.bias.as_ref().map_or(0.0, |b| b[o]) * scale[o] + loc[o]).collect(),
                );
            }
            let next = if cur == REGION_X { REGION_Z } else { REGION_X };
            self.conv(cur, spec, next)?;
            cur = next;
        }
        let head = net.head();
        let taps = vec![(0..head.weight.rows)
            .flat_map(|o| (0..head.weight.cols).map(move |i| head.weight.at(o, i)))
            .collect()];
        let spec = ConvSpec {
            taps,
            rows_in: head.in_channels(),
            rows_out: head.out_channels(),
            dilation: 1,
            bias: head.bias.clone(),
            pre: &IDENTITY,
            post: &IDENTITY,
        };
        self.conv(cur, spec, REGION_HO)?;
        self.out(REGION_HO, dest, head.out_channels(), 1.0);
        Ok(())
    }

    fn wavenet(&mut self, net: &WaveNet, dest: u32) -> Result<()> {
        let (cond, dc) = match &net.condition {
            Some(c) => {
                self.dsp(c.as_ref(), REGION_COND)?;
                self.p.general = true;
                (REGION_COND, c.out_channels())
            }
            None => (REGION_IN, net.in_channels),
        };
        self.rows("condition channels", dc)?;
        self.p.general |= dc > 1;
        for (ai, array) in net.arrays.iter().enumerate() {
            let c = array.channels();
            let hs = array.head_rows();
            let hout = array.head_out();
            self.rows("channels", c)?;
            self.rows("head rows", hs)?;
            self.rows("head outputs", hout)?;
            self.rows("input size", array.input_size())?;
            if ai == 0 && array.input_size() != 1 {
                return Err(unsupported(self.arch, "models that are not mono in"));
            }
            let w_re = self.at();
            for r in 0..c {
                for k in 0..array.input_size() {
                    self.p.weights.push(array.rechannel.weight.at(r, k));
                }
            }
            let head = &array.head_rechannel;
            let w_head = self.at();
            for o in 0..hout {
                for r in 0..hs {
                    for tap in &head.taps {
                        self.p.weights.push(tap.at(o, r));
                    }
                }
            }
            if let Some(bias) = &head.bias {
                self.p.weights.extend_from_slice(bias);
            }
            let (head_ring, head_size) = self.ring(hs, head.lookback());
            self.p.plan.extend_from_slice(&[
                OP_ARRAY,
                if ai == 0 { REGION_IN } else { REGION_X },
                array.input_size() as u32,
                c as u32,
                hs as u32,
                hout as u32,
                head.kernel_size() as u32,
                head.dilation as u32,
                u32::from(head.bias.is_some()),
                array.layers.len() as u32,
                w_re,
                w_head,
                head_ring,
                head_size,
                u32::from(ai > 0),
                cond,
            ]);
            self.ops += 1;
            for l in &array.layers {
                let record_at = self.p.plan.len();
                let (g, b) = (l.gate_rows(), l.bottleneck);
                self.rows("gate rows", g)?;
                self.rows("bottleneck", b)?;
                if l.condition != dc {
                    return Err(unsupported(
                        self.arch,
                        format!("a layer conditioned on {} channels of a {dc}-channel condition", l.condition),
                    ));
                }
                if l.head1x1.is_none() && hs != b {
                    return Err(unsupported(self.arch, "a head accumulator wider than the bottleneck without head1x1"));
                }
                let k = l.conv.kernel_size();
                let w = self.at();
                for o in 0..g {
                    for ci in 0..c {
                        for tap in &l.conv.taps {
                            self.p.weights.push(tap.at(o, ci));
                        }
                    }
                }
                let bias = l.conv.bias.as_deref().ok_or_else(|| unsupported(self.arch, "a layer conv without bias"))?;
                self.p.weights.extend_from_slice(bias);
                for o in 0..g {
                    for j in 0..dc {
                        self.p.weights.push(l.mixin.weight.at(o, j));
                    }
                }
                let l1x1 = l.layer1x1.as_ref().map_or(NONE, |m| self.matrix(m));
                let h1x1 = match &l.head1x1 {
                    Some(m) => {
                        self.p.general = true;
                        self.matrix(m)
                    }
                    None => NONE,
                };
                let (code, pa) = self.activation(&l.activation, b)?;
                let (sec, pa_sec) = self.activation(&l.secondary, b)?;
                let (ring, size) = self.ring(c, l.conv.lookback());
                let gating = match l.gating {
                    Gating::None => 0,
                    Gating::Gated => 1,
                    Gating::Blended => 2,
                };
                self.p.plan.extend_from_slice(&[
                    k as u32,
                    l.conv.dilation as u32,
                    code,
                    sec,
                    w,
                    ring,
                    size,
                    pa,
                    g as u32,
                    b as u32,
                    gating,
                    l1x1,
                    h1x1,
                    dc as u32,
                    pa_sec,
                    0,
                ]);
                let f = &l.films;
                for site in [
                    &f.conv_pre,
                    &f.conv_post,
                    &f.mixin_pre,
                    &f.mixin_post,
                    &f.activation_pre,
                    &f.activation_post,
                    &f.layer1x1_post,
                    &f.head1x1_post,
                ] {
                    let rec = self.film(site);
                    self.p.plan.extend_from_slice(&rec);
                }
                debug_assert_eq!(self.p.plan.len() - record_at, LAYER_RECORD);
            }
        }
        let last_out = net.arrays.last().map_or(1, |a| a.head_out());
        match &net.post_head {
            None => self.out(REGION_HO, dest, last_out, net.head_scale),
            Some(h) => {
                // y = head_scale · head; then per block y = conv(act(y)).
                self.out(REGION_HO, REGION_Z, last_out, net.head_scale);
                let mut cur = REGION_Z;
                for blk in &h.blocks {
                    let spec = ConvSpec::from_conv(blk, &h.activation, &IDENTITY);
                    let next = if cur == REGION_Z { REGION_X } else { REGION_Z };
                    self.conv(cur, spec, next)?;
                    cur = next;
                }
                self.out(cur, dest, h.blocks.last().map_or(1, Conv1D::out_channels), 1.0);
            }
        }
        Ok(())
    }
}

impl ModelPlan {
    /// The program of `dsp` (WaveNet, ConvNet or Linear, mono in and out; a container's active
    /// submodel).
    pub fn build(dsp: &dyn Dsp) -> Result<Self> {
        let arch = match dsp.architecture() {
            Architecture::WaveNet(_) => "WaveNet",
            Architecture::ConvNet(_) => "ConvNet",
            Architecture::Linear(_) => "Linear",
            Architecture::Lstm(_) => "LSTM",
            Architecture::Sequential(_) => "Sequential",
        };
        let mut b = Builder {
            p: ModelPlan { prewarm: dsp.prewarm_samples(), plan: vec![0], ..Default::default() },
            ops: 0,
            arch,
        };
        b.dsp(dsp, DEST_OUTPUT)?;
        b.p.plan[0] = b.ops;
        Ok(b.p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{load_str, LoadOptions};

    fn linear(taps: &[f32], bias: bool) -> Box<dyn Dsp> {
        let mut weights = taps.to_vec();
        if bias {
            weights.push(0.25);
        }
        let text = format!(
            r#"{{"version": "0.5.4", "architecture": "Linear", "config": {{"receptive_field": {}, "bias": {bias}}}, "weights": {weights:?}}}"#,
            taps.len()
        );
        load_str(&text, LoadOptions::default()).unwrap().dsp
    }

    /// A Linear model is one `OP_CONV` from the input row into HO and one `OP_OUT` to the
    /// stream's output: the records the kernel reads, field by field.
    #[test]
    fn linear_encodes_one_conv_and_one_output() {
        let p = ModelPlan::build(linear(&[0.5, -1.0, 2.0], true).as_ref()).unwrap();
        assert_eq!(p.plan[0], 2, "op count");
        let conv = &p.plan[1..1 + CONV_RECORD];
        assert_eq!(conv[0], OP_CONV);
        assert_eq!((conv[1], conv[2]), (REGION_IN, 1), "source region and rows");
        assert_eq!((conv[7], conv[8]), (3, 1), "taps and dilation");
        let out = &p.plan[1 + CONV_RECORD..1 + CONV_RECORD + OUT_RECORD];
        assert_eq!(out[0], OP_OUT);
        assert_eq!(p.plan.len(), 1 + CONV_RECORD + OUT_RECORD);
        let (w, has_bias) = (conv[9] as usize, conv[10]);
        assert_eq!(has_bias, 1);
        assert_eq!(p.weights[w + 3], 0.25, "the bias follows the taps");
        let mut taps = p.weights[w..w + 3].to_vec();
        taps.sort_by(f32::total_cmp);
        assert_eq!(taps, vec![-1.0, 0.5, 2.0], "every tap once");
        assert!(!p.general);
    }

    #[test]
    fn a_longer_fir_has_a_larger_ring() {
        let short = ModelPlan::build(linear(&[1.0; 4], false).as_ref()).unwrap();
        let long = ModelPlan::build(linear(&[1.0; 3000], false).as_ref()).unwrap();
        assert!(long.state_len > short.state_len);
        assert_eq!(long.plan[1 + 7], 3000, "taps of the conv record");
        assert!(long.weights.len() >= 3000);
    }
}
