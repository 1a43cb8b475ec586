//! The declarative graph: what `rig.json` holds (documented in docs/GRAPHS.md).

use serde::Deserialize;

use crate::error::GraphError;
use crate::processor::Settings;

/// A graph input or output port.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphPort {
    pub name: String,
    #[serde(default = "one")]
    pub channels: usize,
}

fn one() -> usize {
    1
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessorSpec {
    pub id: String,
    #[serde(rename = "type")]
    pub type_name: String,
    #[serde(default)]
    pub settings: Settings,
    /// Parameter values by name; the rest take their defaults.
    #[serde(default)]
    pub params: std::collections::BTreeMap<String, f32>,
}

/// `from` is a graph input (`"in"`) or a processor output (`"amp.out"`); `to` is a processor
/// input (`"cab.in"`) or a graph output (`"out"`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connection {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphSpec {
    pub inputs: Vec<GraphPort>,
    pub outputs: Vec<GraphPort>,
    pub processors: Vec<ProcessorSpec>,
    pub connections: Vec<Connection>,
}

pub use crate::processor::MAX_PORT_CHANNELS;

/// Largest graph accepted, in processors.
pub const MAX_PROCESSORS: usize = 65_536;

impl GraphSpec {
    pub fn from_json(text: &str) -> Result<Self, GraphError> {
        serde_json::from_str(text).map_err(|e| GraphError::Parse(e.to_string()))
    }
}
