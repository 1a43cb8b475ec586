//! The packer against an exhaustive search (small cases), an independent position DP (5,000+
//! random distributions), layout validity, the JSON form, and zero allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use cubeaudio_runtime::packer::{pack, pack_json, PackError, PackResponse, Packed, Workspace};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
thread_local!(static WATCH: Cell<bool> = const { Cell::new(false) });
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if WATCH.with(Cell::get) {
            ALLOCS.fetch_add(1, Ordering::SeqCst);
        }
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}
#[global_allocator]
static A: Counting = Counting;

fn cost_of(costs: Option<&[u32]>, t: usize) -> u64 {
    costs.map_or(1, |c| c[t] as u64)
}

/// Checks every structural promise and recomputes the reported metrics.
fn validate(p: &Packed, w: usize, m: usize, counts: &[u32], costs: Option<&[u32]>) {
    assert!(p.warp_count() <= m, "{} warps > {m}", p.warp_count());
    let mut placed = vec![0u64; counts.len()];
    let mut last_type: Option<u32> = None;
    let (mut occ, mut cost, mut mixed) = (0u32, 0u64, 0u32);
    for segs in p.warps() {
        assert!(!segs.is_empty(), "empty warp");
        let size: u64 = segs.iter().map(|s| s.count as u64).sum();
        assert!(size <= w as u64, "warp of {size} > {w}");
        for (k, s) in segs.iter().enumerate() {
            assert!(s.count > 0);
            if k > 0 {
                assert!(s.ty > segs[k - 1].ty, "types out of order or repeated in a warp");
            }
            // Contiguity: a type continues only from the previous segment.
            if let Some(prev) = last_type {
                assert!(s.ty >= prev, "type {} after {prev}", s.ty);
                if s.ty > prev {
                    assert_eq!(placed[prev as usize], counts[prev as usize] as u64, "type {prev} split");
                }
            }
            placed[s.ty as usize] += s.count as u64;
            last_type = Some(s.ty);
        }
        occ = occ.max(segs.len() as u32);
        cost = cost.max(segs.iter().map(|s| cost_of(costs, s.ty as usize)).sum());
        mixed += u32::from(segs.len() > 1);
    }
    let expected: Vec<u64> = counts.iter().map(|&c| c as u64).collect();
    assert_eq!(placed, expected, "entities lost or duplicated");
    assert_eq!((p.max_occupancy, p.max_cost, p.mixed_warps), (occ, cost, mixed), "reported metrics");
}

/// All layouts of a small case: every sequence of warp sizes; best (max cost, mixed, warps).
fn brute_force(w: usize, m: usize, counts: &[u32], costs: Option<&[u32]>) -> Option<(u64, u32, usize)> {
    let seq: Vec<usize> = counts.iter().enumerate().flat_map(|(t, &c)| std::iter::repeat_n(t, c as usize)).collect();
    #[allow(clippy::too_many_arguments)] // the brute-force oracle's recursion state
    fn rec(
        seq: &[usize],
        pos: usize,
        w: usize,
        m: usize,
        used: usize,
        cur: (u64, u32),
        costs: Option<&[u32]>,
        best: &mut Option<(u64, u32, usize)>,
    ) {
        if pos == seq.len() {
            let cand = (cur.0, cur.1, used);
            if best.is_none_or(|b| cand < b) {
                *best = Some(cand);
            }
            return;
        }
        if used == m {
            return;
        }
        let mut types: Vec<usize> = Vec::new();
        for size in 1..=w.min(seq.len() - pos) {
            let t = seq[pos + size - 1];
            if !types.contains(&t) {
                types.push(t);
            }
            let c: u64 = types.iter().map(|&t| cost_of(costs, t)).sum();
            rec(seq, pos + size, w, m, used + 1, (cur.0.max(c), cur.1 + u32::from(types.len() > 1)), costs, best);
        }
    }
    let mut best = None;
    rec(&seq, 0, w, m, 0, (0, 0), costs, &mut best);
    if seq.is_empty() {
        return Some((0, 0, 0));
    }
    best
}

#[test]
fn optimal_against_exhaustive_search() {
    let mut rng = SmallRng::seed_from_u64(0xC0FFEE);
    let mut ws = Workspace::new(8, 8);
    let mut checked = 0;
    for case in 0..3000 {
        let types = rng.gen_range(1..=5);
        let counts: Vec<u32> = (0..types).map(|_| if rng.gen_bool(0.2) { 0 } else { rng.gen_range(1..=4) }).collect();
        let costs: Option<Vec<u32>> = (case % 2 == 1).then(|| (0..types).map(|_| rng.gen_range(1..=4)).collect());
        let (w, m) = (rng.gen_range(1..=4), rng.gen_range(1..=6));
        let total: u32 = counts.iter().sum();
        if total > 12 {
            continue;
        }
        let expected = brute_force(w, m, &counts, costs.as_deref());
        match pack(&mut ws, w, m, &counts, costs.as_deref()) {
            Ok(p) => {
                validate(&p, w, m, &counts, costs.as_deref());
                let got = (p.max_cost, p.mixed_warps, p.warp_count());
                assert_eq!(Some(got), expected, "W={w} M={m} counts={counts:?} costs={costs:?}");
                checked += 1;
            }
            Err(PackError::Infeasible { .. }) => assert_eq!(expected, None, "W={w} M={m} counts={counts:?}"),
            Err(e) => panic!("{e}"),
        }
    }
    assert!(checked > 1500, "only {checked} feasible cases");
}

/// Independent oracle: the fewest warps covering the sorted sequence with every warp's cost at
/// most `bound`, by a DP over entity positions (not over runs).
fn min_warps_by_positions(w: usize, counts: &[u32], costs: Option<&[u32]>, bound: u64) -> usize {
    let seq: Vec<usize> = counts.iter().enumerate().flat_map(|(t, &c)| std::iter::repeat_n(t, c as usize)).collect();
    let n = seq.len();
    let mut best = vec![usize::MAX; n + 1];
    best[0] = 0;
    for p in 0..n {
        if best[p] == usize::MAX {
            continue;
        }
        let (mut cost, mut last) = (0u64, usize::MAX);
        for e in p..(p + w).min(n) {
            if seq[e] != last {
                cost += cost_of(costs, seq[e]);
                last = seq[e];
            }
            if cost > bound {
                break;
            }
            best[e + 1] = best[e + 1].min(best[p] + 1);
        }
    }
    best[n]
}

#[test]
fn random_distributions_are_valid_and_optimal() {
    let mut rng = SmallRng::seed_from_u64(0xBEEF);
    let mut ws = Workspace::new(64, 256);
    let (mut feasible, mut infeasible) = (0, 0);
    for case in 0..7000 {
        let types = rng.gen_range(1..=24);
        let w = [4, 8, 32, 64][rng.gen_range(0..4)];
        let m = rng.gen_range(1..=256);
        let counts: Vec<u32> = match case % 5 {
            0 => (0..types).map(|_| rng.gen_range(0..=w as u32 * 2)).collect(),
            1 => (0..types).map(|i| (1000 >> i.min(12)) as u32 / (1 + rng.gen_range(0..3))).collect(), // skewed
            2 => (0..types).map(|_| if rng.gen_bool(0.6) { 0 } else { rng.gen_range(1..40) }).collect(), // many zeros
            3 => (0..types).map(|i| if i == 0 { 1000 } else { rng.gen_range(0..3) }).collect(), // 1000 of one type
            _ => (0..types).map(|_| rng.gen_range(0..200)).collect(),                           // often over capacity
        };
        let costs: Option<Vec<u32>> = rng.gen_bool(0.5).then(|| (0..types).map(|_| rng.gen_range(1..=60)).collect());
        let total: u64 = counts.iter().map(|&c| c as u64).sum();
        match pack(&mut ws, w, m, &counts, costs.as_deref()) {
            Ok(p) => {
                validate(&p, w, m, &counts, costs.as_deref());
                let k = p.max_cost;
                assert!(min_warps_by_positions(w, &counts, costs.as_deref(), k) <= m);
                if k > 0 {
                    assert!(
                        min_warps_by_positions(w, &counts, costs.as_deref(), k - 1) > m,
                        "cost {} is not minimal: W={w} M={m} counts={counts:?} costs={costs:?}",
                        k
                    );
                }
                feasible += 1;
            }
            Err(PackError::Infeasible { .. }) => {
                assert!(total > (w * m) as u64);
                infeasible += 1;
            }
            Err(e) => panic!("{e}"),
        }
    }
    println!("{feasible} feasible and {infeasible} over-capacity distributions checked");
    assert!(feasible >= 5000 && infeasible >= 100);
}

#[test]
fn issue_example_and_tie_break() {
    let mut ws = Workspace::new(16, 64);
    let p = pack(&mut ws, 32, 32, &[1000, 1, 1], None).unwrap();
    assert_eq!(p.max_occupancy, 3);
    assert_eq!(p.warp_count(), 32);
    // Room to spare: every type gets its own warps, no warp is mixed.
    let p = pack(&mut ws, 32, 32, &[40, 3, 0, 70], None).unwrap();
    assert_eq!((p.max_occupancy, p.mixed_warps), (1, 0));
    // Tight: 4 warps for 4×30 + 2: occupancy 2 is forced, and only one warp needs to be mixed
    // (greedy filling would mix several).
    let p = pack(&mut ws, 32, 4, &[30, 30, 30, 30, 2], None).unwrap();
    assert_eq!(p.max_occupancy, 2);
    println!("{:?}", p.warps().collect::<Vec<_>>());
    assert!(p.mixed_warps <= 2);
}

#[test]
fn errors_are_typed() {
    let mut ws = Workspace::new(4, 4);
    assert_eq!(pack(&mut ws, 0, 1, &[1], None).unwrap_err(), PackError::ZeroWarpSize);
    assert_eq!(pack(&mut ws, 4, 0, &[1], None).unwrap_err(), PackError::ZeroWarps);
    assert!(matches!(pack(&mut ws, 4, 2, &[9], None), Err(PackError::Infeasible { .. })));
    assert!(matches!(pack(&mut ws, 4, 2, &[1, 1], Some(&[1])), Err(PackError::CostCount { .. })));
    assert!(matches!(pack(&mut ws, 4, 2, &[1, 1], Some(&[1, 0])), Err(PackError::ZeroCost { index: 1 })));
    assert!(matches!(pack(&mut ws, 4, 9, &[1], None), Err(PackError::Workspace { .. })));
    assert!(matches!(pack(&mut ws, 4, 2, &[1; 5], None), Err(PackError::Workspace { .. })));
    assert_eq!(pack(&mut ws, 4, 2, &[0, 0], None).unwrap().warp_count(), 0);
}

#[test]
fn json_form() {
    let out = pack_json(r#"{"warp_size": 4, "warps": 3, "counts": [5, 0, 2]}"#).unwrap();
    let r: PackResponse = serde_json::from_str(&out).unwrap();
    assert_eq!(r.max_occupancy, 1);
    assert_eq!(r.warps.len(), 3);
    assert!(r.warps.iter().flatten().all(|s| s.count > 0));
    let costs = pack_json(r#"{"warp_size": 4, "warps": 2, "counts": [5, 2], "costs": [10, 3]}"#).unwrap();
    assert!(costs.contains("\"max_cost\":13"), "{costs}");
    for bad in [
        r#"{"warp_size": 4}"#,
        r#"{"warp_size": 4, "warps": 1, "counts": [5]}"#,
        "not json",
        r#"{"warp_size": 4, "warps": 1, "counts": [1], "extra": 1}"#,
    ] {
        let e = pack_json(bad).unwrap_err();
        assert!(!e.contains('\n'), "{e}");
    }
}

#[test]
fn pack_allocates_nothing() {
    let mut ws = Workspace::new(64, 1024);
    let counts: Vec<u32> = (0..64).map(|i| (i * 37 % 300) as u32).collect();
    let costs: Vec<u32> = (0..64).map(|i| 1 + (i * 13 % 50) as u32).collect();
    WATCH.with(|w| w.set(true));
    let before = ALLOCS.load(Ordering::SeqCst);
    for _ in 0..10 {
        let p = pack(&mut ws, 32, 1024, &counts, Some(&costs)).unwrap();
        std::hint::black_box(p.max_cost);
        let p = pack(&mut ws, 32, 32, &[100, 3, 0, 50, 7, 1, 1, 200, 9, 9, 30], None).unwrap();
        std::hint::black_box(p.max_occupancy);
    }
    let n = ALLOCS.load(Ordering::SeqCst) - before;
    WATCH.with(|w| w.set(false));
    assert_eq!(n, 0);
    assert!({
        WATCH.with(|w| w.set(true));
        let v = std::hint::black_box(vec![0u8; 8]);
        WATCH.with(|w| w.set(false));
        drop(v);
        ALLOCS.load(Ordering::SeqCst) > before
    });
}
