//! Typed errors of the host-side launch helpers.

/// What a launch helper refuses, before anything reaches the device.
#[allow(missing_docs)] // variant fields are what the variant's message names
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KernelError {
    /// A size that must be a power of two is not.
    #[error("{kernel}: {what} must be a power of two, got {value}")]
    NotPowerOfTwo { kernel: &'static str, what: &'static str, value: usize },
    /// A size that must be positive is zero.
    #[error("{kernel}: {what} must be at least 1")]
    Zero { kernel: &'static str, what: &'static str },
    /// A buffer does not hold the number of elements the configuration implies.
    #[error("{kernel}: {what} has {actual} elements, expected {expected}")]
    SizeMismatch { kernel: &'static str, what: &'static str, expected: usize, actual: usize },
    /// A size exceeds what the block supports or the device allows.
    #[error("{kernel}: {what} = {value} exceeds the limit of {limit}")]
    TooLarge { kernel: &'static str, what: &'static str, value: usize, limit: usize },
    /// Any other inconsistent configuration.
    #[error("{kernel}: {reason}")]
    Invalid { kernel: &'static str, reason: String },
    /// The device reported an error while running the kernel.
    #[error("{kernel}: {fault}")]
    Device { kernel: &'static str, fault: crate::device::DeviceFault },
}
