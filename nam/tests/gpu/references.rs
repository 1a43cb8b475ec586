//! The GPU convolutional engine against the official core's references: every reference that
//! is not an LSTM (those run in `gpu_lstm.rs`) — WaveNets of every option including
//! condition_dsp, FiLM and head1x1 (A2-max), slimmable models, Linear — becomes one stream of a
//! single batch (one launch per buffer for all of them, architectures mixed), at buffer sizes
//! 32, 64, 128 and 4096, within `1e-4 · max(1, peak)`. That batch needs the kernel's general
//! variant (FiLM, condition_dsp), whose layer conv reads its rings; the references that do not
//! run again in a batch of their own, through the plain variant's staged (shared-memory) conv.
//! Runs on every runtime with a device; like the kernel suite, a missing device fails when
//! `CI=true` or `CUBEAUDIO_REQUIRE` names the runtime, and skips loudly otherwise.

use crate::common::{manifest, read_f32, shared_nam};
use cubeaudio_kernels::tile_conv::{tensor_cores, TileConvPath};
use cubeaudio_nam::gpu::{products_label, GpuWaveNetBatch, LaunchShape, Products};
use cubeaudio_nam::{load_file, LoadOptions, LoadedModel};
use cubecl::prelude::*;

struct Case {
    label: String,
    general: bool,
    model: LoadedModel,
    input: Vec<f32>,
    expected: Vec<f32>,
}

fn cases() -> Vec<Case> {
    let dir = shared_nam();
    let mut out = Vec::new();
    for r in manifest() {
        let mut model = load_file(&dir.join("models").join(&r.model), LoadOptions { fast_tanh: r.fast_tanh }).unwrap();
        if let Some(s) = r.slim {
            model.dsp.set_slim(s).unwrap();
        }
        if model.dsp.architecture().lstm().is_some() {
            continue;
        }
        let general = match cubeaudio_nam::gpu::plan::ModelPlan::build(model.dsp.as_ref()) {
            Ok(plan) => plan.general,
            Err(e) => panic!("{} {}: the GPU engine refuses a reference model: {e}", r.model, r.variant),
        };
        out.push(Case {
            label: format!("{} {} {}", r.model, r.variant, r.input),
            general,
            model,
            input: read_f32(&dir.join("refs").join(&r.input)),
            expected: read_f32(&dir.join("refs").join(&r.output)),
        });
    }
    out
}

fn run<R: Runtime>(client: &ComputeClient<R>, device: &str) {
    let cases = cases();
    assert!(cases.len() >= 36, "only {} references run on the GPU engine", cases.len());
    let all: Vec<&Case> = cases.iter().collect();
    let plain: Vec<&Case> = cases.iter().filter(|c| !c.general).collect();
    assert!(
        plain.len() >= 20 && plain.len() < cases.len(),
        "{} of {} references need no general variant",
        plain.len(),
        cases.len()
    );
    // Every product path the device has: scalar register tiles everywhere, 3×TF32 tensor cores
    // where the device has them (the default there).
    let mut products = vec![Products::Scalar];
    if tensor_cores(client) {
        products.push(Products::TensorCores { split: true });
    } else {
        eprintln!("[gpu-nam] SKIPPED the tensor-core path on {device}: no tf32 MMA (m16n8k8) here");
    }
    for buffer in [64usize, 32, 128, 4096] {
        check(client, device, &all, buffer, true, LaunchShape::Auto, Products::Scalar);
        for &p in &products {
            check(client, device, &plain, buffer, false, LaunchShape::Latency, p);
            if buffer >= 128 {
                // What large batches get (fewer threads per stream), with the references' few streams.
                check(client, device, &plain, buffer, false, LaunchShape::Throughput, p);
            }
        }
    }
}

/// Runs `cases` as one batch at `buffer` frames against their references.
fn check<R: Runtime>(
    client: &ComputeClient<R>,
    device: &str,
    cases: &[&Case],
    buffer: usize,
    general: bool,
    launch: LaunchShape,
    products: Products,
) {
    let nets: Vec<_> = cases.iter().map(|c| c.model.dsp.as_ref()).collect();
    let mut batch = GpuWaveNetBatch::new(client, &nets, buffer).unwrap();
    batch.set_launch_shape(launch).unwrap();
    batch.set_products(products).unwrap();
    let (shape, units) = batch.shape();
    assert_eq!(shape.general, general, "the batch compiled the wrong kernel variant");
    match (products, shape.conv) {
        (Products::TensorCores { .. }, conv) if !general => {
            assert_eq!(conv, TileConvPath::TensorCore { split: true }, "tensor cores not taken")
        }
        (_, TileConvPath::Scalar { rows, frames }) if launch == LaunchShape::Throughput => {
            assert_eq!((rows, frames), (4, 4), "throughput shape not taken")
        }
        _ => {}
    }
    let inputs: Vec<&[f32]> = cases.iter().map(|c| c.input.as_slice()).collect();
    let outs = crate::process_in_buffers(&mut batch, &inputs, buffer);
    let mut worst = 0.0f64;
    for (case, got) in cases.iter().zip(&outs) {
        let peak = case.expected.iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
        let err = got.iter().zip(&case.expected).map(|(a, e)| (a - e).abs() as f64).fold(0.0, f64::max);
        assert!(got.iter().all(|v| v.is_finite()), "{}: non-finite output", case.label);
        assert!(
            err <= 1e-4 * peak.max(1.0),
            "{device} buffer {buffer}: {}: max |err| {err:.3e} (peak {peak:.3})",
            case.label
        );
        worst = worst.max(err / peak.max(1.0));
    }
    let conv = if shape.staged && !general { "staged conv" } else { "ring conv" };
    let variant = if general { "general" } else { "plain" };
    let regs = format!("{}, {units} threads", products_label(shape.conv));
    println!("[gpu-nam] {device}: {} streams in one batch ({variant} variant, {conv}, {regs}), buffer {buffer}: worst relative error {worst:.3e}", cases.len());
}

cubeaudio_kernels::for_each_runtime!(|client, info| (client, &info.to_string()); run);
