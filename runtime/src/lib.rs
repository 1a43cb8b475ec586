//! Host side of cubeaudio.
//!
//! Entry point so far: [`packer::pack`], the exact warp-alignment packer (groups same-type work
//! per warp so warps do not diverge), with [`packer::Workspace`] for allocation-free calls on the
//! audio thread and [`packer::PackRequest`] for the JSON form used by `cubeaudio pack`.

pub mod packer;
