//! Model metadata (SPEC §1.2): levels the core stores, and the descriptive fields users want.

use serde_json::Value;

/// What a file's `metadata` says about the capture; absent or malformed fields are `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    /// Loudness of the model's output, dB.
    pub loudness: Option<f64>,
    /// Input level the capture was calibrated at, dBu.
    pub input_level_dbu: Option<f64>,
    /// Output level the capture was calibrated at, dBu.
    pub output_level_dbu: Option<f64>,
    /// Name of the capture.
    pub name: Option<String>,
    /// Who made it.
    pub modeled_by: Option<String>,
    /// Manufacturer of the gear.
    pub gear_make: Option<String>,
    /// Model of the gear.
    pub gear_model: Option<String>,
    /// Kind of gear (amp, pedal, …).
    pub gear_type: Option<String>,
    /// Character of the tone (clean, crunch, …).
    pub tone_type: Option<String>,
}

impl Metadata {
    /// Reads what it can of `v`; never fails.
    pub fn parse(v: Option<&Value>) -> Self {
        let Some(Value::Object(o)) = v else { return Self::default() };
        let num = |k: &str| o.get(k).and_then(Value::as_f64);
        let text = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
        Self {
            loudness: num("loudness"),
            input_level_dbu: num("input_level_dbu"),
            output_level_dbu: num("output_level_dbu"),
            name: text("name"),
            modeled_by: text("modeled_by"),
            gear_make: text("gear_make"),
            gear_model: text("gear_model"),
            gear_type: text("gear_type"),
            tone_type: text("tone_type"),
        }
    }
}
