//! cubeaudio's NAM amp plugin (CLAP and VST3, built with nice-plug).
//!
//! Every instance in a host process joins the process-wide [`SharedEngine`]: per host cycle
//! the device thread runs all instances' blocks in one launch (instances of different models
//! of the same block size share it). The latency contract is the engine's: one host buffer
//! (the host's largest), reported to the host; bypass plays the dry signal delayed by the same
//! amount. Model loading, compilation and prewarm happen in `activate` or a background task,
//! never on the audio thread; a new instance is handed to the audio thread through a slot it
//! only `try_lock`s. With no GPU, or after the GPU misses a deadline, instances run on the CPU
//! engine (see `cubeaudio_nam::live`). docs/PLUGIN.md has the details.

mod alloc_count;
mod crossfade;
mod editor;
mod ffi;
pub mod file_browser;
mod knob;
mod params;
mod slot;
pub mod status;

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cubeaudio_nam::live::{Instance, SharedEngine, Wait};
use cubeaudio_nam::{load_file, LoadOptions};
use nice_plug::prelude::*;
use nice_plug_egui::EguiEditorState;

use crossfade::Crossfade;

pub use params::NamParams;
pub use slot::{InstanceSlot, Prepared};
pub use status::{Joined, StatusLines};

/// What the audio thread, background tasks and the editor share.
#[derive(Default)]
pub struct Shared {
    /// A freshly prepared instance on its way to the audio thread (and the old one on its way
    /// back, to be dropped here).
    pub slot: InstanceSlot,
    /// Host buffer (the instance's block) and rate, from `activate`.
    block: AtomicUsize,
    rate: AtomicU32,
    /// The editor's model line: the model and its notes, or why none plays.
    pub status: Mutex<String>,
    /// The last prepared instance's live state, for the editor.
    joined: Mutex<Option<Joined>>,
    /// Set when a background reload has finished (loaded or failed).
    reload_finished: std::sync::atomic::AtomicBool,
}

impl Shared {
    fn set_status(&self, line: String) {
        if let Ok(mut s) = self.status.lock() {
            *s = line;
        }
    }

    fn set_joined(&self, joined: Option<Joined>) {
        if let Ok(mut j) = self.joined.lock() {
            *j = joined;
        }
    }

    /// The editor's status lines now.
    pub fn status_lines(&self) -> StatusLines {
        let model = self.status.lock().map(|s| s.clone()).unwrap_or_default();
        let joined = self.joined.lock().ok().and_then(|j| j.clone());
        status::lines(&model, joined.as_ref())
    }

    /// The host buffer from `activate` (0 before it): the plugin's latency in frames.
    pub fn block(&self) -> usize {
        self.block.load(Ordering::Acquire)
    }

    /// Loads the model at `params`' path and joins the process-wide engine (off the audio
    /// thread: parses, compiles, prewarms).
    fn prepare(&self, params: &NamParams) -> Result<Prepared, String> {
        let path = params.model_path.read().map_err(|_| "state lock poisoned")?.clone();
        self.prepare_path(path, params)
    }

    /// [`Self::prepare`] for the model at `path`.
    fn prepare_path(&self, path: String, params: &NamParams) -> Result<Prepared, String> {
        if path.is_empty() {
            return Err("no model loaded".into());
        }
        let (block, rate) = (self.block.load(Ordering::Acquire), f32::from_bits(self.rate.load(Ordering::Acquire)));
        if block == 0 {
            return Err("not activated".into());
        }
        let mut loaded = load_file(path.as_ref(), LoadOptions { fast_tanh: true }).map_err(|e| e.to_string())?;
        if loaded.dsp.in_channels() != 1 || loaded.dsp.out_channels() != 1 {
            return Err(format!("{path}: the plugin runs mono-in/mono-out models"));
        }
        let slim = params.slim.value() as f64;
        let slimmable = loaded.dsp.set_slim(slim).map_err(|e| e.to_string())?;
        let engine = SharedEngine::global();
        let instance = engine.join(loaded.dsp.as_ref(), block, rate as f64).map_err(|e| e.to_string())?;
        // Its first output is `block` frames late, and settled one receptive field after that
        // (an LSTM: its prewarm length); at most one second.
        let history = loaded.dsp.receptive_field().unwrap_or_else(|| loaded.dsp.prewarm_samples());
        let settle = (instance.latency() + history).min(rate as usize);
        let name = std::path::Path::new(&path).file_name().map_or(path.clone(), |n| n.to_string_lossy().into());
        let mut line = format!("model: {name}");
        self.set_joined(Some(Joined { status: instance.status(), cpu_reason: instance.fallback() }));
        if slimmable {
            line.push_str(&format!(" | slim {slim:.2}"));
        }
        if let Some(r) = loaded.sample_rate {
            if (r - rate as f64).abs() > 0.5 {
                line.push_str(&format!(" | WARNING: a {r} Hz model at a {rate} Hz session (not resampled)"));
            }
        }
        self.set_status(line);
        Ok(Prepared { instance, settle })
    }
}

/// Work the audio thread asks for and a background thread does.
pub enum Task {
    /// Prepare the model again (a new slim value) and hand it to the audio thread.
    Reload,
    /// Prepare the model at this path (chosen in the editor); only if it loads does it become
    /// the plugin's model (and the state's path), else the current one keeps playing.
    Load(String),
}

/// The plugin.
pub struct NamPlugin {
    params: Arc<NamParams>,
    shared: Arc<Shared>,
    instance: Option<Instance>,
    offline: bool,
    rate: f32,
    dry: Vec<f32>,
    wet: Vec<f32>,
    /// The bypass path: the dry input delayed by the latency.
    delay: Vec<f32>,
    delay_at: usize,
    prepared_slim: f32,
    reload_asked: bool,
    editor_state: Arc<EguiEditorState>,
    /// The instance a new one replaces, played until the crossfade to the new one is over.
    retiring: Option<Instance>,
    /// A replaced instance whose crossfade is over, waiting for the slot to take it.
    to_drop: Option<Instance>,
    /// The replacement in progress (with `retiring`).
    fade: Crossfade,
    fade_len: usize,
    /// The retiring instance's output block.
    old_out: Vec<f32>,
}

/// Replacements whose crossfade completed (exported to test hosts by `ffi`).
static REPLACEMENTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Length of the crossfade from a replaced model to the new one.
const CROSSFADE: Duration = Duration::from_millis(30);

impl Default for NamPlugin {
    fn default() -> Self {
        Self {
            params: Arc::new(NamParams::default()),
            shared: Arc::new(Shared::default()),
            instance: None,
            offline: false,
            rate: 48_000.0,
            dry: Vec::new(),
            wet: Vec::new(),
            delay: Vec::new(),
            delay_at: 0,
            prepared_slim: 1.0,
            reload_asked: false,
            editor_state: editor::default_state(),
            retiring: None,
            to_drop: None,
            fade: Crossfade::new(0, 1),
            fade_len: 1,
            old_out: Vec::new(),
        }
    }
}

impl NamPlugin {
    /// The state shared with background tasks and the editor.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

impl Plugin for NamPlugin {
    const NAME: &'static str = "cubeaudio NAM";
    const VENDOR: &'static str = "cubeaudio";
    const URL: &'static str = "https://github.com/cubeaudio/cubeaudio";
    const EMAIL: &'static str = "cubeaudio@users.noreply.github.com";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(1),
            main_output_channels: NonZeroU32::new(1),
            ..AudioIOLayout::const_default()
        },
        // Stereo tracks: the left channel through the model, the result on both sides.
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(2),
            main_output_channels: NonZeroU32::new(2),
            ..AudioIOLayout::const_default()
        },
    ];

    type Editor = nice_plug_egui::EguiEditor<editor::NamEditor>;
    type SysExMessage = ();
    type BackgroundTask = Task;

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn editor(&mut self, executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        editor::create(self.params.clone(), self.shared.clone(), executor, self.editor_state.clone())
    }

    fn task_executor(&mut self) -> TaskExecutor<Self> {
        let (shared, params) = (self.shared.clone(), self.params.clone());
        Box::new(move |task| match task {
            Task::Reload => {
                match shared.prepare(&params) {
                    Ok(prepared) => shared.slot.offer(prepared),
                    Err(why) => shared.set_status(why),
                }
                // Success or not, the audio thread may ask again (a failed reload must not
                // stop every later slim change from reloading).
                shared.reload_finished.store(true, Ordering::Release);
            }
            // Not active yet (an editor opened before the host started audio): `activate`
            // loads the stored path.
            Task::Load(path) if shared.block() == 0 => {
                shared.set_status(format!("{path} loads when the host starts processing"));
                if let Ok(mut p) = params.model_path.write() {
                    *p = path;
                }
            }
            Task::Load(path) => match shared.prepare_path(path.clone(), &params) {
                Ok(prepared) => {
                    if let Ok(mut p) = params.model_path.write() {
                        *p = path;
                    }
                    shared.slot.offer(prepared);
                }
                Err(why) => {
                    let playing = params.model_path.read().map(|p| p.clone()).unwrap_or_default();
                    let still = if playing.is_empty() { String::new() } else { format!(" (still playing {playing})") };
                    shared.set_status(format!("could not load {path}: {why}{still}"));
                }
            },
        })
    }

    fn activate(
        &mut self,
        _layout: &AudioIOLayout,
        config: &BufferConfig,
        context: &mut impl ActivateContext<Self>,
    ) -> bool {
        let block = config.max_buffer_size.max(1) as usize;
        self.shared.block.store(block, Ordering::Release);
        self.shared.rate.store(config.sample_rate.to_bits(), Ordering::Release);
        self.rate = config.sample_rate;
        self.offline = config.process_mode == ProcessMode::Offline;
        context.set_latency_samples(block as u32);
        self.dry = vec![0.0; block];
        self.wet = vec![0.0; block];
        self.delay = vec![0.0; block];
        self.delay_at = 0;
        self.old_out = vec![0.0; block];
        self.fade_len = ((CROSSFADE.as_secs_f64() * config.sample_rate as f64) as usize).max(1);
        self.retiring = None;
        self.to_drop = None;
        self.prepared_slim = self.params.slim.value();
        self.reload_asked = false;
        self.shared.slot.clear();
        // A restored project (or a reactivation at another buffer size) loads here, off the
        // audio thread; a model that fails leaves the plugin passing the dry signal through.
        self.instance = match self.shared.prepare(&self.params) {
            Ok(p) => Some(p.instance),
            Err(why) => {
                self.shared.set_status(why);
                self.shared.set_joined(None);
                None
            }
        };
        true
    }

    fn deactivate(&mut self) {
        self.instance = None;
        self.retiring = None;
        self.to_drop = None;
        self.shared.slot.clear();
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        alloc_count::watching(|| self.process_block(buffer, context))
    }
}

impl NamPlugin {
    /// The audio path (see [`alloc_count`]: allocations here are counted).
    fn process_block(&mut self, buffer: &mut Buffer, context: &mut impl ProcessContext<Self>) -> ProcessStatus {
        let start = Instant::now();
        self.shared.slot.retire(&mut self.to_drop);
        if self.retiring.is_none() && self.to_drop.is_none() {
            if let Some(prepared) = self.shared.slot.take() {
                self.reload_asked = false;
                // With a model playing, crossfade to the new one once it has settled; else
                // it simply starts.
                self.retiring = self.instance.replace(prepared.instance);
                self.fade = Crossfade::new(prepared.settle, self.fade_len);
            }
        }
        let slim = self.params.slim.value();
        if self.shared.reload_finished.swap(false, Ordering::AcqRel) {
            self.reload_asked = false;
        }
        if (slim - self.prepared_slim).abs() > 1e-3 && !self.reload_asked && self.instance.is_some() {
            self.prepared_slim = slim;
            self.reload_asked = true;
            context.execute_background(Task::Reload);
        }
        let channels = buffer.as_slice();
        let n = channels.first().map_or(0, |c| c.len()).min(self.dry.len());
        if n == 0 {
            return ProcessStatus::Normal;
        }
        let (dry, wet) = (&mut self.dry[..n], &mut self.wet[..n]);
        dry.copy_from_slice(&channels[0][..n]);
        let bypass = self.params.bypass.value();
        match &mut self.instance {
            Some(instance) => {
                for x in wet.iter_mut().zip(dry.iter()) {
                    *x.0 = x.1 * util::db_to_gain(self.params.input_gain.smoothed.next());
                }
                // `wet` holds the gained input; the model's output goes straight into the
                // host's channel, and `dry` keeps the untouched input for the bypass path.
                let wait = if self.offline {
                    Wait::Offline
                } else {
                    // Half of this buffer's duration for the device's block, from the start of
                    // the callback; past it the instance falls back to its CPU engine.
                    Wait::Until(start + Duration::from_secs_f64(0.5 * n as f64 / self.rate as f64))
                };
                let (input, output) = (&*wet, &mut channels[0][..n]);
                instance.process(input, output, wait);
                if let Some(old) = &mut self.retiring {
                    let heard = &mut self.old_out[..n];
                    old.process(input, heard, wait);
                    if self.fade.mix(output, heard) {
                        REPLACEMENTS.fetch_add(1, Ordering::Relaxed);
                        self.to_drop = self.retiring.take();
                        self.shared.slot.retire(&mut self.to_drop);
                    }
                }
                for y in output.iter_mut() {
                    *y *= util::db_to_gain(self.params.output_gain.smoothed.next());
                }
            }
            None => channels[0][..n].fill(0.0),
        }
        // The dry path runs always, so bypass (and a plugin without a model) stays aligned
        // with the model's latency.
        let delayed = &mut self.delay;
        for (t, x) in dry.iter().enumerate() {
            let d = std::mem::replace(&mut delayed[self.delay_at], *x);
            self.delay_at = (self.delay_at + 1) % delayed.len();
            if bypass || self.instance.is_none() {
                channels[0][t] = d;
            }
        }
        let (first, rest) = channels.split_at_mut(1);
        for c in rest {
            c[..n].copy_from_slice(&first[0][..n]);
        }
        ProcessStatus::Normal
    }
}

impl ClapPlugin for NamPlugin {
    const CLAP_ID: &'static str = "org.cubeaudio.nam";
    const CLAP_DESCRIPTION: Option<&'static str> =
        Some("Neural Amp Modeler models; every instance in the host shares one GPU launch per cycle");
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] =
        &[ClapFeature::AudioEffect, ClapFeature::Mono, ClapFeature::Stereo, ClapFeature::Distortion];
}

impl Vst3Plugin for NamPlugin {
    const VST3_CLASS_ID: [u8; 16] = *b"cubeaudioNAMamp1";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] = &[Vst3SubCategory::Fx, Vst3SubCategory::Distortion];
}

nice_export_clap!(NamPlugin);
nice_export_vst3!(NamPlugin);
