//! WaveNet (SPEC §4) as small types over history buffers ([`crate::conv`]): [`layer::Layer`],
//! [`layer_array::LayerArray`], the post-stack [`model::PostHead`], and [`model::WaveNet`].

pub mod config;
pub mod layer;
pub mod layer_array;
pub mod model;
pub mod slim;

pub use model::WaveNet;
