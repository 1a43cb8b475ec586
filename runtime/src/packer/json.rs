//! The JSON form of a packing request, as read by `cubeaudio pack`.

use serde::{Deserialize, Serialize};

use super::{pack, PackError, Workspace};

/// Bounds on JSON requests, so a hostile request cannot make the workspace huge.
pub const MAX_JSON_TYPES: usize = 4096;
/// Most warps a JSON request may ask for.
pub const MAX_JSON_WARPS: usize = 65_536;
/// Most cells of the packing table (`(types + 1) × (warps + 1)`, 8 bytes each): 128 MiB of
/// workspace and bounded time, far beyond a GPU's worth of warps for every processor type.
pub const MAX_JSON_CELLS: usize = 1 << 24;

/// A `cubeaudio pack` request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackRequest {
    /// Lanes per warp.
    pub warp_size: usize,
    /// Warps available.
    pub warps: usize,
    /// Entities of each type.
    pub counts: Vec<u32>,
    /// Cost of one entity of each type (default 1).
    #[serde(default)]
    pub costs: Option<Vec<u32>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SegmentJson {
    #[serde(rename = "type")]
    pub ty: u32,
    pub count: u32,
}

/// A `cubeaudio pack` answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PackResponse {
    /// Most entities in one warp.
    pub max_occupancy: u32,
    /// Highest summed cost of one warp: what the packing minimised.
    pub max_cost: u64,
    /// Each warp's segments, in lane order.
    pub warps: Vec<Vec<SegmentJson>>,
}

/// Parses a request, packs it and renders the response; errors are one line.
pub fn pack_json(text: &str) -> Result<String, String> {
    let req: PackRequest = serde_json::from_str(text).map_err(|e| format!("invalid request: {e}"))?;
    if req.counts.len() > MAX_JSON_TYPES {
        return Err(format!("invalid request: {} types exceed the limit of {MAX_JSON_TYPES}", req.counts.len()));
    }
    if req.warps > MAX_JSON_WARPS {
        return Err(format!("invalid request: {} warps exceed the limit of {MAX_JSON_WARPS}", req.warps));
    }
    let cells = (req.counts.len() + 1) * (req.warps + 1);
    if cells > MAX_JSON_CELLS {
        return Err(format!(
            "invalid request: {} types × {} warps need a table of {cells} cells; the limit is {MAX_JSON_CELLS}",
            req.counts.len(),
            req.warps
        ));
    }
    let mut ws = Workspace::new(req.counts.len(), req.warps.max(1));
    let packed = pack(&mut ws, req.warp_size, req.warps, &req.counts, req.costs.as_deref())
        .map_err(|e: PackError| e.to_string())?;
    let response = PackResponse {
        max_occupancy: packed.max_occupancy,
        max_cost: packed.max_cost,
        warps: packed
            .warps()
            .map(|segs| segs.iter().map(|s| SegmentJson { ty: s.ty, count: s.count }).collect())
            .collect(),
    };
    serde_json::to_string(&response).map_err(|e| e.to_string())
}
