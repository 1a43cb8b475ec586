//! Exact warp-alignment packer.
//!
//! Entities of types `0..T` (fixed order, counts `c[t]`, optional branch costs) are laid out in
//! warps of `W` threads, at most `M` warps, each type contiguous in the global order, padding only
//! at the end of a warp. A warp's cost is the summed cost of the distinct types in it (its
//! occupancy with unit costs). [`pack`] minimises the maximum warp cost, exactly.
//!
//! **Why it is exact.** Any optimal layout can be shifted so that every warp is either full or
//! ends at a type boundary: moving a warp's end right into the same type never adds a type to
//! that warp and can only remove types from the next one. In such a layout a type boundary is
//! either *aligned* (a warp ends there) or *crossed*, and the types between two aligned
//! boundaries — a *run* — fill full warps from the run's start. A layout is therefore a
//! partition of the non-empty types into runs. The minimal feasible maximum cost `K*` is found by
//! binary search with a greedy fill (greedy needs the fewest warps for a cost bound: it never
//! ends a warp earlier than any layout with that bound), then a dynamic programme over
//! (run end, warps used) picks, among layouts with maximum cost `K*` and at most `M` warps, one
//! with the fewest warps of occupancy > 1.
//!
//! **Tie-break** (documented and tested): minimise the maximum cost; then the number of warps
//! holding more than one type; then the number of warps used; then prefer the lexicographically
//! earliest run partition (deterministic).
//!
//! **Real time.** [`Workspace::new`] allocates for a maximum type and warp count; [`pack`] then
//! allocates nothing and returns a [`Packed`] view into the workspace.

mod error;
mod json;

pub use error::PackError;
pub use json::{pack_json, PackRequest, PackResponse, MAX_JSON_TYPES, MAX_JSON_WARPS};

/// `count` entities of type `ty` placed consecutively in one warp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// The entity type.
    pub ty: u32,
    /// Entities of that type.
    pub count: u32,
}

/// Preallocated buffers for [`pack`].
#[derive(Debug, Clone)]
pub struct Workspace {
    max_types: usize,
    max_warps: usize,
    /// Non-empty types: index, count, cost.
    types: Vec<(u32, u64, u64)>,
    /// `dp[j * (max_warps + 1) + w]`: fewest mixed warps placing the first `j` non-empty types
    /// in exactly `w` warps with the last run ending at type `j`.
    dp: Vec<u32>,
    parent: Vec<u32>,
    /// Per DP row: the lowest and highest warp count reached.
    reach: Vec<(usize, usize)>,
    /// Entities of the non-empty types from index `t` on.
    suffix: Vec<u64>,
    runs: Vec<u32>,
    segments: Vec<Segment>,
    warp_starts: Vec<u32>,
}

/// A layout: per warp, its segments in type order.
#[derive(Debug, Clone, Copy)]
pub struct Packed<'a> {
    segments: &'a [Segment],
    warp_starts: &'a [u32],
    /// Largest number of distinct types in one warp.
    pub max_occupancy: u32,
    /// Largest summed cost of the distinct types in one warp.
    pub max_cost: u64,
    /// Warps holding more than one type.
    pub mixed_warps: u32,
}

impl<'a> Packed<'a> {
    /// Warps in the layout.
    pub fn warp_count(&self) -> usize {
        self.warp_starts.len().saturating_sub(1)
    }

    /// The segments of warp `w`.
    pub fn warp(&self, w: usize) -> &'a [Segment] {
        &self.segments[self.warp_starts[w] as usize..self.warp_starts[w + 1] as usize]
    }

    /// Every warp's segments, in warp order.
    pub fn warps(&self) -> impl Iterator<Item = &'a [Segment]> + '_ {
        (0..self.warp_count()).map(|w| self.warp(w))
    }
}

const UNREACHED: u32 = u32::MAX;

#[derive(Default)]
struct Stats {
    max_occupancy: u32,
    max_cost: u64,
    mixed_warps: u32,
}

impl Stats {
    /// Ends the warp whose segments start at the last recorded offset.
    fn close_warp(&mut self, segments: &[Segment], warp_starts: &mut Vec<u32>, cost: u64) {
        let start = warp_starts.last().copied().unwrap_or(0) as usize;
        let occupancy = (segments.len() - start) as u32;
        self.max_occupancy = self.max_occupancy.max(occupancy);
        self.max_cost = self.max_cost.max(cost);
        self.mixed_warps += u32::from(occupancy > 1);
        warp_starts.push(segments.len() as u32);
    }
}

impl Workspace {
    /// Buffers for up to `max_types` types and `max_warps` warps (this allocates).
    pub fn new(max_types: usize, max_warps: usize) -> Self {
        let cells = (max_types + 1) * (max_warps + 1);
        Self {
            max_types,
            max_warps,
            types: Vec::with_capacity(max_types),
            dp: vec![UNREACHED; cells],
            parent: vec![0; cells],
            reach: Vec::with_capacity(max_types + 1),
            suffix: Vec::with_capacity(max_types + 1),
            runs: Vec::with_capacity(max_types + 1),
            segments: Vec::with_capacity(max_types + max_warps),
            warp_starts: Vec::with_capacity(max_warps + 1),
        }
    }
}

/// A run being extended type by type: its warps are full from its start.
#[derive(Debug, Clone, Copy, Default)]
struct Run {
    warps: usize,
    /// Entities in the last warp (0 before the first type).
    fill: u64,
    last_cost: u64,
    last_types: u32,
    closed_max_cost: u64,
    closed_mixed: u32,
}

impl Run {
    fn push(&mut self, count: u64, cost: u64, w: u64) {
        let mut left = count;
        if self.warps > 0 && self.fill < w {
            let take = left.min(w - self.fill);
            self.fill += take;
            self.last_cost += cost;
            self.last_types += 1;
            left -= take;
        }
        if left > 0 {
            if self.warps > 0 {
                self.closed_max_cost = self.closed_max_cost.max(self.last_cost);
                self.closed_mixed += u32::from(self.last_types > 1);
            }
            let new = left.div_ceil(w);
            // Pure full warps of this type before the last one.
            if new > 1 {
                self.closed_max_cost = self.closed_max_cost.max(cost);
            }
            self.warps += new as usize;
            self.fill = left - (new - 1) * w;
            self.last_cost = cost;
            self.last_types = 1;
        }
    }

    fn max_cost(&self) -> u64 {
        self.closed_max_cost.max(self.last_cost)
    }

    fn mixed(&self) -> u32 {
        self.closed_mixed + u32::from(self.last_types > 1)
    }
}

/// Fewest warps any layout with maximum warp cost ≤ `bound` needs (greedy fill), if ≤ `limit`.
fn greedy_warps(types: &[(u32, u64, u64)], w: u64, bound: u64, limit: usize) -> Option<usize> {
    let mut warps = 0;
    let mut t = 0;
    let mut left = types.first()?.1;
    while t < types.len() {
        warps += 1;
        if warps > limit {
            return None;
        }
        let (mut space, mut cost) = (w, 0u64);
        while t < types.len() && space > 0 && cost + types[t].2 <= bound {
            cost += types[t].2;
            let take = left.min(space);
            left -= take;
            space -= take;
            if left > 0 {
                break;
            }
            t += 1;
            if t < types.len() {
                left = types[t].1;
            }
        }
        if left > 0 && space == w {
            return None; // a single type's cost exceeds the bound
        }
        // A type that fills whole warps on its own: skip them in one step.
        if t < types.len() && space == 0 && left > w {
            let whole = (left - 1) / w;
            warps += whole as usize;
            left -= whole * w;
        }
    }
    (warps <= limit).then_some(warps)
}

/// Lays out `counts` (optionally with per-type `costs`, default 1) in at most `warps` warps of
/// `warp_size`. Allocates nothing; the result borrows `ws`.
pub fn pack<'a>(
    ws: &'a mut Workspace,
    warp_size: usize,
    warps: usize,
    counts: &[u32],
    costs: Option<&[u32]>,
) -> Result<Packed<'a>, PackError> {
    if warp_size == 0 {
        return Err(PackError::ZeroWarpSize);
    }
    if warps == 0 {
        return Err(PackError::ZeroWarps);
    }
    if let Some(c) = costs {
        if c.len() != counts.len() {
            return Err(PackError::CostCount { costs: c.len(), types: counts.len() });
        }
        if let Some(i) = c.iter().position(|&x| x == 0) {
            return Err(PackError::ZeroCost { index: i });
        }
    }
    if counts.len() > ws.max_types {
        return Err(PackError::Workspace { what: "types", capacity: ws.max_types, needed: counts.len() });
    }
    if warps > ws.max_warps {
        return Err(PackError::Workspace { what: "warps", capacity: ws.max_warps, needed: warps });
    }
    let entities: u64 = counts.iter().map(|&c| c as u64).sum();
    let capacity = (warp_size as u64).saturating_mul(warps as u64);
    if entities > capacity {
        return Err(PackError::Infeasible { entities, warps, warp_size, capacity });
    }
    // No warp ever holds more than every entity: a wider warp packs the same way, and the
    // arithmetic below stays far from overflow whatever `warp_size` says.
    let w = (warp_size as u64).min(entities.max(1));
    ws.types.clear();
    for (i, &c) in counts.iter().enumerate() {
        if c > 0 {
            ws.types.push((i as u32, c as u64, costs.map_or(1, |k| k[i] as u64)));
        }
    }
    ws.segments.clear();
    ws.warp_starts.clear();
    ws.warp_starts.push(0);
    let n = ws.types.len();
    if n == 0 {
        return Ok(Packed {
            segments: &ws.segments,
            warp_starts: &ws.warp_starts,
            max_occupancy: 0,
            max_cost: 0,
            mixed_warps: 0,
        });
    }

    // 1. The smallest feasible maximum cost.
    let mut lo = ws.types.iter().map(|t| t.2).max().unwrap_or(1);
    let mut hi: u64 = ws.types.iter().map(|t| t.2).sum();
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if greedy_warps(&ws.types, w, mid, warps).is_some() {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let bound = lo;

    // 2. Fewest mixed warps under that bound, by run partition. Each row only spans the warp
    // counts it can reach ([reach_lo, reach_hi]), and a state is dropped when the types still
    // to place cannot fit in the warps left (suffix lower bound).
    let stride = ws.max_warps + 1;
    ws.dp[..stride].fill(UNREACHED);
    ws.dp[0] = 0;
    ws.reach.clear();
    ws.reach.push((0, 0));
    ws.suffix.clear();
    ws.suffix.resize(n + 1, 0);
    for t in (0..n).rev() {
        ws.suffix[t] = ws.suffix[t + 1] + ws.types[t].1;
    }
    for j in 1..=n {
        ws.reach.push((usize::MAX, 0));
        ws.dp[j * stride..j * stride + warps + 1].fill(UNREACHED);
    }
    for i in 0..n {
        let (lo_i, hi_i) = ws.reach[i];
        if lo_i > hi_i {
            continue;
        }
        let row_i = i * stride;
        let mut run = Run::default();
        for j in i + 1..=n {
            let (_, count, cost) = ws.types[j - 1];
            run.push(count, cost, w);
            let used = run.warps;
            // Both grow with the run: nothing longer can pass either.
            if run.max_cost() > bound || lo_i + used > warps {
                break;
            }
            let need_after = ws.suffix[j].div_ceil(w) as usize;
            if lo_i + used + need_after > warps {
                continue;
            }
            let mixed = run.mixed();
            let row_j = j * stride;
            let hi = hi_i.min(warps - used - need_after);
            for from in lo_i..=hi {
                let base = ws.dp[row_i + from];
                if base == UNREACHED {
                    continue;
                }
                let cell = row_j + from + used;
                // Strict `<` keeps the earliest run start on ties (deterministic).
                if base + mixed < ws.dp[cell] {
                    ws.dp[cell] = base + mixed;
                    ws.parent[cell] = i as u32;
                    let r = &mut ws.reach[j];
                    r.0 = r.0.min(from + used);
                    r.1 = r.1.max(from + used);
                }
            }
        }
    }
    let row_n = n * stride;
    let (mut best_w, mut best) = (usize::MAX, UNREACHED);
    for used in ws.reach[n].0..=ws.reach[n].1.min(warps) {
        if ws.dp[row_n + used] < best {
            best = ws.dp[row_n + used];
            best_w = used;
        }
    }
    debug_assert!(best != UNREACHED, "the greedy bound is always reachable");

    // 3. Walk the parents back to the run boundaries.
    ws.runs.clear();
    let (mut j, mut used) = (n, best_w);
    while j > 0 {
        ws.runs.push(j as u32);
        let i = ws.parent[j * stride + used] as usize;
        let mut run = Run::default();
        for t in &ws.types[i..j] {
            run.push(t.1, t.2, w);
        }
        used -= run.warps;
        j = i;
    }
    ws.runs.push(0);
    ws.runs.reverse();

    // 4. Emit: each run fills full warps from its start.
    let mut stats = Stats::default();
    for r in 0..ws.runs.len() - 1 {
        let (a, b) = (ws.runs[r] as usize, ws.runs[r + 1] as usize);
        let (mut space, mut cost) = (w, 0u64);
        for &(ty, count, k) in &ws.types[a..b] {
            let mut left = count;
            while left > 0 {
                if space == 0 {
                    stats.close_warp(&ws.segments, &mut ws.warp_starts, cost);
                    space = w;
                    cost = 0;
                }
                let take = left.min(space);
                ws.segments.push(Segment { ty, count: take as u32 });
                cost += k;
                space -= take;
                left -= take;
            }
        }
        stats.close_warp(&ws.segments, &mut ws.warp_starts, cost);
    }
    let Stats { max_occupancy, max_cost, mixed_warps } = stats;
    Ok(Packed { segments: &ws.segments, warp_starts: &ws.warp_starts, max_occupancy, max_cost, mixed_warps })
}
