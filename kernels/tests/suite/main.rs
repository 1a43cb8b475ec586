//! Every kernel of `cubeaudio-kernels` against a plain-Rust reference on random inputs, on every
//! runtime compiled in. Outputs are poisoned with NaN before each launch so that an element the
//! kernel forgot to write fails the comparison.

#[macro_use]
mod harness;
mod oracle;

mod activation;
mod ceiling;
mod column_tile;
mod conv1x1;
mod delay_line;
mod dilated_conv;
mod dsp;
mod fused_entities;
mod graph_program;
mod graph_program_device_kinds;
mod matrix_tile;
mod routed;
mod tile_conv;
mod transfer_slot;
