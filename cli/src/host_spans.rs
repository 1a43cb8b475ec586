//! Where a buffer's host time goes: the runtime marks the steps of a graph's `process_async`
//! and `Pending::wait` with trace spans (target [`HOST_SPANS`]); [`breakdown`] runs a closure
//! with a subscriber of its own on this thread that sums the time spent inside each span.
//! Used by `bench --rig` after its timed buffers, so the timing does not disturb them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cubeaudio_runtime::graph::HOST_SPANS;
use tracing::span::Id;
use tracing::Subscriber;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

#[derive(Default)]
struct Clock {
    open: HashMap<Id, Instant>,
    /// Per span name: total time inside.
    totals: BTreeMap<&'static str, Duration>,
}

/// Sums the time between entering and leaving each span.
#[derive(Clone, Default)]
struct SpanClock(Arc<Mutex<Clock>>);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for SpanClock {
    fn on_enter(&self, id: &Id, _: Context<'_, S>) {
        if let Ok(mut c) = self.0.lock() {
            c.open.insert(id.clone(), Instant::now());
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        let now = Instant::now();
        let Some(name) = ctx.span(id).map(|s| s.name()) else { return };
        if let Ok(mut c) = self.0.lock() {
            if let Some(start) = c.open.remove(id) {
                *c.totals.entry(name).or_default() += now - start;
            }
        }
    }
}

/// Runs `work` (which processes `buffers` buffers) with the host spans timed; returns its
/// result and, per span name in the order a buffer meets them, the mean µs per buffer.
pub fn breakdown<T>(buffers: usize, work: impl FnOnce() -> T) -> (T, Vec<(String, f64)>) {
    let clock = SpanClock::default();
    let subscriber = tracing_subscriber::registry()
        .with(clock.clone().with_filter(Targets::new().with_target(HOST_SPANS, LevelFilter::TRACE)));
    let out = tracing::subscriber::with_default(subscriber, work);
    let totals = clock.0.lock().map(|c| c.totals.clone()).unwrap_or_default();
    const ORDER: [&str; 9] = ["fill", "send", "params", "convert", "launch", "routes", "read_back", "wait", "copy_out"];
    let rank = |n: &str| ORDER.iter().position(|o| *o == n).unwrap_or(ORDER.len());
    let mut spans: Vec<(String, f64)> =
        totals.into_iter().map(|(name, t)| (name.to_string(), t.as_secs_f64() * 1e6 / buffers.max(1) as f64)).collect();
    spans.sort_by_key(|(n, _)| rank(n));
    (out, spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_of_the_host_target_are_timed_and_others_not() {
        assert_eq!(HOST_SPANS, "cubeaudio::host", "the runtime's spans are the ones timed");
        let ((), spans) = breakdown(2, || {
            for _ in 0..2 {
                let _a = tracing::trace_span!(target: "cubeaudio::host", "fill").entered();
                std::thread::sleep(Duration::from_millis(2));
                drop(_a);
                let _b = tracing::trace_span!(target: "elsewhere", "other").entered();
            }
        });
        assert_eq!(spans.len(), 1, "{spans:?}");
        assert_eq!(spans[0].0, "fill");
        assert!(spans[0].1 >= 2000.0 && spans[0].1 < 50_000.0, "{spans:?}");
    }
}
