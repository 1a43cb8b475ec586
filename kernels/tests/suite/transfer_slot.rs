//! Transfer slots (page-locked uploads on CUDA, cubecl's copies elsewhere): a launch queued after
//! `send` reads what the host filled last, the read-back returns what that launch wrote even with
//! later buffers queued behind it, prefixes stop where asked, and a send while an earlier buffer
//! is unfetched does not overwrite an input a queued kernel still reads.

use cubeaudio_kernels::routed::copy_routes;
use cubeaudio_kernels::transfer_slot::TransferSlot;
use cubeaudio_kernels::util::IndexBuffer;
use cubecl::prelude::*;

use crate::harness::{random_vec, rng};

const LEN: usize = 96 * 1024 + 7;

pub fn transfer_slot_round_trips<R: Runtime>(client: &ComputeClient<R>) {
    let mut rng = rng("transfer slot");
    let mut slots = [TransferSlot::new(client, LEN), TransferSlot::new(client, LEN)];
    let path = if slots[0].is_pinned() { "page-locked" } else { "cubecl" };
    // CUDA must take the page-locked path (unless told not to): a silent fallback would hide a
    // regression behind correct results.
    if R::name(client) == "cuda" && std::env::var("CUBEAUDIO_TRANSFERS").as_deref() != Ok("cubecl") {
        assert!(slots[0].is_pinned(), "CUDA fell back to cubecl's uploads: {:?}", slots[0].fallback_reason());
    }
    let routes = IndexBuffer::upload(client, &[0, 0]);
    // Six buffers over two slots, none fetched until all are queued: slot reuse finds its last
    // buffer unfetched and must wait before overwriting the input that buffer's copy reads, and
    // each read-back, queued behind its own launch, must return that launch's output although
    // the output buffer is written again by the launches after it.
    let mut queued = Vec::new();
    for round in 0..6 {
        let host = random_vec(&mut rng, LEN, 1.0);
        let slot = &mut slots[round % 2];
        slot.host_input().copy_from_slice(&host);
        let (input, output) = slot.send(LEN).unwrap();
        copy_routes(client, &input, &output, &routes, LEN).unwrap();
        let ticket = slot.read_back(LEN).unwrap();
        assert!(slot.is_outstanding());
        queued.push((round, host, ticket));
    }
    for (round, host, ticket) in queued {
        let mut wrong = usize::MAX;
        ticket.fetch(|back| wrong = back.iter().zip(&host).filter(|(a, b)| a != b).count()).unwrap();
        assert_eq!(wrong, 0, "{path} round {round}: {wrong} of {LEN} samples differ from the host's");
    }
    assert!(slots.iter().all(|s| !s.is_outstanding()), "{path}: every ticket fetched, none outstanding");
    // Newest first: three buffers through one slot, fetched in reverse; then a ticket dropped
    // unfetched, and the slot carries on.
    let mut queued = Vec::new();
    for round in 0..3 {
        let host = random_vec(&mut rng, LEN, 1.0);
        let slot = &mut slots[0];
        slot.host_input().copy_from_slice(&host);
        let (input, output) = slot.send(LEN).unwrap();
        copy_routes(client, &input, &output, &routes, LEN).unwrap();
        queued.push((round, host, slot.read_back(LEN).unwrap()));
    }
    for (round, host, ticket) in queued.into_iter().rev() {
        let mut same = false;
        ticket.fetch(|back| same = back == &host[..]).unwrap();
        assert!(same, "{path}: buffer {round} of 3 on one slot, fetched newest first, came back different");
    }
    {
        let slot = &mut slots[0];
        let (input, output) = slot.send(LEN).unwrap();
        copy_routes(client, &input, &output, &routes, LEN).unwrap();
        drop(slot.read_back(LEN).unwrap());
    }
    // A small upload (under `PAGEABLE_ASYNC_BYTES`, through cubecl on every runtime) after the
    // large ones, then back to a large one through the slot's own path.
    for (round, len) in [(6, 100), (7, LEN)] {
        let host = random_vec(&mut rng, len, 1.0);
        let slot = &mut slots[1];
        slot.host_input()[..len].copy_from_slice(&host);
        let (input, output) = slot.send(len).unwrap();
        copy_routes(client, &input, &output, &routes, len).unwrap();
        let mut same = false;
        slot.read_back(len).unwrap().fetch(|back| same = back == &host[..]).unwrap();
        assert!(same, "{path} round {round} ({len} floats) came back different");
    }
    // A prefix: only the first `n` floats go up and are copied; the rest of the output keeps the
    // last round's values, none of them the -7 the host wrote past the prefix.
    let n = 20_000;
    let slot = &mut slots[0];
    slot.host_input()[..n].fill(0.25);
    slot.host_input()[n..].fill(-7.0);
    let (input, output) = slot.send(n).unwrap();
    copy_routes(client, &input, &output, &routes, n).unwrap();
    let mut got = Vec::new();
    slot.read_back(LEN).unwrap().fetch(|back| got = back.to_vec()).unwrap();
    assert_eq!(got.len(), LEN, "{path}: the whole output read back");
    assert!(got[..n].iter().all(|&v| v == 0.25), "{path}: the prefix did not arrive");
    assert!(got[n..LEN].iter().all(|&v| v != -7.0), "{path}: floats past the prefix went up");
    // A prefix read-back (a batch that shrank keeps its larger slots): exactly `n` floats.
    let mut prefix = Vec::new();
    slot.read_back(n).unwrap().fetch(|back| prefix = back.to_vec()).unwrap();
    assert_eq!(prefix, got[..n], "{path}: a {n}-float read-back differs from the output's first {n} floats");
    assert_eq!(slot.capacity(), LEN);
    println!(
        "[kernel-test] transfer slot ({path}): 6 buffers of {LEN} floats in flight over 2 slots, 3 on one slot fetched newest first, one dropped unfetched, a {n}-float prefix up and back"
    );
}

cubeaudio_kernels::for_each_runtime!(transfer_slot_round_trips);
