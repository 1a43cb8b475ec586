//! NAM on the GPU: a batch of WaveNet streams (different models allowed) processed by one
//! launch per buffer, histories kept on the device. Supported: the WaveNet family real captures
//! use (any channel counts up to 32, any kernel sizes and dilations, every activation, gating
//! none/gated/blended, layer1x1 on or off, head rechannel of any kernel and dilation, several
//! arrays, A2 and slimmable models through their active WaveNet). Not yet: FiLM, head1x1,
//! condition_dsp, post-stack heads, ConvNet, Linear — [`GpuWaveNetBatch::new`] says which.
//! LSTM models run in their own batch ([`GpuLstmBatch`], one cube per stream).

mod engine;
pub mod kernel;
pub mod lstm;
pub mod plan;
pub mod processor;

pub use engine::{GpuWaveNetBatch, PendingBuffer};
pub use lstm::GpuLstmBatch;
