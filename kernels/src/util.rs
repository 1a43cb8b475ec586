//! Validation and transfer helpers shared by the launch modules.

use cubecl::prelude::*;
use cubecl::server::Handle;

use crate::KernelError;

pub(crate) fn nonzero(kernel: &'static str, what: &'static str, value: usize) -> Result<(), KernelError> {
    if value == 0 {
        Err(KernelError::Zero { kernel, what })
    } else {
        Ok(())
    }
}

pub(crate) fn power_of_two(kernel: &'static str, what: &'static str, value: usize) -> Result<(), KernelError> {
    if value.is_power_of_two() {
        Ok(())
    } else {
        Err(KernelError::NotPowerOfTwo { kernel, what, value })
    }
}

pub(crate) fn len_eq(
    kernel: &'static str,
    what: &'static str,
    expected: usize,
    actual: usize,
) -> Result<(), KernelError> {
    if expected == actual {
        Ok(())
    } else {
        Err(KernelError::SizeMismatch { kernel, what, expected, actual })
    }
}

/// Refuses a non-finite value, naming it (`what` and its index).
pub(crate) fn finite(kernel: &'static str, what: &str, values: &[f32]) -> Result<(), KernelError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(KernelError::Invalid { kernel, reason: format!("{what} {i} is {}", values[i]) }),
        None => Ok(()),
    }
}

pub(crate) fn at_most(kernel: &'static str, what: &'static str, value: usize, limit: usize) -> Result<(), KernelError> {
    if value <= limit {
        Ok(())
    } else {
        Err(KernelError::TooLarge { kernel, what, value, limit })
    }
}

/// A device buffer of f32 with its element count, so helpers can check sizes before launching.
#[derive(Clone, Debug)]
pub struct Buffer {
    /// The device allocation.
    pub handle: Handle,
    /// Elements it holds (the allocation keeps at least one).
    pub len: usize,
}

impl Buffer {
    /// A buffer holding `data`.
    pub fn upload<R: Runtime>(client: &ComputeClient<R>, data: &[f32]) -> Self {
        // A zero-length device allocation is not portable; keep one element so the handle is valid.
        let handle = if data.is_empty() {
            client.create_from_slice(f32::as_bytes(&[0.0]))
        } else {
            client.create_from_slice(f32::as_bytes(data))
        };
        Self { handle, len: data.len() }
    }

    /// A buffer of `len` copies of `value`.
    pub fn filled<R: Runtime>(client: &ComputeClient<R>, len: usize, value: f32) -> Self {
        Self::upload(client, &vec![value; len])
    }

    /// Reads the buffer back; `kernel` names the failing launch in the error.
    pub fn read<R: Runtime>(&self, client: &ComputeClient<R>, kernel: &'static str) -> Result<Vec<f32>, KernelError> {
        let bytes =
            client.read_one(self.handle.clone()).map_err(|e| KernelError::Device { kernel, fault: e.into() })?;
        let mut values = f32::from_bytes(&bytes).to_vec();
        values.truncate(self.len);
        Ok(values)
    }

    /// A view of the first `len` elements (clamped to `1..=self.len`): the same allocation, for
    /// kernels and reads that take a buffer's length from it.
    pub fn prefix(&self, len: usize) -> Buffer {
        let len = len.clamp(1, self.len.max(1));
        let handle = if len < self.len {
            self.handle.clone().offset_end(((self.len - len) * 4) as u64)
        } else {
            self.handle.clone()
        };
        Buffer { handle, len }
    }

    /// The buffer as a kernel argument.
    pub fn arg<R: Runtime>(&self) -> ArrayArg<R> {
        // SAFETY: `len` is the element count the handle was created with.
        unsafe { ArrayArg::from_raw_parts(self.handle.clone(), self.len.max(1)) }
    }
}

pub(crate) fn cube_count_1d(units: usize, per_cube: usize) -> CubeCount {
    CubeCount::Static(units.div_ceil(per_cube).max(1) as u32, 1, 1)
}

/// A device buffer of u32 (route and offset tables).
#[derive(Clone, Debug)]
pub struct IndexBuffer {
    /// The device allocation.
    pub handle: Handle,
    /// Elements it holds (the allocation keeps at least one).
    pub len: usize,
}

impl IndexBuffer {
    /// A buffer holding `data`.
    pub fn upload<R: Runtime>(client: &ComputeClient<R>, data: &[u32]) -> Self {
        let handle = if data.is_empty() {
            client.create_from_slice(u32::as_bytes(&[0]))
        } else {
            client.create_from_slice(u32::as_bytes(data))
        };
        Self { handle, len: data.len() }
    }

    /// The buffer as a kernel argument.
    pub fn arg<R: Runtime>(&self) -> ArrayArg<R> {
        // SAFETY: `len` is the element count the handle was created with.
        unsafe { ArrayArg::from_raw_parts(self.handle.clone(), self.len.max(1)) }
    }
}
