//! Model metadata (SPEC §1.2): levels the core stores, and the descriptive fields users want.

use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    pub loudness: Option<f64>,
    pub input_level_dbu: Option<f64>,
    pub output_level_dbu: Option<f64>,
    pub name: Option<String>,
    pub modeled_by: Option<String>,
    pub gear_make: Option<String>,
    pub gear_model: Option<String>,
    pub gear_type: Option<String>,
    pub tone_type: Option<String>,
}

impl Metadata {
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
