//! Generates, without any device, the source each backend receives for every public kernel of
//! `cubeaudio-kernels`: CUDA C++, HIP C++, WGSL, SPIR-V (disassembled) and Metal MSL.
//!
//! Entry points: [`registry`] (the public kernels at representative comptime configurations),
//! [`generate`] (one kernel for one [`Target`]), [`spirv_words`] (the binary module, for
//! `spirv-val`), [`validate_wgsl`] (naga).

mod registry;

pub use registry::{registry, KernelCase};

use cubecl::ir::features::Plane;
use cubecl::ir::{DeviceProperties, HardwareProperties, MemoryDeviceProperties, StorageType, UIntKind};
use cubecl::prelude::*;
use cubecl::Compiler;
use cubecl_cpp::cuda::mma::CudaWmmaCompiler;
use cubecl_cpp::cuda::CudaDialect;
use cubecl_cpp::hip::mma::WmmaIntrinsicCompiler;
use cubecl_cpp::hip::HipDialect;
use cubecl_cpp::shared::CppCompiler;

/// A backend whose source we snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// CUDA C++ (NVRTC).
    Cuda,
    /// HIP C++ for AMD GPUs.
    Hip,
    /// WGSL (wgpu on any adapter).
    Wgsl,
    /// SPIR-V (Vulkan).
    SpirV,
    /// Metal Shading Language.
    Msl,
}

impl Target {
    /// Every target, in snapshot order.
    pub const ALL: [Target; 5] = [Target::Cuda, Target::Hip, Target::Wgsl, Target::SpirV, Target::Msl];

    /// The target's name in snapshot and file names.
    pub fn name(self) -> &'static str {
        match self {
            Target::Cuda => "cuda",
            Target::Hip => "hip",
            Target::Wgsl => "wgsl",
            Target::SpirV => "spirv",
            Target::Msl => "msl",
        }
    }
}

/// Device properties of a generic GPU with plane ops and 32-wide planes: what the kernels are
/// specialised against when no device is present.
fn device_properties() -> DeviceProperties {
    let hardware = HardwareProperties {
        load_width: 128,
        plane_size_min: 32,
        plane_size_max: 32,
        max_bindings: 32,
        max_shared_memory_size: 48 * 1024,
        max_cube_count: (65_535, 65_535, 65_535),
        max_units_per_cube: 1024,
        max_cube_dim: (1024, 1024, 64),
        num_streaming_multiprocessors: None,
        num_cpu_cores: None,
        num_tensor_cores: None,
        min_tensor_cores_dim: None,
        max_vector_size: 4,
    };
    let memory = MemoryDeviceProperties { max_page_size: 1 << 30, alignment: 32 };
    let mut props =
        DeviceProperties::new(Default::default(), memory, hardware, cubecl::benchmark::TimingMethod::System);
    cubecl_cpp::register_supported_types(&mut props);
    props.features.plane.insert(Plane::Ops);
    props.features.plane.insert(Plane::Sync);
    props
}

/// A kernel builder set up like a launch would, for `cube_dim` units.
pub fn builder() -> KernelBuilder {
    let mut b = KernelBuilder::default();
    b.device_properties(&device_properties());
    b
}

/// Settings of a launch with `cube_dim` units named `name`.
pub fn settings(name: &'static str, cube_dim: u32) -> KernelSettings {
    KernelSettings::default().cube_dim(CubeDim::new_1d(cube_dim)).address_type(AddressType::U32).kernel_name(name)
}

fn compile<C: Compiler>(
    mut compiler: C,
    def: cubecl::prelude::KernelDefinition,
    options: &C::CompilationOptions,
    mode: ExecutionMode,
) -> Result<C::Representation, String> {
    compiler
        .compile(def, options, mode, StorageType::Scalar(cubecl::ir::ElemType::UInt(UIntKind::U32)))
        .map_err(|e| format!("{e:?}"))
}

fn spirv_kernel(case: &KernelCase) -> Result<cubecl_spirv::SpirvKernel, String> {
    let mut options = cubecl::WgpuCompilationOptions { supports_vulkan: true, ..Default::default() };
    // Vulkan 1.3 (what `spirv-val --target-env vulkan1.3` checks) accepts SPIR-V 1.6.
    options.vulkan.max_spirv_version = (1, 6);
    compile(cubecl_spirv::SpirvCompiler::<cubecl_spirv::GLCompute>::default(), case.definition(), &options, case.mode)
}

/// Source text for `target`, normalised (see [`normalise`]): what the snapshots hold.
pub fn generate(case: &KernelCase, target: Target) -> Result<String, String> {
    source(case, target).map(|text| normalise(&text))
}

/// Source text for `target` as the backend receives it (compilable: `dump_sources`, for
/// hipcc and nvcc), SPIR-V disassembled with its ids masked.
pub fn source(case: &KernelCase, target: Target) -> Result<String, String> {
    let def = case.definition();
    let text = match target {
        Target::Cuda => {
            let options = cubecl_cpp::shared::CompilationOptions { warp_size: 32, ..Default::default() };
            compile(CppCompiler::<CudaDialect<CudaWmmaCompiler>>::default(), def, &options, case.mode)?.to_string()
        }
        Target::Hip => {
            let options = cubecl_cpp::shared::CompilationOptions { warp_size: 64, ..Default::default() };
            compile(CppCompiler::<HipDialect<WmmaIntrinsicCompiler>>::default(), def, &options, case.mode)?.to_string()
        }
        Target::Msl => {
            let options = cubecl_cpp::shared::CompilationOptions { warp_size: 32, ..Default::default() };
            compile(cubecl_cpp::MslCompiler::default(), def, &options, case.mode)?.to_string()
        }
        Target::Wgsl => {
            compile(cubecl::wgpu::WgslCompiler::default(), def, &Default::default(), case.mode)?.to_string()
        }
        Target::SpirV => canonical_spirv(&spirv_kernel(case)?.to_string()),
    };
    Ok(text)
}

/// The assembled SPIR-V module.
pub fn spirv_words(case: &KernelCase) -> Result<Vec<u32>, String> {
    Ok(spirv_kernel(case)?.assembled_module)
}

/// Parses and validates WGSL with naga (what wgpu does before handing it to a driver).
pub fn validate_wgsl(source: &str) -> Result<(), String> {
    let module = naga::front::wgsl::parse_str(source).map_err(|e| e.emit_to_string(source))?;
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all())
        .validate(&module)
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
}

/// Normalises what is not stable between runs (`generation_is_deterministic` checks the rest):
/// cubecl 0.10 declares a kernel's mutable locals (`l_mut_N`) in hash-map order, so each run of
/// consecutive local declarations is sorted; it also places a kernel's shared arrays in the
/// C++ dialects' one dynamic block in hash-map order (CUDA even picks different offsets), so
/// each run of shared-array declarations (a size comment and a pointer) is sorted with the
/// offsets masked — the sizes stay in the comments; trailing whitespace is trimmed.
pub fn normalise(text: &str) -> String {
    let text = normalise_shared_arrays(text);
    let mut lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let is_local_decl = |l: &str| {
        let t = l.trim_start();
        t.ends_with(';')
            && (t.starts_with("var l_mut_")
                || t.split_whitespace().nth(1).is_some_and(|w| w.starts_with("l_mut_") && w.ends_with(';')))
    };
    let mut i = 0;
    while i < lines.len() {
        let mut j = i;
        while j < lines.len() && is_local_decl(lines[j]) {
            j += 1;
        }
        if j > i + 1 {
            lines[i..j].sort_unstable();
        }
        i = j.max(i + 1);
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// See [`normalise`]: runs of (`// Shared array size: …`, pointer into `dynamic_shared_mem[N]`)
/// pairs, offsets masked as `[_]`, sorted.
fn normalise_shared_arrays(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let is_pair = |i: usize| {
        lines[i].trim_start().starts_with("// Shared array size:")
            && lines.get(i + 1).is_some_and(|l| l.contains("dynamic_shared_mem["))
    };
    let mask = |l: &str| match (l.find("dynamic_shared_mem["), l.rfind(']')) {
        (Some(a), Some(b)) if b > a => format!("{}dynamic_shared_mem[_]{}", &l[..a], &l[b + 1..]),
        _ => l.to_string(),
    };
    let mut out = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        let start = i;
        while i < lines.len() && is_pair(i) {
            i += 2;
        }
        let run = &lines[start..i];
        if run.len() > 2 {
            let mut pairs: Vec<String> = run.chunks(2).map(|p| format!("{}\n{}", p[0], mask(p[1]))).collect();
            pairs.sort_unstable();
            out.extend(pairs);
        } else if run.is_empty() {
            out.push(lines[i].to_string());
            i += 1;
        } else {
            // A single shared array has one place: its offset stays.
            out.extend(run.iter().map(|l| l.to_string()));
        }
    }
    let mut joined = out.join("\n");
    joined.push('\n');
    joined
}

/// cubecl 0.10 numbers SPIR-V result ids partly in hash-map order (builtin input variables and
/// their pointer types, phi nodes), so the same kernel disassembles with permuted ids from run
/// to run. The snapshot therefore masks every id as `%_` and sorts each run of consecutive
/// `OpDecorate` lines, of `Input` pointer-type/variable declarations and of capabilities (all
/// emitted in hash-map order). Every instruction, type, constant,
/// decoration and the control-flow shape stay visible; the exact module is checked by
/// `spirv-val` instead.
pub fn canonical_spirv(text: &str) -> String {
    let mask =
        |line: &str| {
            line.split(' ')
                .map(|t| {
                    if t.len() > 1 && t.starts_with('%') && t[1..].bytes().all(|b| b.is_ascii_digit()) {
                        "%_"
                    } else {
                        t
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
    // 1: decorations; 2: builtin input pointer types and variables; 3: capabilities and
    // extensions — each emitted in hash-map order.
    let kind = |l: &str| {
        if l.starts_with("OpDecorate ") {
            1
        } else if l.contains("= OpTypePointer Input ") || (l.contains("= OpVariable ") && l.ends_with(" Input")) {
            2
        } else if l.starts_with("OpCapability ") || l.starts_with("OpExtension ") {
            3
        } else {
            0
        }
    };
    let mut lines: Vec<String> = text.lines().map(mask).collect();
    let mut i = 0;
    while i < lines.len() {
        let k = kind(&lines[i]);
        let mut j = i + 1;
        while k != 0 && j < lines.len() && kind(&lines[j]) == k {
            j += 1;
        }
        if k != 0 {
            lines[i..j].sort();
        }
        i = j;
    }
    lines.join("\n")
}
