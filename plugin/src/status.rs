//! The editor's status lines: the model, where the process-wide engine runs and how its cycles
//! go, and where this instance's output comes from (with the reason when it left the GPU).
//! Plain text from shared state, so the lines are tested without a window.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use cubeaudio_nam::live::{InstanceStatus, SharedEngine};

/// What the editor knows about the instance it belongs to (set off the audio thread when a
/// model is prepared).
#[derive(Clone)]
pub struct Joined {
    /// Live counters of the instance (on the GPU or not, why it left).
    pub status: Arc<InstanceStatus>,
    /// Why it joined on the CPU engine, if it did.
    pub cpu_reason: Option<String>,
}

/// Three lines for the editor.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusLines {
    /// The model, or why none plays.
    pub model: String,
    /// Backend and device, instances in the batch, device time per cycle.
    pub engine: String,
    /// Where this instance's output comes from.
    pub instance: String,
    /// Whether something needs the user's attention (a fallback, a device fault).
    pub warning: bool,
}

/// The lines for `model` (the prepared model's line) and `joined` (the instance, if one was
/// prepared), reading the engine's counters if it has started.
pub fn lines(model: &str, joined: Option<&Joined>) -> StatusLines {
    let engine = SharedEngine::global_if_started();
    let mut warning = false;
    let engine_line = match &engine {
        None => "engine not started (no model loaded yet)".to_string(),
        Some(engine) => {
            let s = engine.status();
            if engine.on_gpu() {
                let cycles = s.cycles.load(Ordering::Relaxed);
                let mut line = format!(
                    "{} | {} in the batch | device round trip {} per cycle (longest {}) | {cycles} cycles, {} late",
                    s.backend,
                    plural(s.gpu_instances.load(Ordering::Relaxed), "instance"),
                    micros(s.last_cycle_ns.load(Ordering::Relaxed)),
                    micros(s.max_cycle_ns.load(Ordering::Relaxed)),
                    s.stalled.load(Ordering::Relaxed),
                );
                if let Some(fault) = s.fault() {
                    warning = true;
                    line.push_str(&format!(" | DEVICE FAULT: {fault}"));
                }
                line
            } else {
                match &s.cpu_reason {
                    Some(why) => format!("CPU engine (no GPU: {why})"),
                    None => "CPU engine".to_string(),
                }
            }
        }
    };
    let instance = match joined {
        None => "this instance: silent until a model loads".to_string(),
        Some(j) if j.status.on_gpu() => {
            format!("this instance: on the GPU, in the shared launch ({} blocks)", j.status.blocks())
        }
        Some(j) => {
            let fault = engine.as_ref().and_then(|e| e.status().fault());
            match j.status.miss_reason(fault) {
                Some(why) => {
                    warning = true;
                    format!("this instance: WARNING {why}")
                }
                None => match &j.cpu_reason {
                    Some(why) => format!("this instance: CPU engine ({why})"),
                    None => "this instance: CPU engine".to_string(),
                },
            }
        }
    };
    StatusLines { model: model.to_string(), engine: engine_line, instance, warning }
}

fn micros(ns: u64) -> String {
    if ns >= 10_000_000 {
        format!("{:.0} ms", ns as f64 / 1e6)
    } else {
        format!("{:.0} µs", ns as f64 / 1e3)
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_counts_read_naturally() {
        assert_eq!(micros(183_400), "183 µs");
        assert_eq!(micros(12_600_000), "13 ms");
        assert_eq!(plural(1, "instance"), "1 instance");
        assert_eq!(plural(64, "instance"), "64 instances");
    }
}
