/// Why a packing request cannot be laid out.
#[allow(missing_docs)] // variant fields are what the variant's message names
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    /// Warps of no lanes.
    #[error("warp_size must be at least 1")]
    ZeroWarpSize,
    /// No warps to fill.
    #[error("warps must be at least 1")]
    ZeroWarps,
    /// More entities than lanes.
    #[error("{entities} entities do not fit in {warps} warps of {warp_size} threads ({capacity} slots)")]
    Infeasible { entities: u64, warps: usize, warp_size: usize, capacity: u64 },
    /// The costs do not give one value per type.
    #[error("costs has {costs} entries for {types} types")]
    CostCount { costs: usize, types: usize },
    /// A type's cost is 0.
    #[error("cost of type {index} must be at least 1")]
    ZeroCost { index: usize },
    /// The preallocated workspace is too small for the request.
    #[error("the workspace holds {capacity} {what}, the request needs {needed}")]
    Workspace { what: &'static str, capacity: usize, needed: usize },
}
