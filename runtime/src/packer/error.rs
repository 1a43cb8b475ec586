/// Why a packing request cannot be laid out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    #[error("warp_size must be at least 1")]
    ZeroWarpSize,
    #[error("warps must be at least 1")]
    ZeroWarps,
    #[error("{entities} entities do not fit in {warps} warps of {warp_size} threads ({capacity} slots)")]
    Infeasible { entities: u64, warps: usize, warp_size: usize, capacity: u64 },
    #[error("costs has {costs} entries for {types} types")]
    CostCount { costs: usize, types: usize },
    #[error("cost of type {index} must be at least 1")]
    ZeroCost { index: usize },
    #[error("the workspace holds {capacity} {what}, the request needs {needed}")]
    Workspace { what: &'static str, capacity: usize, needed: usize },
}
