//! Finding a device without panicking.
//!
//! cubecl's own setup panics when no adapter or driver exists; everything here asks the driver
//! first, so "no device" is an [`DeviceError`] the caller can report or fall back from.

use std::fmt;

/// Why no device of a kind could be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    #[error("runtime `{0}` is not compiled into this build")]
    NotCompiled(&'static str),
    #[error("no CUDA driver: libcuda could not be loaded")]
    NoCudaDriver,
    #[error("CUDA driver loaded but no device was found ({0})")]
    NoCudaDevice(String),
    #[error("no Vulkan/Metal adapter found (is a Vulkan driver such as Mesa lavapipe installed?)")]
    NoAdapter,
}

/// Whether a run must find `runtime` ("cuda", "wgpu") rather than skip without it:
/// `CUBEAUDIO_REQUIRE=cuda,wgpu` names the required ones; `CI=true` alone requires `wgpu` (CI
/// installs lavapipe, so a skipped GPU test there would hide a broken driver setup). The one
/// policy every device test of the workspace follows.
pub fn required(runtime: &str) -> bool {
    let list = match std::env::var("CUBEAUDIO_REQUIRE") {
        Ok(list) => list,
        Err(_) if std::env::var("CI").is_ok_and(|v| v == "true") => "wgpu".to_string(),
        Err(_) => String::new(),
    };
    list.split(',').any(|r| r.trim() == runtime)
}

/// What a test or a user sees about the device a runtime opened.
#[derive(Debug, Clone)]
pub struct DeviceInfo {
    /// Runtime and compiler, e.g. `cuda`, `wgpu<spirv>`, `wgpu<wgsl>`.
    pub runtime: &'static str,
    /// Adapter or device name as the driver reports it.
    pub adapter: String,
    /// True for software rasterisers such as lavapipe/llvmpipe.
    pub is_software: bool,
}

impl fmt::Display for DeviceInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on {}", self.runtime, self.adapter)?;
        if self.is_software {
            write!(f, " (software)")?;
        }
        Ok(())
    }
}

#[cfg(feature = "cuda")]
pub mod cuda {
    use super::*;
    use cubecl::cuda::{CudaDevice, CudaRuntime};
    use cubecl::prelude::*;

    /// Opens CUDA device `index`, or says why not.
    pub fn open(index: usize) -> Result<(ComputeClient<CudaRuntime>, DeviceInfo), DeviceError> {
        // SAFETY: probing only tries to dlopen the driver library.
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return Err(DeviceError::NoCudaDriver);
        }
        let count = cudarc::driver::CudaContext::device_count()
            .map_err(|e| DeviceError::NoCudaDevice(format!("{e:?}")))?;
        if count as usize <= index {
            return Err(DeviceError::NoCudaDevice(format!("{count} devices, asked for #{index}")));
        }
        let name = cudarc::driver::CudaContext::new(index)
            .ok()
            .and_then(|ctx| ctx.name().ok())
            .unwrap_or_else(|| format!("CUDA device {index}"));
        let client = CudaRuntime::client(&CudaDevice::new(index));
        Ok((client, DeviceInfo { runtime: "cuda", adapter: name, is_software: false }))
    }
}

#[cfg(feature = "wgpu")]
pub mod wgpu_device {
    use super::*;
    use cubecl::prelude::*;
    use cubecl::wgpu::{WgpuDevice, WgpuRuntime};

    /// The wgpu backends we target for compute: Vulkan everywhere, Metal on Apple.
    fn backends() -> wgpu::Backends {
        wgpu::Backends::VULKAN | wgpu::Backends::METAL
    }

    /// Lists compute-capable adapters, best first (discrete, integrated, virtual, software).
    pub fn adapters() -> Vec<wgpu::AdapterInfo> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: backends(),
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let mut infos: Vec<wgpu::AdapterInfo> =
            cubecl::future::block_on(instance.enumerate_adapters(backends()))
                .into_iter()
                .map(|a| a.get_info())
                .collect();
        infos.sort_by_key(|i| rank(i.device_type));
        infos
    }

    fn rank(t: wgpu::DeviceType) -> u8 {
        match t {
            wgpu::DeviceType::DiscreteGpu => 0,
            wgpu::DeviceType::IntegratedGpu => 1,
            wgpu::DeviceType::VirtualGpu => 2,
            wgpu::DeviceType::Other => 3,
            wgpu::DeviceType::Cpu => 4,
        }
    }

    /// Opens the best adapter, or says why not. The setup happens once per process: cubecl keeps
    /// one server per device, and a second setup of the same device would replace it.
    pub fn open_best() -> Result<(ComputeClient<WgpuRuntime>, DeviceInfo), DeviceError> {
        static OPENED: std::sync::OnceLock<Result<(ComputeClient<WgpuRuntime>, DeviceInfo), DeviceError>> =
            std::sync::OnceLock::new();
        OPENED.get_or_init(open_best_uncached).clone()
    }

    fn open_best_uncached() -> Result<(ComputeClient<WgpuRuntime>, DeviceInfo), DeviceError> {
        let info = adapters().into_iter().next().ok_or(DeviceError::NoAdapter)?;
        // Index 0 of each type: wgpu numbers adapters per device type in enumeration order.
        let device = match info.device_type {
            wgpu::DeviceType::DiscreteGpu => WgpuDevice::DiscreteGpu(0),
            wgpu::DeviceType::IntegratedGpu => WgpuDevice::IntegratedGpu(0),
            wgpu::DeviceType::VirtualGpu => WgpuDevice::VirtualGpu(0),
            wgpu::DeviceType::Cpu => WgpuDevice::Cpu,
            wgpu::DeviceType::Other => WgpuDevice::DefaultDevice,
        };
        let is_vulkan = info.backend == wgpu::Backend::Vulkan;
        let client = if is_vulkan {
            cubecl::wgpu::init_setup::<cubecl::wgpu::Vulkan>(&device, Default::default());
            WgpuRuntime::client(&device)
        } else {
            WgpuRuntime::client(&device)
        };
        let runtime = WgpuRuntime::name(&client);
        Ok((
            client,
            DeviceInfo {
                runtime,
                adapter: format!("{} ({:?}, driver {})", info.name, info.backend, info.driver_info),
                is_software: info.device_type == wgpu::DeviceType::Cpu,
            },
        ))
    }
}
