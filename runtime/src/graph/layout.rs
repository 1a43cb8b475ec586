//! How a stage's items sit on warps inside the fused graph program.
//!
//! Units of one warp that hold different item kinds execute each kind's branch in turn, so a
//! stage costs what its most expensive warp costs: the sum of its kinds' costs. The packer
//! ([`crate::packer::pack`]) finds the layout that minimises that maximum, exactly; the
//! creation-order layout (items in the order the rig lists them, as a naive runtime would
//! place them) is kept to measure what packing buys.

use cubeaudio_kernels::graph_program::IDLE;

use crate::packer::{pack, PackError, Workspace};

/// Width of a warp in the layouts (NVIDIA's warp; on 64-wide AMD wavefronts two warps of a
/// layout share a wavefront).
pub const WARP: usize = 32;

/// How the graph compiler runs processors that are graph-program kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fusion {
    /// Every run of such stages is one launch, each stage laid out by the packer.
    #[default]
    Packed,
    /// As `Packed`, items in creation order (for comparison).
    CreationOrder,
    /// One launch per (stage, type) batch.
    Off,
}

/// What a stage's layout costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct LayoutStats {
    /// Items in the stage.
    pub items: usize,
    /// Warps the layout uses.
    pub warps: usize,
    /// Warps holding more than one kind.
    pub mixed_warps: usize,
    /// Highest summed cost of the kinds in one warp.
    pub max_cost: u64,
}

/// The stage's slots in warp order (item ids, [`IDLE`] for padding), `ids[i]` of kind
/// `kinds[i]`, kind `k` costing `costs[k]` (`crate::program_type::kind_costs`); items keep
/// their relative order within a kind.
pub fn stage_layout(
    fusion: Fusion,
    ids: &[u32],
    kinds: &[u32],
    costs: &[u32],
) -> Result<(Vec<u32>, LayoutStats), PackError> {
    let n_kinds = costs.len();
    let mut of_kind = vec![Vec::new(); n_kinds];
    for (&i, &k) in ids.iter().zip(kinds) {
        of_kind[k as usize].push(i);
    }
    // Each slot's kind beside it (`None`: padding), for the layout's costs.
    let mut slots: Vec<(u32, Option<u32>)> = Vec::new();
    let pad = |slots: &mut Vec<(u32, Option<u32>)>, min_warps: usize| {
        slots.resize(slots.len().div_ceil(WARP).max(min_warps) * WARP, (IDLE, None));
    };
    if fusion == Fusion::Packed {
        let counts: Vec<u32> = of_kind.iter().map(|v| v.len() as u32).collect();
        // Enough warps for one kind per warp: the packer never needs more.
        let warps: usize = counts.iter().map(|&c| (c as usize).div_ceil(WARP)).sum::<usize>().max(1);
        let mut ws = Workspace::new(n_kinds, warps);
        let packed = pack(&mut ws, WARP, warps, &counts, Some(costs))?;
        let mut next = vec![0usize; n_kinds];
        for warp in packed.warps() {
            for seg in warp {
                let (ty, from) = (seg.ty as usize, next[seg.ty as usize]);
                slots.extend(of_kind[ty][from..from + seg.count as usize].iter().map(|&i| (i, Some(seg.ty))));
                next[ty] += seg.count as usize;
            }
            pad(&mut slots, 0);
        }
    } else {
        slots.extend(ids.iter().zip(kinds).map(|(&i, &k)| (i, Some(k))));
        pad(&mut slots, 1);
    }
    let mut stats = LayoutStats { items: ids.len(), ..LayoutStats::default() };
    for warp in slots.chunks(WARP) {
        let mut present = vec![false; n_kinds];
        for k in warp.iter().filter_map(|&(_, k)| k) {
            present[k as usize] = true;
        }
        let used = present.iter().filter(|&&p| p).count();
        stats.warps += usize::from(used > 0);
        stats.mixed_warps += usize::from(used > 1);
        let cost = present.iter().zip(costs).filter(|(&p, _)| p).map(|(_, &c)| c as u64).sum();
        stats.max_cost = stats.max_cost.max(cost);
    }
    let slots = slots.into_iter().map(|(i, _)| i).collect();
    Ok((slots, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_warps_hold_one_kind_each_and_creation_order_mixes_them() {
        // Eight pedals of seven kinds (two of kind 5), as the pedal stage.
        let ids: Vec<u32> = (0..8).collect();
        let kinds = [0, 1, 2, 3, 4, 5, 5, 6];
        let costs = [10; 7];
        let (slots, stats) = stage_layout(Fusion::Packed, &ids, &kinds, &costs).unwrap();
        assert_eq!((slots.len(), stats.warps, stats.mixed_warps, stats.max_cost), (7 * WARP, 7, 0, 10));
        let pair = slots.chunks(WARP).find(|w| w.contains(&5)).unwrap();
        assert_eq!(&pair[..3], [5, 6, IDLE], "a kind's items keep their order in its warp");
        let (slots, stats) = stage_layout(Fusion::CreationOrder, &ids, &kinds, &costs).unwrap();
        assert_eq!((&slots[..8], stats.warps, stats.mixed_warps, stats.max_cost), (&ids[..], 1, 1, 70));
    }
}
