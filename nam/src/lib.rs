//! Neural Amp Modeler models for cubeaudio.
//!
//! Entry points: [`loader::load_file`] reads a `.nam` file into a [`loader::LoadedModel`];
//! [`model::Model`] gives it the core's lifecycle (reset, prewarm, any block size, NaN policy);
//! [`gpu`] runs batches of streams on a GPU (and, with the `graph` feature, is the `nam` processor
//! of the runtime's graphs). Every architecture of SPEC.md is a
//! [`dsp::Dsp`]: [`wavenet::WaveNet`] (and its slimmable form), [`lstm::Lstm`],
//! [`convnet::ConvNet`], [`linear::Linear`], [`container::SlimmableContainer`],
//! [`sequential::Sequential`].

pub mod activation;
pub mod architecture;
pub mod container;
pub mod conv;
pub mod convnet;
pub mod dsp;
pub mod error;
pub mod gpu;
mod json;
pub mod linear;
#[cfg(feature = "live")]
pub mod live;
pub mod loader;
pub mod lstm;
pub mod metadata;
pub mod model;
pub mod sequential;
pub mod simd;
pub mod split;
pub mod wavenet;
pub mod weights;

pub use error::NamError;
pub use loader::{load_file, load_str, LoadOptions, LoadedModel};
pub use model::Model;
