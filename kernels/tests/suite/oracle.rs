//! Independent oracles: Burn's CPU backend (burn-flex) for convolutions, plain f64 loops for the rest.

use burn_flex::{Flex, FlexDevice};
use burn_tensor::ops::ConvOptions;
use burn_tensor::{Tensor, TensorData};

type B = Flex;

/// Causal dilated conv of a whole `in_ch × frames` signal (zero history), via Burn's conv1d with
/// the lookback supplied as explicit left zero padding.
#[allow(clippy::too_many_arguments)]
pub fn burn_causal_conv1d(
    x: &[f32],
    in_ch: usize,
    frames: usize,
    w: &[f32],
    out_ch: usize,
    kernel: usize,
    dilation: usize,
    bias: Option<&[f32]>,
) -> Vec<f32> {
    let device = FlexDevice;
    let pad = dilation * (kernel - 1);
    let mut padded = vec![0.0f32; in_ch * (frames + pad)];
    for c in 0..in_ch {
        padded[c * (frames + pad) + pad..(c + 1) * (frames + pad)].copy_from_slice(&x[c * frames..(c + 1) * frames]);
    }
    let xt = Tensor::<B, 3>::from_data(TensorData::new(padded, [1, in_ch, frames + pad]), &device);
    let wt = Tensor::<B, 3>::from_data(TensorData::new(w.to_vec(), [out_ch, in_ch, kernel]), &device);
    let bt = bias.map(|b| Tensor::<B, 1>::from_data(TensorData::new(b.to_vec(), [out_ch]), &device));
    let y = burn_tensor::module::conv1d(xt, wt, bt, ConvOptions::new([1], [0], [dilation], 1));
    y.into_data().into_vec::<f32>().expect("f32 output")
}

/// Pointwise conv (`W[M×K]·x[K×N] + b`) through Burn's matmul.
pub fn burn_conv1x1(x: &[f32], k: usize, frames: usize, w: &[f32], m: usize, bias: Option<&[f32]>) -> Vec<f32> {
    let device = FlexDevice;
    let xt = Tensor::<B, 2>::from_data(TensorData::new(x.to_vec(), [k, frames]), &device);
    let wt = Tensor::<B, 2>::from_data(TensorData::new(w.to_vec(), [m, k]), &device);
    let mut y = wt.matmul(xt);
    if let Some(b) = bias {
        let bt = Tensor::<B, 2>::from_data(TensorData::new(b.to_vec(), [m, 1]), &device);
        y = y + bt;
    }
    y.into_data().into_vec::<f32>().expect("f32 output")
}

/// f64 reference of the same causal dilated conv, written from the definition.
#[allow(clippy::too_many_arguments)]
pub fn causal_conv1d_f64(
    x: &[f32],
    in_ch: usize,
    frames: usize,
    w: &[f32],
    out_ch: usize,
    kernel: usize,
    dilation: usize,
    bias: Option<&[f32]>,
) -> Vec<f64> {
    let mut y = vec![0.0f64; out_ch * frames];
    for o in 0..out_ch {
        for t in 0..frames {
            let mut acc = bias.map_or(0.0, |b| b[o] as f64);
            for i in 0..in_ch {
                for k in 0..kernel {
                    let back = dilation * (kernel - 1 - k);
                    if t >= back {
                        acc += w[(o * in_ch + i) * kernel + k] as f64 * x[i * frames + t - back] as f64;
                    }
                }
            }
            y[o * frames + t] = acc;
        }
    }
    y
}
