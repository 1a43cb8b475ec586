//! The plugin's parameters (ids are stable: projects store them) and its persisted model path.

use std::sync::{Arc, RwLock};

use nice_plug::prelude::*;

/// What a host automates and a project stores.
#[derive(Params)]
pub struct NamParams {
    /// Gain before the model, dB.
    #[id = "input_gain"]
    pub input_gain: FloatParam,
    /// Gain after the model, dB.
    #[id = "output_gain"]
    pub output_gain: FloatParam,
    /// Slimmable size in [0, 1] for slimmable models (A2: below 0.5 selects A2-Lite).
    #[id = "slim"]
    pub slim: FloatParam,
    /// The dry input (delayed by the plugin's latency, so tracks stay aligned).
    #[id = "bypass"]
    pub bypass: BoolParam,
    /// The .nam file, restored with the project.
    #[persist = "model_path"]
    pub model_path: Arc<RwLock<String>>,
}

fn gain(name: &str) -> FloatParam {
    FloatParam::new(name, 0.0, FloatRange::Linear { min: -24.0, max: 24.0 })
        .with_smoother(SmoothingStyle::Linear(20.0))
        .with_step_size(0.1)
        .with_unit(" dB")
}

impl Default for NamParams {
    fn default() -> Self {
        Self {
            input_gain: gain("Input"),
            output_gain: gain("Output"),
            slim: FloatParam::new("Slim", 1.0, FloatRange::Linear { min: 0.0, max: 1.0 }).with_step_size(0.01),
            bypass: BoolParam::new("Bypass", false).make_bypass(),
            model_path: Arc::new(RwLock::new(String::new())),
        }
    }
}
