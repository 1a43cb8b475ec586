//! One device behind one cubecl client: what processors allocate from and launch on.
//!
//! cubecl's client already pools device memory (allocations of a size are recycled) and queues
//! launches in order; the engine adds what an audio SDK needs on top: the device's name for
//! reports, uploads that refuse non-finite audio, pinned staging where the runtime offers it, and
//! reads that return a [`Completion`] instead of blocking.

use cubeaudio_kernels::device::DeviceInfo;
use cubeaudio_kernels::util::Buffer;
use cubecl::prelude::*;
use cubecl::server::Handle;

use crate::error::RuntimeError;

/// A device and its client. Cheap to clone (the client is shared).
#[derive(Clone)]
pub struct Engine<R: Runtime> {
    client: ComputeClient<R>,
    info: DeviceInfo,
}

/// An engine on CUDA.
#[cfg(feature = "cuda")]
pub type CudaEngine = Engine<cubecl::cuda::CudaRuntime>;
/// An engine on wgpu (Vulkan or Metal).
#[cfg(feature = "wgpu")]
pub type WgpuEngine = Engine<cubecl::wgpu::WgpuRuntime>;

#[cfg(feature = "cuda")]
impl CudaEngine {
    /// CUDA device `index`, or why not (no driver, no device) — never a panic.
    pub fn cuda(index: usize) -> Result<Self, RuntimeError> {
        let (client, info) = cubeaudio_kernels::device::cuda::open(index)?;
        Ok(Self::new(client, info))
    }
}

#[cfg(feature = "wgpu")]
impl WgpuEngine {
    /// The best wgpu adapter (discrete, integrated, virtual, then software such as lavapipe).
    pub fn wgpu() -> Result<Self, RuntimeError> {
        let (client, info) = cubeaudio_kernels::device::wgpu_device::open_best()?;
        Ok(Self::new(client, info))
    }
}

pub(crate) fn device_error(e: cubecl::server::ServerError) -> RuntimeError {
    RuntimeError::Device(e.into())
}

impl<R: Runtime> Engine<R> {
    /// An engine on an opened device (see `cubeaudio_kernels::device`).
    pub fn new(client: ComputeClient<R>, info: DeviceInfo) -> Self {
        Self { client, info }
    }

    /// The device's compute client, for launches of the kernel library.
    pub fn client(&self) -> &ComputeClient<R> {
        &self.client
    }

    /// What the driver says about the device.
    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// A device buffer holding `data`.
    pub fn upload(&self, data: &[f32]) -> Buffer {
        Buffer::upload(&self.client, data)
    }

    /// Device memory the next launch overwrites: no host data is copied to initialise it.
    pub fn uninit(&self, len: usize) -> Buffer {
        Buffer { handle: self.client.empty(len.max(1) * 4), len }
    }

    /// A device buffer of `len` zeros.
    pub fn zeros(&self, len: usize) -> Buffer {
        Buffer::filled(&self.client, len, 0.0)
    }

    /// Submits everything queued and reports a device error (lost device, failed launch) as a
    /// value.
    pub fn flush(&self) -> Result<(), RuntimeError> {
        self.client.flush().map_err(device_error)
    }

    /// Blocks until `buffer` is on the host.
    pub fn read(&self, buffer: &Buffer) -> Result<Vec<f32>, RuntimeError> {
        self.read_async(buffer)?.wait()
    }

    /// Submits every launch queued so far and returns at once; the device runs them while the
    /// host goes on, and [`Completion::wait`] copies `buffer` back once they are done.
    pub fn read_async(&self, buffer: &Buffer) -> Result<Completion<R>, RuntimeError> {
        self.flush()?;
        Ok(Completion { client: self.client.clone(), handle: buffer.handle.clone(), len: buffer.len })
    }
}

/// Work submitted to the device whose result has not been fetched yet.
///
/// cubecl 0.10's read futures borrow the client, so the device→host copy is issued in
/// [`Completion::wait`], behind the launches that produce the data.
#[must_use = "a completion must be waited on to get its data"]
pub struct Completion<R: Runtime> {
    client: ComputeClient<R>,
    handle: Handle,
    len: usize,
}

impl<R: Runtime> Completion<R> {
    /// Blocks until the data is on the host (or the device reported an error).
    pub fn wait(self) -> Result<Vec<f32>, RuntimeError> {
        let bytes = self.client.read_one(self.handle).map_err(device_error)?;
        let mut values = f32::from_bytes(&bytes).to_vec();
        values.truncate(self.len);
        Ok(values)
    }
}
