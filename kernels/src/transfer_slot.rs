//! One audio buffer in flight between host and device: an input the host fills in place and
//! uploads (from page-locked memory made once, on CUDA), an output the kernels write, and a
//! read-back queued right behind the launch that writes it.
//!
//! Uploads: cubecl 0.10's `create` copies every upload into a fresh pageable `Vec` first — even
//! bytes it staged in its own pinned pool (`do_create` calls `to_vec`) — and the CUDA driver
//! copies pageable buffers of 64 KiB and more synchronously through a bounce buffer of its own:
//! on an H200 a batch's round trip jumped by ~0.25 ms at that size (docs/PERFORMANCE.md, fifth
//! measurement, step 10). So on CUDA a slot owns page-locked host memory, a copy stream and the
//! input buffer, and an upload is one `cuMemcpyHtoDAsync` from memory the caller filled in place:
//! no allocation, no extra host copy. Elsewhere (wgpu), and with `CUBEAUDIO_TRANSFERS=cubecl`,
//! uploads are cubecl's `create` as before.
//!
//! Read-backs: [`TransferSlot::read_back`] queues the device→host copy (cubecl's, into its pinned
//! pool) when it is called — right after the launch — so waiting for buffer k does not wait for
//! buffer k+1 queued after it: with two buffers in flight the host's work on one overlaps the
//! device's on the other. The read submits what it needs; after a large CUDA buffer the client's
//! `flush` is not called (it would only rotate cubecl's drop queue, waiting for the fence of the
//! flush before). A copy into page-locked memory of the slot's own, after the launch's fence, was
//! measured and was no faster (docs/PERFORMANCE.md, twenty-first measurement): cubecl's copy is
//! queued behind the kernel, the slot's could only start after the host saw the kernel end.
//!
//! Ordering: the upload runs on the slot's own stream and [`TransferSlot::send`] waits for it, so
//! a launch queued after `send` reads the new input. What the slot cannot see is whether a kernel
//! queued earlier still reads the input it is about to overwrite: that is known once the ticket
//! of the slot's previous buffer has been fetched; while it has not, `send` waits for the device
//! first.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cubecl::bytes::Bytes;
use cubecl::future::DynFut;
use cubecl::prelude::*;
use cubecl::server::ServerError;

use crate::device::DeviceFault;
use crate::util::Buffer;

/// Uploads below this size go through cubecl on CUDA too: the driver copies pageable memory up
/// to 64 KiB asynchronously (through its own staging), so only larger ones gain from ours.
pub const PAGEABLE_ASYNC_BYTES: usize = 64 * 1024;

/// Copies channel `c` of `inputs` to `host[c · stride ..]`, non-finite samples as 0 (NaN or
/// infinite input would poison recursive state — filters, smoothers, model histories — for
/// good); returns how many it replaced. It runs over every sample of every buffer, so the
/// common case is two vectorised passes per channel: count the samples whose exponent is all
/// ones (reading the source, in cache), then a plain copy; only a channel with such samples is
/// copied sample by sample. 2,048 channels × 128 frames on the H200's host took 188 µs as one
/// select-and-count loop (docs/PERFORMANCE.md, thirtieth measurement); here 89 → 41 µs.
pub fn fill_finite(host: &mut [f32], inputs: &[&[f32]], stride: usize) -> u64 {
    const EXPONENT: u32 = 0x7f80_0000;
    let mut replaced = 0u64;
    for (c, x) in inputs.iter().enumerate() {
        let dst = &mut host[c * stride..c * stride + x.len()];
        let bad = x.iter().fold(0u32, |n, v| n + u32::from(v.to_bits() & EXPONENT == EXPONENT));
        if bad == 0 {
            dst.copy_from_slice(x);
        } else {
            for (d, v) in dst.iter_mut().zip(x.iter()) {
                *d = if v.is_finite() { *v } else { 0.0 };
            }
            replaced += u64::from(bad);
        }
    }
    replaced
}

/// Host memory filled in place and uploaded, and the output its launch writes.
pub struct TransferSlot<R: Runtime> {
    /// Shared with the tickets, whose read-backs borrow it: one `Arc` per slot, cloned per
    /// buffer.
    client: Arc<ComputeClient<R>>,
    path: Path,
    output: Buffer,
    /// The generation of the last send whose buffer is not known complete, 0 when none.
    outstanding: Arc<AtomicU64>,
    generation: u64,
    /// Whether the last send went up through cubecl's `create`, whose staging then waits in
    /// cubecl's drop queue until a flush (true before any send).
    uploaded_by_cubecl: bool,
    /// Why the page-locked path is not used, where it was tried.
    fallback: Option<String>,
}

enum Path {
    Plain(Vec<f32>),
    #[cfg(feature = "cuda")]
    Pinned(pinned::PinnedUpload),
}

/// A read-back queued behind a launch; [`Ticket::fetch`] waits for it.
#[must_use = "fetch the ticket to read the output back"]
pub struct Ticket<R: Runtime> {
    // Declared before `client`: fields drop in order, and the read borrows the client. `None`
    // once fetched.
    read: Option<DynFut<Result<Vec<Bytes>, ServerError>>>,
    #[allow(dead_code)] // owned for `read`'s borrow
    client: Arc<ComputeClient<R>>,
    outstanding: Arc<AtomicU64>,
    generation: u64,
}

impl<R: Runtime> TransferSlot<R> {
    /// Room for `len` floats each way, zeroed. On CUDA the page-locked path is checked once here
    /// (a pattern sent and read back); where it fails, or with `CUBEAUDIO_TRANSFERS=cubecl`, the
    /// slot uploads through cubecl.
    pub fn new(client: &ComputeClient<R>, len: usize) -> Self {
        let len = len.max(1);
        let output = Buffer { handle: client.empty(len * 4), len };
        let (path, fallback) = match Self::pinned(client, len) {
            Ok(path) => (path, None),
            Err(why) => (Path::Plain(vec![0.0; len]), why),
        };
        let outstanding = Arc::new(AtomicU64::new(0));
        Self {
            client: Arc::new(client.clone()),
            path,
            output,
            outstanding,
            generation: 0,
            uploaded_by_cubecl: true,
            fallback,
        }
    }

    /// The page-locked path, or why not (`None`: not tried — not CUDA, or turned off).
    #[cfg(feature = "cuda")]
    fn pinned(client: &ComputeClient<R>, len: usize) -> Result<Path, Option<String>> {
        if std::env::var("CUBEAUDIO_TRANSFERS").is_ok_and(|v| v == "cubecl") {
            return Err(None);
        }
        let Some(cuda) = (client as &dyn std::any::Any).downcast_ref::<ComputeClient<cubecl::cuda::CudaRuntime>>()
        else {
            return Err(None);
        };
        match pinned::PinnedUpload::new(cuda, len) {
            Ok(upload) => Ok(Path::Pinned(upload)),
            Err(why) => {
                tracing::warn!("page-locked uploads unavailable ({why}); uploading through cubecl");
                Err(Some(why))
            }
        }
    }

    #[cfg(not(feature = "cuda"))]
    fn pinned(_: &ComputeClient<R>, _: usize) -> Result<Path, Option<String>> {
        Err(None)
    }

    /// Whether uploads come from page-locked memory through a copy stream of the slot's own.
    pub fn is_pinned(&self) -> bool {
        !matches!(self.path, Path::Plain(_))
    }

    /// Why a CUDA slot fell back to cubecl's uploads (`None` when it did not, or was told to).
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// Whether the buffer of the last [`Self::send`] is not known complete (its ticket unfetched).
    pub fn is_outstanding(&self) -> bool {
        self.outstanding.load(Ordering::Acquire) != 0
    }

    /// The input's host side, to fill before [`Self::send`].
    pub fn host_input(&mut self) -> &mut [f32] {
        match &mut self.path {
            Path::Plain(v) => v,
            #[cfg(feature = "cuda")]
            Path::Pinned(p) => p.host_mut(),
        }
    }

    /// Uploads the first `len` floats of the input and returns the input and output device
    /// buffers for the launch; [`Self::read_back`] follows the launch.
    pub fn send(&mut self, len: usize) -> Result<(Buffer, Buffer), DeviceFault> {
        self.generation += 1;
        let previous = self.outstanding.swap(self.generation, Ordering::AcqRel);
        let input = match &mut self.path {
            Path::Plain(v) => Buffer::upload(&self.client, &v[..len.min(v.len())]),
            // Below the driver's limit for asynchronous pageable copies cubecl's upload is the
            // cheaper one (no wait on the copy stream): one stream at 64 frames measured
            // p50 127.5 against 132.8 µs through the page-locked path.
            #[cfg(feature = "cuda")]
            Path::Pinned(p) if len * 4 < PAGEABLE_ASYNC_BYTES => Buffer::upload(&self.client, &p.host_mut()[..len]),
            #[cfg(feature = "cuda")]
            Path::Pinned(p) => {
                if previous != 0 {
                    // A queued kernel may still read the input this copy overwrites.
                    cubecl::future::block_on(self.client.sync()).map_err(DeviceFault::from)?;
                }
                p.send(len).map_err(|e| DeviceFault::Transfer(format!("page-locked upload: {e:?}")))?
            }
        };
        #[cfg(not(feature = "cuda"))]
        let _ = previous;
        self.uploaded_by_cubecl = match &self.path {
            #[cfg(feature = "cuda")]
            Path::Pinned(_) => len * 4 < PAGEABLE_ASYNC_BYTES,
            Path::Plain(_) => true,
        };
        Ok((input, self.output.clone()))
    }

    /// Queues the read-back of the output behind everything queued so far (the launch that
    /// writes it), submits the queue, and returns the ticket that waits for it.
    ///
    /// Only the first `len` floats come back (clamped to `1..=`[`Self::capacity`]): a slot kept
    /// for a batch that shrank reads back what the batch uses, not its old size.
    pub fn read_back(&self, len: usize) -> Result<Ticket<R>, DeviceFault> {
        let client = self.client.clone();
        // SAFETY: the reference points into the `Arc`'s heap allocation, which neither moves nor
        // changes while the ticket holds a clone of the `Arc`; the ticket drops `read` before it.
        let borrowed: &'static ComputeClient<R> = unsafe { &*Arc::as_ptr(&client) };
        let read: DynFut<_> = Box::pin(borrowed.read_async(vec![self.output.prefix(len).handle]));
        // After the slot's own upload the read has issued everything, and a flush would only
        // wait for the previous flush's fence. An upload through cubecl left its staging in
        // cubecl's drop queue: flushed here, one buffer at a time, not in a burst every 64th
        // launch (the one-stream latency path).
        if self.uploaded_by_cubecl {
            self.client.flush().map_err(DeviceFault::from)?;
        }
        Ok(Ticket { read: Some(read), client, outstanding: self.outstanding.clone(), generation: self.generation })
    }

    /// Floats the slot holds (host input, device input and output).
    pub fn capacity(&self) -> usize {
        self.output.len
    }
}

impl<R: Runtime> Ticket<R> {
    /// Waits for the read-back and hands the output (the floats asked for) to `read` in place.
    pub fn fetch(mut self, read: impl FnOnce(&[f32])) -> Result<(), DeviceFault> {
        let pending = self.read.take().expect("a ticket is fetched once (fetch takes it by value)");
        let bytes = cubecl::future::block_on(pending).map_err(DeviceFault::from)?;
        let floats = bytes.first().map(|b| f32::from_bytes(b)).unwrap_or_default();
        read(floats);
        // The read-back came after the launch on the same queue: the launch is done, and with
        // it every read of the slot's input.
        let _ = self.outstanding.compare_exchange(self.generation, 0, Ordering::AcqRel, Ordering::Relaxed);
        Ok(())
    }
}

impl<R: Runtime> Drop for Ticket<R> {
    fn drop(&mut self) {
        // Left unpolled, wgpu's read keeps its staging buffer mapped and the next submit fails
        // validation: a ticket dropped unfetched completes its read (the outcome is nobody's).
        if let Some(pending) = self.read.take() {
            drop(cubecl::future::block_on(pending));
        }
    }
}

#[cfg(feature = "cuda")]
mod pinned {
    use cubecl::cuda::CudaRuntime;
    use cubecl::prelude::*;
    use cudarc::driver::{result, sys, DriverError};

    use crate::util::Buffer;

    /// Page-locked host memory, a non-blocking copy stream and the device buffer it fills.
    pub(super) struct PinnedUpload {
        host: *mut f32,
        len: usize,
        input: Buffer,
        input_ptr: sys::CUdeviceptr,
        device: sys::CUdevice,
        context: sys::CUcontext,
        stream: sys::CUstream,
    }

    // SAFETY: the host memory and stream are owned by this value (made in `new`, freed in
    // `drop`) and reached only through `&mut self` or `&self` methods that copy from them; the
    // context is the device's primary context, made current by every method first.
    unsafe impl Send for PinnedUpload {}
    unsafe impl Sync for PinnedUpload {}

    impl PinnedUpload {
        pub(super) fn new(client: &ComputeClient<CudaRuntime>, len: usize) -> Result<Self, String> {
            let input = Buffer { handle: client.empty(len * 4), len };
            // The allocation is stream-ordered on cubecl's stream: complete it before another
            // stream writes there.
            cubecl::future::block_on(client.sync()).map_err(|e| format!("{e:?}"))?;
            let resource = client.get_resource(input.handle.clone()).map_err(|e| format!("{e:?}"))?;
            let input_ptr = resource.resource().ptr;
            // The device's primary context (cubecl's): pool allocations carry no context of
            // their own, so ask the pointer for its device instead.
            let (device, context) = unsafe {
                let mut ordinal = std::mem::MaybeUninit::<std::ffi::c_int>::uninit();
                sys::cuPointerGetAttribute(
                    ordinal.as_mut_ptr().cast(),
                    sys::CUpointer_attribute::CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL,
                    input_ptr,
                )
                .result()
                .map_err(|e| format!("device of the input buffer: {e:?}"))?;
                let device = result::device::get(ordinal.assume_init()).map_err(|e| format!("{e:?}"))?;
                (device, result::primary_ctx::retain(device).map_err(|e| format!("primary context: {e:?}"))?)
            };
            let release = |why: String| {
                unsafe { result::primary_ctx::release(device) }.ok();
                why
            };
            unsafe { result::ctx::set_current(context) }.map_err(|e| release(format!("{e:?}")))?;
            let host = unsafe { result::malloc_host(len * 4, 0) }
                .map_err(|e| release(format!("page-locked memory: {e:?}")))?;
            let stream = match result::stream::create(result::stream::StreamKind::NonBlocking) {
                Ok(s) => s,
                Err(e) => {
                    unsafe { result::free_host(host) }.ok();
                    return Err(release(format!("copy stream: {e:?}")));
                }
            };
            let mut upload = Self { host: host.cast(), len, input, input_ptr, device, context, stream };
            upload.check(client)?;
            Ok(upload)
        }

        /// A pattern up and back through cubecl's read: the pointer is the buffer's own.
        fn check(&mut self, client: &ComputeClient<CudaRuntime>) -> Result<(), String> {
            let pattern: Vec<f32> = (0..self.len).map(|i| (i % 977) as f32 - 1.5).collect();
            self.host_mut().copy_from_slice(&pattern);
            let sent = self.send(self.len).map_err(|e| format!("{e:?}"))?;
            let back = client.read_one(sent.handle).map_err(|e| format!("{e:?}"))?;
            if f32::from_bytes(&back).get(..self.len) != Some(pattern.as_slice()) {
                return Err("a pattern sent through the page-locked path did not come back".into());
            }
            self.host_mut().fill(0.0);
            self.send(self.len).map_err(|e| format!("{e:?}"))?;
            Ok(())
        }

        pub(super) fn host_mut(&mut self) -> &mut [f32] {
            // SAFETY: `host` holds `len` floats for the life of `self`; `&mut self` makes this
            // the only view, and `send` waits for the copy that reads it before returning.
            unsafe { std::slice::from_raw_parts_mut(self.host, self.len) }
        }

        /// Copies the first `len` floats up; the buffer returned is the whole input.
        pub(super) fn send(&mut self, len: usize) -> Result<Buffer, DriverError> {
            unsafe {
                result::ctx::set_current(self.context)?;
                let host = std::slice::from_raw_parts(self.host, len.min(self.len));
                result::memcpy_htod_async(self.input_ptr, host, self.stream)?;
                result::stream::synchronize(self.stream)?;
            }
            Ok(self.input.clone())
        }
    }

    impl Drop for PinnedUpload {
        fn drop(&mut self) {
            unsafe {
                if result::ctx::set_current(self.context).is_ok() {
                    result::stream::synchronize(self.stream).ok();
                    result::stream::destroy(self.stream).ok();
                    result::free_host(self.host.cast()).ok();
                }
                result::primary_ctx::release(self.device).ok();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fill_finite;

    #[test]
    fn fill_finite_copies_and_zeroes_exactly_the_non_finite_samples() {
        let specials = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -f32::NAN, f32::from_bits(0x7f80_0001)];
        let edge = [f32::MAX, f32::MIN, f32::MIN_POSITIVE, 1e-45, -0.0, 0.0];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for frames in [1usize, 7, 64, 129] {
            let channels: Vec<Vec<f32>> = (0..5)
                .map(|c| {
                    (0..frames)
                        .map(|i| match (c, next() % 16) {
                            (0, _) => (i as f32 - 3.0) * 0.25,
                            (_, 0) => specials[(next() % 5) as usize],
                            (_, 1) => edge[(next() % 6) as usize],
                            _ => f32::from_bits(next() as u32 & 0x3fff_ffff),
                        })
                        .collect()
                })
                .collect();
            let inputs: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
            let stride = frames + 3;
            let mut host = vec![7.0f32; 5 * stride];
            let replaced = fill_finite(&mut host, &inputs, stride);
            let mut expected = 0;
            for (c, x) in channels.iter().enumerate() {
                for (i, v) in x.iter().enumerate() {
                    let got = host[c * stride + i];
                    if v.is_finite() {
                        assert_eq!(got.to_bits(), v.to_bits(), "channel {c} frame {i}");
                    } else {
                        assert_eq!(got.to_bits(), 0, "channel {c} frame {i}: {v} not zeroed");
                        expected += 1;
                    }
                }
                // Past the channel's frames the host buffer is untouched.
                assert!(host[c * stride + frames..(c + 1) * stride].iter().all(|&v| v == 7.0));
            }
            assert_eq!(replaced, expected, "{frames} frames");
        }
    }
}
