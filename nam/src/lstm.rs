//! LSTM (SPEC §5): PyTorch gate order, state kept across resets like the core.

use serde_json::{Map, Value};

use crate::activation::{fast_sigmoid, fast_tanh, sigmoid};
use crate::dsp::Dsp;
use crate::error::{NamError, Result};
use crate::json::*;
use crate::weights::{Matrix, WeightReader};

#[derive(Debug, Clone)]
struct Cell {
    /// `4H × (I + H)`.
    weights: Matrix,
    bias: Vec<f32>,
    h0: Vec<f32>,
    c0: Vec<f32>,
    h: Vec<f32>,
    c: Vec<f32>,
    /// `[input ; h]` and the gate pre-activations, per sample.
    xh: Vec<f32>,
    gates: Vec<f32>,
}

/// LSTM (SPEC §5): stacked cells and a linear head, state carried across blocks.
#[derive(Debug, Clone)]
pub struct Lstm {
    cells: Vec<Cell>,
    head: Matrix,
    head_bias: Vec<f32>,
    hidden: usize,
    input_size: usize,
    fast_tanh: bool,
    prewarm: usize,
    /// One input and one output sample (planar blocks are read column by column).
    sample_in: Vec<f32>,
    sample_out: Vec<f32>,
}

impl Lstm {
    /// Parses `config`, consuming `weights` exactly.
    pub fn parse(
        config: &Map<String, Value>,
        weights: &[f32],
        sample_rate: Option<f64>,
        fast_tanh: bool,
    ) -> Result<Self> {
        let layers = positive(config, "num_layers", MAX_LAYERS)?;
        let input_size = positive(config, "input_size", MAX_CHANNELS)?;
        let hidden = positive(config, "hidden_size", MAX_CHANNELS)?;
        let in_channels = opt_usize(config, "in_channels", 1, MAX_CHANNELS)?.max(1);
        let out = opt_usize(config, "out_channels", 1, MAX_CHANNELS)?.max(1);
        if input_size != in_channels {
            return Err(NamError::config(format!("LSTM input_size {input_size} must equal in_channels {in_channels}")));
        }
        let mut r = WeightReader::new(weights);
        let mut cells = Vec::new();
        for l in 0..layers {
            let i = if l == 0 { input_size } else { hidden };
            let cols = i + hidden;
            let w = r.take(4 * hidden * cols)?;
            let weights = Matrix::from_row_major(4 * hidden, cols, w);
            let bias = r.take(4 * hidden)?.to_vec();
            let h0 = r.take(hidden)?.to_vec();
            let c0 = r.take(hidden)?.to_vec();
            cells.push(Cell {
                weights,
                bias,
                h: h0.clone(),
                c: c0.clone(),
                h0,
                c0,
                xh: vec![0.0; cols],
                gates: vec![0.0; 4 * hidden],
            });
        }
        let head = Matrix::from_row_major(out, hidden, r.take(out * hidden)?);
        let head_bias = r.take(out)?.to_vec();
        r.finish()?;
        let prewarm = match sample_rate {
            Some(sr) if sr > 0.0 => ((0.5 * sr).floor() as usize).max(1),
            _ => 1,
        };
        Ok(Self {
            cells,
            head,
            head_bias,
            hidden,
            input_size,
            fast_tanh,
            prewarm,
            sample_in: vec![0.0; input_size],
            sample_out: vec![0.0; out],
        })
    }

    fn step(&mut self, input: &[f32], out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if crate::simd::fused() {
            // SAFETY: `fused()` is true only where the CPU has AVX2 and FMA.
            unsafe { self.step_fused(input, out) };
            return;
        }
        self.step_path::<false>(input, out);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn step_fused(&mut self, input: &[f32], out: &mut [f32]) {
        self.step_path::<true>(input, out);
    }

    #[inline(always)]
    fn step_path<const FUSED: bool>(&mut self, input: &[f32], out: &mut [f32]) {
        if self.fast_tanh {
            self.step_with::<FUSED, FastGates>(input, out);
        } else {
            self.step_with::<FUSED, ExactGates>(input, out);
        }
    }

    /// One sample through every cell. The gate activations run as whole-array passes (sigmoid
    /// over the i and f gates, tanh over g, sigmoid over o, then the state update), not gate by
    /// gate within one loop: branch-free passes over contiguous rows vectorise, which a loop
    /// mixing four gates and five activations per element did not (the activations, divisions
    /// included, cost more than the mat-vec). Each element's arithmetic is unchanged.
    #[inline(always)]
    fn step_with<const FUSED: bool, G: Gates>(&mut self, input: &[f32], out: &mut [f32]) {
        let (sig, tanh) = (G::sigmoid, G::tanh);
        let hdim = self.hidden;
        let n = self.cells.len();
        for l in 0..n {
            let (prev, rest) = self.cells.split_at_mut(l);
            let cell = &mut rest[0];
            let i = cell.weights.cols - hdim;
            match prev.last() {
                None => cell.xh[..i].copy_from_slice(&input[..i]),
                Some(p) => cell.xh[..i].copy_from_slice(&p.h),
            }
            cell.xh[i..].copy_from_slice(&cell.h);
            cell.gates.copy_from_slice(&cell.bias);
            cell.weights.mul_acc::<FUSED>(&cell.xh, &mut cell.gates);
            let (ifg, o) = cell.gates.split_at_mut(3 * hdim);
            let (if_, g) = ifg.split_at_mut(2 * hdim);
            if_.iter_mut().for_each(|v| *v = sig(*v));
            g.iter_mut().for_each(|v| *v = tanh(*v));
            o.iter_mut().for_each(|v| *v = sig(*v));
            let (gi, gf) = if_.split_at(hdim);
            for (((c, gi), gf), gg) in cell.c.iter_mut().zip(gi).zip(gf).zip(g.iter()) {
                *c = gf * *c + gi * gg;
            }
            for ((h, c), go) in cell.h.iter_mut().zip(&cell.c).zip(o.iter()) {
                *h = go * tanh(*c);
            }
        }
        out.copy_from_slice(&self.head_bias);
        self.head.mul_acc::<FUSED>(&self.cells[n - 1].h, out);
    }
}

/// The gate activations, as types: each call is dispatched statically and inlined into the
/// passes over the gates.
trait Gates {
    fn sigmoid(x: f32) -> f32;
    fn tanh(x: f32) -> f32;
}

/// NAM's fast tanh and the sigmoid built on it (what the plugin runs).
struct FastGates;

impl Gates for FastGates {
    #[inline(always)]
    fn sigmoid(x: f32) -> f32 {
        fast_sigmoid(x)
    }
    #[inline(always)]
    fn tanh(x: f32) -> f32 {
        fast_tanh(x)
    }
}

/// std's tanh and the exact sigmoid.
struct ExactGates;

impl Gates for ExactGates {
    #[inline(always)]
    fn sigmoid(x: f32) -> f32 {
        sigmoid(x)
    }
    #[inline(always)]
    fn tanh(x: f32) -> f32 {
        x.tanh()
    }
}

/// One layer as the GPU engine lays it out: weights row-major `4H × (I + H)`, then bias.
#[derive(Debug, Clone)]
pub struct LstmLayerWeights {
    /// Inputs of the layer (the model's input, or the previous layer's hidden state).
    pub inputs: usize,
    /// Row-major `4H × (I + H)` weights, then the `4H` bias.
    pub weights_and_bias: Vec<f32>,
    /// Initial hidden state.
    pub h0: Vec<f32>,
    /// Initial cell state.
    pub c0: Vec<f32>,
}

impl Lstm {
    /// Hidden size of every layer.
    pub fn hidden(&self) -> usize {
        self.hidden
    }

    /// Whether the cells use NAM's fast tanh.
    pub fn fast_tanh(&self) -> bool {
        self.fast_tanh
    }

    /// Every layer laid out for the GPU engine.
    pub fn layers_for_gpu(&self) -> Vec<LstmLayerWeights> {
        self.cells
            .iter()
            .map(|c| {
                let mut w = Vec::with_capacity(c.weights.rows * c.weights.cols + c.bias.len());
                for r in 0..c.weights.rows {
                    for k in 0..c.weights.cols {
                        w.push(c.weights.at(r, k));
                    }
                }
                w.extend_from_slice(&c.bias);
                LstmLayerWeights {
                    inputs: c.weights.cols - self.hidden,
                    weights_and_bias: w,
                    h0: c.h0.clone(),
                    c0: c.c0.clone(),
                }
            })
            .collect()
    }

    /// Head weights (`out × H`, row-major) then bias.
    pub fn head_for_gpu(&self) -> (usize, Vec<f32>) {
        let mut w = Vec::new();
        for r in 0..self.head.rows {
            for k in 0..self.head.cols {
                w.push(self.head.at(r, k));
            }
        }
        w.extend_from_slice(&self.head_bias);
        (self.head.rows, w)
    }
}

impl Dsp for Lstm {
    fn architecture(&self) -> crate::dsp::Architecture<'_> {
        crate::dsp::Architecture::Lstm(self)
    }
    fn boxed_clone(&self) -> Box<dyn Dsp> {
        Box::new(self.clone())
    }
    fn in_channels(&self) -> usize {
        self.input_size
    }
    fn out_channels(&self) -> usize {
        self.head.rows
    }
    fn prewarm_samples(&self) -> usize {
        self.prewarm
    }
    fn receptive_field(&self) -> Option<usize> {
        None
    }
    fn prepare(&mut self, _max_buffer: usize) {
        // The core keeps (h, c) across Reset (SPEC §3.2): nothing to do.
    }
    fn clear_state(&mut self) {
        for c in &mut self.cells {
            c.h.copy_from_slice(&c.h0);
            c.c.copy_from_slice(&c.c0);
        }
    }
    fn process_block(&mut self, input: &[f32], output: &mut [f32], frames: usize) {
        let (i, o) = (self.input_size, self.head.rows);
        let (mut x, mut y) = (std::mem::take(&mut self.sample_in), std::mem::take(&mut self.sample_out));
        for t in 0..frames {
            for c in 0..i {
                x[c] = input[c * frames + t];
            }
            self.step(&x, &mut y);
            for c in 0..o {
                output[c * frames + t] = y[c];
            }
        }
        (self.sample_in, self.sample_out) = (x, y);
    }
    fn state_floats(&self, _max_buffer: usize) -> usize {
        // (h, c) and their initial values per cell; blocks are read column by column.
        4 * self.hidden * self.cells.len() + 2
    }
    fn flops_per_sample(&self) -> usize {
        let h = self.hidden;
        self.cells.iter().map(|c| 8 * h * (c.weights.cols - h) + 8 * h * h + 8 * h).sum::<usize>()
            + 2 * self.head.rows * h
            + self.head.rows
    }
}
