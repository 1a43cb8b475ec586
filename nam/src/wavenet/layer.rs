//! One WaveNet layer (SPEC §4.2): dilated conv + input mixin, FiLM sites, gating, residual
//! 1×1 and head 1×1.

use super::config::{Gating, LayerArrayConfig};
use crate::activation::Activation;
use crate::conv::{Conv1D, Conv1x1, Film};
use crate::error::Result;
use crate::weights::WeightReader;

/// FiLM sites, named as in the file.
#[derive(Debug, Clone, Default)]
pub struct Films {
    /// Before the layer conv, on its input.
    pub conv_pre: Option<Film>,
    /// After the layer conv.
    pub conv_post: Option<Film>,
    /// Before the input mixin, on the condition.
    pub mixin_pre: Option<Film>,
    /// After the input mixin.
    pub mixin_post: Option<Film>,
    /// Before the activation.
    pub activation_pre: Option<Film>,
    /// After the activation.
    pub activation_post: Option<Film>,
    /// After the layer1x1.
    pub layer1x1_post: Option<Film>,
    /// After the head1x1.
    pub head1x1_post: Option<Film>,
}

/// Work buffers shared by every layer of an array (planar, sized at prepare).
#[derive(Debug, Clone, Default)]
pub struct Scratch {
    /// The layer input, FiLM-modulated.
    pub u: Vec<f32>,
    /// Layer conv output.
    pub zc: Vec<f32>,
    /// Input mixin output.
    pub zm: Vec<f32>,
    /// The condition, FiLM-modulated.
    pub m: Vec<f32>,
    /// Activation output (B rows).
    pub a: Vec<f32>,
    /// Layer1x1 output (the residual).
    pub r: Vec<f32>,
    /// Head1x1 output.
    pub h: Vec<f32>,
    /// A FiLM projection's output.
    pub film: Vec<f32>,
}

/// One WaveNet layer (SPEC §4.3): dilated conv plus mixin, activation or gating, residual and head outputs.
#[derive(Debug, Clone)]
pub struct Layer {
    /// The dilated conv over the layer input.
    pub conv: Conv1D,
    /// The condition's contribution to the conv output.
    pub mixin: Conv1x1,
    /// The residual projection, when present.
    pub layer1x1: Option<Conv1x1>,
    /// The head projection, when present.
    pub head1x1: Option<Conv1x1>,
    /// FiLM modulations, per site.
    pub films: Films,
    /// Primary activation.
    pub activation: Activation,
    /// Secondary activation of gated and blended layers.
    pub secondary: Activation,
    /// Gating mode.
    pub gating: Gating,
    /// Residual channels C.
    pub channels: usize,
    /// Bottleneck B.
    pub bottleneck: usize,
    /// Condition channels.
    pub condition: usize,
}

impl Layer {
    /// Reads layer `l` of the array `cfg` describes.
    pub fn read(r: &mut WeightReader, cfg: &LayerArrayConfig, l: usize, fast_tanh: bool) -> Result<Self> {
        let (c, b, dc) = (cfg.channels, cfg.bottleneck, cfg.condition_size);
        let gating = cfg.gating[l];
        let g = if gating == Gating::None { b } else { 2 * b };
        let hs = cfg.head_rows();
        let conv = Conv1D::read(r, c, g, cfg.kernel_sizes[l], cfg.dilations[l], cfg.groups_input, true)?;
        let mixin = Conv1x1::read(r, dc, g, cfg.groups_input_mixin, false)?;
        let layer1x1 = cfg.layer1x1.map(|groups| Conv1x1::read(r, b, c, groups, true)).transpose()?;
        let head1x1 = cfg.head1x1.map(|(out, groups)| Conv1x1::read(r, b, out, groups, true)).transpose()?;
        let f = &cfg.films;
        let mut read_film =
            |i: usize, dim: usize| f[i].map(|fc| Film::read(r, dc, dim, fc.shift, fc.groups)).transpose();
        let films = Films {
            conv_pre: read_film(0, c)?,
            conv_post: read_film(1, g)?,
            mixin_pre: read_film(2, dc)?,
            mixin_post: read_film(3, g)?,
            activation_pre: read_film(4, g)?,
            activation_post: read_film(5, b)?,
            layer1x1_post: read_film(6, c)?,
            head1x1_post: read_film(7, hs)?,
        };
        let activation = Activation::parse(&cfg.activations[l], fast_tanh)?;
        activation.check_rows(b)?;
        let secondary = match (&cfg.secondary[l], gating) {
            (_, Gating::None) => Activation::Identity,
            (None, _) => Activation::Sigmoid,
            (Some(v), _) => Activation::parse(v, fast_tanh)?,
        };
        secondary.check_rows(b)?;
        Ok(Self {
            conv,
            mixin,
            layer1x1,
            head1x1,
            films,
            activation,
            secondary,
            gating,
            channels: c,
            bottleneck: b,
            condition: dc,
        })
    }

    /// Rows of the conv output (2B when gated or blended).
    pub fn gate_rows(&self) -> usize {
        if self.gating == Gating::None {
            self.bottleneck
        } else {
            2 * self.bottleneck
        }
    }

    /// Rows the layer adds to the head.
    pub fn head_rows(&self) -> usize {
        self.head1x1.as_ref().map_or(self.bottleneck, Conv1x1::out_channels)
    }

    /// A slimmed copy: `channels` C', bottleneck B' (SPEC §9.2); head rows and condition keep
    /// their size.
    pub fn slice(&self, c: usize, b: usize) -> Self {
        let g = if self.gating == Gating::None { b } else { 2 * b };
        let hs = if self.head1x1.is_some() { self.head_rows() } else { b };
        let dc = self.condition;
        let f = &self.films;
        Self {
            conv: self.conv.slice(g, c),
            mixin: self.mixin.slice(g, dc),
            layer1x1: self.layer1x1.as_ref().map(|m| m.slice(c, b)),
            head1x1: self.head1x1.as_ref().map(|m| m.slice(m.out_channels(), b)),
            films: Films {
                conv_pre: f.conv_pre.as_ref().map(|x| x.slice(c)),
                conv_post: f.conv_post.as_ref().map(|x| x.slice(g)),
                mixin_pre: f.mixin_pre.clone(),
                mixin_post: f.mixin_post.as_ref().map(|x| x.slice(g)),
                activation_pre: f.activation_pre.as_ref().map(|x| x.slice(g)),
                activation_post: f.activation_post.as_ref().map(|x| x.slice(b)),
                layer1x1_post: f.layer1x1_post.as_ref().map(|x| x.slice(c)),
                head1x1_post: f.head1x1_post.as_ref().map(|x| x.slice(hs)),
            },
            activation: self.activation.clone(),
            secondary: self.secondary.clone(),
            gating: self.gating,
            channels: c,
            bottleneck: b,
            condition: dc,
        }
    }

    /// Largest row count any FiLM projection of this layer produces.
    pub fn film_rows(&self) -> usize {
        let f = &self.films;
        [
            &f.conv_pre,
            &f.conv_post,
            &f.mixin_pre,
            &f.mixin_post,
            &f.activation_pre,
            &f.activation_post,
            &f.layer1x1_post,
            &f.head1x1_post,
        ]
        .iter()
        .filter_map(|x| x.as_ref().map(|f| f.projection.out_channels()))
        .max()
        .unwrap_or(0)
    }

    /// Sizes buffers for blocks of up to `max_frames`.
    pub fn prepare(&mut self, max_frames: usize) {
        self.conv.prepare(max_frames);
    }

    /// Zeroes the conv history.
    pub fn clear(&mut self) {
        self.conv.clear();
    }

    /// `x` (C rows) is updated in place to the layer output; `h` (head rows) is added to
    /// `head_acc`.
    pub fn process(&mut self, x: &mut [f32], cond: &[f32], head_acc: &mut [f32], s: &mut Scratch, frames: usize) {
        let (c, b, dc, g) = (self.channels, self.bottleneck, self.condition, self.gate_rows());
        let f = &self.films;
        let u = &mut s.u[..frames * c];
        u.copy_from_slice(&x[..frames * c]);
        if let Some(film) = &f.conv_pre {
            film.apply(u, cond, &mut s.film, frames);
        }
        let zc = &mut s.zc[..frames * g];
        self.conv.process(u, zc, frames);
        if let Some(film) = &f.conv_post {
            film.apply(zc, cond, &mut s.film, frames);
        }
        let mixin_input: &[f32] = if let Some(film) = &f.mixin_pre {
            let m = &mut s.m[..frames * dc];
            m.copy_from_slice(&cond[..frames * dc]);
            film.apply(m, cond, &mut s.film, frames);
            m
        } else {
            cond
        };
        let zm = &mut s.zm[..frames * g];
        self.mixin.process(mixin_input, zm, frames);
        if let Some(film) = &f.mixin_post {
            film.apply(zm, cond, &mut s.film, frames);
        }
        for (z, m) in zc.iter_mut().zip(zm.iter()) {
            *z += m;
        }
        if let Some(film) = &f.activation_pre {
            film.apply(zc, cond, &mut s.film, frames);
        }
        // Planar z: rows [0, B) are the primary pre-activation, rows [B, 2B) the secondary.
        let a = &mut s.a[..frames * b];
        a.copy_from_slice(&zc[..frames * b]);
        self.activation.apply_block(a, frames, 0);
        if self.gating != Gating::None {
            let (primary, secondary) = zc.split_at_mut(frames * b);
            let secondary = &mut secondary[..frames * b];
            self.secondary.apply_block(secondary, frames, 0);
            match self.gating {
                Gating::Blended => {
                    for ((out, &alpha), &pre) in a.iter_mut().zip(secondary.iter()).zip(primary.iter()) {
                        *out = alpha * *out + (1.0 - alpha) * pre;
                    }
                }
                _ => {
                    for (out, &alpha) in a.iter_mut().zip(secondary.iter()) {
                        *out *= alpha;
                    }
                }
            }
        }
        if let Some(film) = &f.activation_post {
            film.apply(a, cond, &mut s.film, frames);
        }
        if let Some(l1) = &self.layer1x1 {
            let r = &mut s.r[..frames * c];
            l1.process(a, r, frames);
            // Core quirk (SPEC §11.3): this FiLM only acts in blended layers.
            if let (Some(film), Gating::Blended) = (&f.layer1x1_post, self.gating) {
                film.apply(r, cond, &mut s.film, frames);
            }
            for (xv, rv) in x[..frames * c].iter_mut().zip(r.iter()) {
                *xv += rv;
            }
        }
        let hs = self.head_rows();
        let h: &[f32] = if let Some(h1) = &self.head1x1 {
            let h = &mut s.h[..frames * hs];
            h1.process(a, h, frames);
            if let Some(film) = &f.head1x1_post {
                film.apply(h, cond, &mut s.film, frames);
            }
            h
        } else {
            // The config refuses head1x1_post_film without head1x1, so `a` goes in unmodulated.
            a
        };
        for (acc, v) in head_acc[..frames * hs].iter_mut().zip(h) {
            *acc += v;
        }
    }

    /// Multiply-accumulates per frame.
    pub fn macs(&self) -> usize {
        let f = &self.films;
        let films: usize = [
            &f.conv_pre,
            &f.conv_post,
            &f.mixin_pre,
            &f.mixin_post,
            &f.activation_pre,
            &f.activation_post,
            &f.layer1x1_post,
            &f.head1x1_post,
        ]
        .iter()
        .filter_map(|x| x.as_ref().map(|f| f.projection.macs()))
        .sum();
        self.conv.macs()
            + self.mixin.macs()
            + self.layer1x1.as_ref().map_or(0, Conv1x1::macs)
            + self.head1x1.as_ref().map_or(0, Conv1x1::macs)
            + films
    }
}
