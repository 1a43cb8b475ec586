//! Finding a device without panicking.
//!
//! cubecl's own setup panics when no adapter or driver exists; everything here asks the driver
//! first, so "no device" is an [`DeviceError`] the caller can report or fall back from.

use std::fmt;
use std::str::FromStr;

use cubecl::prelude::*;
use cubecl::server::{IoError, LaunchError, ServerError};

/// Why no device of a kind could be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// The runtime's cargo feature is off.
    #[error("runtime `{0}` is not compiled into this build")]
    NotCompiled(&'static str),
    /// libcuda is not on this machine.
    #[error("no CUDA driver: libcuda could not be loaded")]
    NoCudaDriver,
    /// The driver loaded but found no usable device.
    #[error("CUDA driver loaded but no device was found ({0})")]
    NoCudaDevice(String),
    /// wgpu found no Vulkan or Metal adapter.
    #[error("no Vulkan/Metal adapter found (is a Vulkan driver such as Mesa lavapipe installed?)")]
    NoAdapter,
    /// `vulkan` was asked for and wgpu's best adapter is not a Vulkan one.
    #[error("no Vulkan adapter (found {0})")]
    NotVulkan(String),
    /// `auto` found no GPU and the caller has no CPU engine to fall back to.
    #[error("no GPU runtime: {0}")]
    NoGpu(String),
    /// `cpu` was asked of a job that only runs on a GPU.
    #[error("this job runs on a GPU only (backend cpu is not available for it)")]
    NoCpuEngine,
    /// A backend name that is not one of [`Backend::NAMES`].
    #[error("unknown backend `{0}` (expected auto, cpu, cuda, vulkan or wgpu)")]
    UnknownBackend(String),
}

/// What went wrong on a device after it was opened: the one conversion of cubecl's server
/// errors in the workspace. It keeps the kind of failure and its reason and drops cubecl's
/// backtraces, and a queue that failed many launches reports the first failure and the count.
#[allow(missing_docs)] // variant fields are what the variant's message names
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceFault {
    /// A kernel did not compile for the device.
    #[error("kernel compilation failed: {0}")]
    Compile(String),
    /// The device ran out of memory.
    #[error("out of device memory: {0}")]
    OutOfMemory(String),
    /// A launch asked for more than the device has (shared memory, units, cube size).
    #[error("launch exceeds the device's resources: {0}")]
    Resources(String),
    /// A buffer transfer or allocation failed.
    #[error("transfer failed: {0}")]
    Transfer(String),
    /// The device failed while running queued work.
    #[error("device execution failed: {0}")]
    Execution(String),
    /// The device queue is unusable after `count` errors; the first is kept.
    #[error("device unusable after {count} error(s); first: {first}")]
    Unhealthy { count: usize, first: Box<DeviceFault> },
}

/// The first line of a cubecl message, without its backtrace.
fn reason(text: impl fmt::Display) -> String {
    let text = text.to_string();
    let body = text.split("\nBacktrace").next().unwrap_or_default();
    let caused = body.split("Caused by:").nth(1).unwrap_or(body);
    caused.trim().lines().next().unwrap_or_default().trim().to_string()
}

impl From<LaunchError> for DeviceFault {
    fn from(e: LaunchError) -> Self {
        match e {
            LaunchError::CompilationError(c) => Self::Compile(reason(c)),
            LaunchError::OutOfMemory { reason: r, .. } => Self::OutOfMemory(r),
            LaunchError::TooManyResources(r) => Self::Resources(reason(r)),
            LaunchError::Unknown { reason: r, .. } => Self::Execution(r),
            LaunchError::IoError(io) => io.into(),
        }
    }
}

impl From<IoError> for DeviceFault {
    fn from(e: IoError) -> Self {
        match e {
            IoError::BufferTooBig { size, .. } => {
                Self::OutOfMemory(format!("a buffer of {size} bytes exceeds what the device allocates"))
            }
            IoError::Unknown { description, .. } => Self::Transfer(description),
            IoError::Execution(server) => (*server).into(),
            other => Self::Transfer(reason(other)),
        }
    }
}

impl From<ServerError> for DeviceFault {
    fn from(e: ServerError) -> Self {
        match e {
            ServerError::Generic { reason: r, .. } => Self::Execution(r),
            ServerError::Launch(l) => l.into(),
            ServerError::Io(io) => io.into(),
            ServerError::ServerUnhealthy { errors, .. } => {
                let count = errors.len();
                let first = errors.into_iter().next().map_or(Self::Execution("no error recorded".into()), Self::from);
                Self::Unhealthy { count, first: Box::new(first) }
            }
            other => Self::Execution(reason(other)),
        }
    }
}

/// Waits for every queued launch of `client`, mapping a failure to a [`DeviceFault`].
pub fn sync<R: Runtime>(client: &ComputeClient<R>) -> Result<(), DeviceFault> {
    cubecl::future::block_on(client.sync()).map_err(DeviceFault::from)
}

/// Which device runs a job: the one backend choice of the workspace (render, graph, bench).
///
/// ```
/// use cubeaudio_kernels::device::Backend;
///
/// let backend: Backend = "vulkan".parse().unwrap();
/// assert_eq!(backend, Backend::Vulkan);
/// assert_eq!(backend.to_string(), "vulkan");
/// assert!("opencl".parse::<Backend>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// CUDA, else wgpu's best hardware adapter, else the CPU engine where the job has one
    /// (a software adapter such as lavapipe is taken only by jobs without a CPU engine).
    #[default]
    Auto,
    /// The CPU engine (jobs that have one).
    Cpu,
    /// CUDA device 0.
    Cuda,
    /// wgpu's best adapter, which must be a Vulkan one (software adapters included).
    Vulkan,
    /// wgpu's best adapter, Vulkan or Metal (software adapters included).
    Wgpu,
}

impl Backend {
    /// The names [`FromStr`] accepts, in [`Backend`]'s order.
    pub const NAMES: [&'static str; 5] = ["auto", "cpu", "cuda", "vulkan", "wgpu"];
    const ALL: [Backend; 5] = [Self::Auto, Self::Cpu, Self::Cuda, Self::Vulkan, Self::Wgpu];

    /// Opens the device this choice names. `cpu_engine`: the job can run on the CPU, so `auto`
    /// may fall back to it (and prefers it to a software adapter) and `cpu` is allowed.
    pub fn open(self, cpu_engine: bool) -> Result<Opened, DeviceError> {
        match self {
            Self::Cpu if cpu_engine => Ok(Opened::Cpu { fallback: None }),
            Self::Cpu => Err(DeviceError::NoCpuEngine),
            Self::Cuda => open_cuda().map(Opened::Gpu),
            Self::Vulkan => {
                let device = open_wgpu()?;
                if device.info().adapter.contains("(Vulkan") {
                    Ok(Opened::Gpu(device))
                } else {
                    Err(DeviceError::NotVulkan(device.info().adapter.clone()))
                }
            }
            Self::Wgpu => open_wgpu().map(Opened::Gpu),
            Self::Auto => {
                let cuda = match open_cuda() {
                    Ok(device) => return Ok(Opened::Gpu(device)),
                    Err(e) => e,
                };
                let why = match open_wgpu() {
                    Ok(device) if !(device.info().is_software && cpu_engine) => return Ok(Opened::Gpu(device)),
                    Ok(device) => {
                        format!("only a software adapter ({}), slower than the CPU engine", device.info().adapter)
                    }
                    Err(e) => format!("wgpu: {e}"),
                };
                let why = format!("CUDA: {cuda}; {why}");
                if cpu_engine {
                    Ok(Opened::Cpu { fallback: Some(why) })
                } else {
                    Err(DeviceError::NoGpu(why))
                }
            }
        }
    }
}

impl Backend {
    /// Opens a GPU for a job without a CPU engine (graphs, benchmarks): `auto` takes software
    /// adapters too, `cpu` is refused.
    pub fn open_gpu(self) -> Result<Device, DeviceError> {
        match self.open(false)? {
            Opened::Gpu(device) => Ok(device),
            Opened::Cpu { .. } => Err(DeviceError::NoCpuEngine),
        }
    }
}

impl FromStr for Backend {
    type Err = DeviceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let at = Self::NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(s))
            .ok_or_else(|| DeviceError::UnknownBackend(s.to_string()))?;
        Ok(Self::ALL[at])
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = Self::ALL.iter().position(|b| b == self).unwrap_or(0);
        f.write_str(Self::NAMES[at])
    }
}

/// What [`Backend::open`] chose.
pub enum Opened {
    /// A GPU runtime with its device.
    Gpu(Device),
    /// The CPU engine.
    Cpu {
        /// Why `auto` took no GPU; `None` when the CPU engine was asked for.
        fallback: Option<String>,
    },
}

/// An opened GPU device of one of the compiled runtimes.
pub enum Device {
    /// CUDA through NVRTC.
    #[cfg(feature = "cuda")]
    Cuda(ComputeClient<cubecl::cuda::CudaRuntime>, DeviceInfo),
    /// wgpu (Vulkan or Metal).
    #[cfg(feature = "wgpu")]
    Wgpu(ComputeClient<cubecl::wgpu::WgpuRuntime>, DeviceInfo),
}

/// Work generic over the runtime, run on whichever device was opened: the way one code path
/// serves every runtime without matching on them.
pub trait DeviceJob {
    /// What the job returns.
    type Output;
    /// Runs the job on `client`.
    fn run<R: Runtime>(self, client: &ComputeClient<R>, info: &DeviceInfo) -> Self::Output;
}

impl Device {
    /// What the driver says about the device.
    pub fn info(&self) -> &DeviceInfo {
        match self {
            #[cfg(feature = "cuda")]
            Self::Cuda(_, info) => info,
            #[cfg(feature = "wgpu")]
            Self::Wgpu(_, info) => info,
        }
    }

    /// Runs `job` on this device's runtime.
    pub fn run<J: DeviceJob>(&self, job: J) -> J::Output {
        match self {
            #[cfg(feature = "cuda")]
            Self::Cuda(client, info) => job.run(client, info),
            #[cfg(feature = "wgpu")]
            Self::Wgpu(client, info) => job.run(client, info),
        }
    }
}

fn open_cuda() -> Result<Device, DeviceError> {
    #[cfg(feature = "cuda")]
    return cuda::open(0).map(|(client, info)| Device::Cuda(client, info));
    #[cfg(not(feature = "cuda"))]
    Err(DeviceError::NotCompiled("cuda"))
}

fn open_wgpu() -> Result<Device, DeviceError> {
    #[cfg(feature = "wgpu")]
    return wgpu_device::open_best().map(|(client, info)| Device::Wgpu(client, info));
    #[cfg(not(feature = "wgpu"))]
    Err(DeviceError::NotCompiled("wgpu"))
}

/// True when `client` runs on a software adapter (lavapipe): the wgpu runtime opened on a CPU
/// adapter by [`wgpu_device::open_best`] (the process's one wgpu device). Kernels whose shader
/// compilation takes minutes there (large unrolled bodies) pick a smaller variant.
pub fn software<R: Runtime>(client: &ComputeClient<R>) -> bool {
    R::name(client).starts_with("wgpu") && SOFTWARE_WGPU.load(std::sync::atomic::Ordering::Relaxed)
}

/// Set when the process's wgpu device is a software adapter.
static SOFTWARE_WGPU: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

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

/// CUDA devices through NVRTC.
#[cfg(feature = "cuda")]
pub mod cuda {
    use super::*;
    use cubecl::cuda::{CudaDevice, CudaRuntime};

    /// Opens CUDA device `index`, or says why not.
    pub fn open(index: usize) -> Result<(ComputeClient<CudaRuntime>, DeviceInfo), DeviceError> {
        // SAFETY: probing only tries to dlopen the driver library.
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return Err(DeviceError::NoCudaDriver);
        }
        let count =
            cudarc::driver::CudaContext::device_count().map_err(|e| DeviceError::NoCudaDevice(e.to_string()))?;
        if count as usize <= index {
            return Err(DeviceError::NoCudaDevice(format!("{count} devices, asked for #{index}")));
        }
        let ctx = cudarc::driver::CudaContext::new(index).ok();
        let name = ctx.as_ref().and_then(|c| c.name().ok()).unwrap_or_else(|| format!("CUDA device {index}"));
        if let Some((major, minor)) = ctx.as_ref().and_then(|c| c.compute_capability().ok()) {
            if let Some(folder) = crate::kernel_cache::install(&format!("sm_{major}{minor}")) {
                tracing::debug!("compiled CUDA kernels kept in {}", folder.display());
            }
        }
        let client = CudaRuntime::client(&CudaDevice::new(index));
        Ok((client, DeviceInfo { runtime: "cuda", adapter: name, is_software: false }))
    }
}

/// wgpu adapters (Vulkan, Metal), best first.
#[cfg(feature = "wgpu")]
pub mod wgpu_device {
    use super::*;
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
        let mut infos: Vec<wgpu::AdapterInfo> = cubecl::future::block_on(instance.enumerate_adapters(backends()))
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
        let is_software = info.device_type == wgpu::DeviceType::Cpu;
        super::SOFTWARE_WGPU.store(is_software, std::sync::atomic::Ordering::Relaxed);
        Ok((
            client,
            DeviceInfo {
                runtime,
                adapter: format!("{} ({:?}, driver {})", info.name, info.backend, info.driver_info),
                is_software,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// cubecl's messages carry a backtrace; the fault keeps the cause line only.
    #[test]
    fn faults_keep_the_cause_and_drop_the_backtrace() {
        let text = "An error happened during execution\nCaused by:\n  out of bounds write\nBacktrace:\n  0: frame";
        assert_eq!(reason(text), "out of bounds write");
        assert_eq!(reason("plain message"), "plain message");
        let server = ServerError::ServerUnhealthy {
            errors: vec![
                ServerError::Generic { reason: "first".into(), backtrace: Default::default() },
                ServerError::Generic { reason: "second".into(), backtrace: Default::default() },
            ],
            backtrace: Default::default(),
        };
        let fault = DeviceFault::from(server);
        assert_eq!(fault, DeviceFault::Unhealthy { count: 2, first: Box::new(DeviceFault::Execution("first".into())) });
        assert_eq!(fault.to_string(), "device unusable after 2 error(s); first: device execution failed: first");
    }

    #[test]
    fn every_backend_name_round_trips() {
        for name in Backend::NAMES {
            assert_eq!(name.parse::<Backend>().unwrap().to_string(), name);
        }
        assert_eq!("CUDA".parse::<Backend>().unwrap(), Backend::Cuda);
        assert_eq!("tpu".parse::<Backend>().unwrap_err(), DeviceError::UnknownBackend("tpu".into()));
    }

    #[test]
    fn cpu_is_refused_to_jobs_without_a_cpu_engine() {
        assert!(matches!(Backend::Cpu.open(true), Ok(Opened::Cpu { fallback: None })));
        assert!(matches!(Backend::Cpu.open(false), Err(DeviceError::NoCpuEngine)));
    }
}
