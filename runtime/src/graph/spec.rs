//! The declarative graph: what `rig.json` holds (documented in docs/GRAPHS.md).

use serde::Deserialize;

use crate::error::GraphError;
use crate::processor::Settings;

/// A graph input or output port.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphPort {
    /// The port's name, used in connections.
    pub name: String,
    /// Channels of the port (default 1).
    #[serde(default = "one")]
    pub channels: usize,
}

fn one() -> usize {
    1
}

/// One processor of a rig file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessorSpec {
    /// Unique id, used in connections (`"amp.in"`) and to set parameters.
    pub id: String,
    /// The processor type, as registered (`"gain"`, `"nam"`, …).
    #[serde(rename = "type")]
    pub type_name: String,
    /// Type-specific settings (files, shapes, channel counts).
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
    /// A graph input or a processor output.
    pub from: String,
    /// A processor input or a graph output.
    pub to: String,
}

/// A rig file: the graph's ports, its processors and their connections (docs/GRAPHS.md).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphSpec {
    /// The graph's inputs, fed from the host in order.
    pub inputs: Vec<GraphPort>,
    /// The graph's outputs, read back in order.
    pub outputs: Vec<GraphPort>,
    /// The processors, any order.
    pub processors: Vec<ProcessorSpec>,
    /// Signal connections; every required input takes exactly one.
    pub connections: Vec<Connection>,
}

pub use crate::processor::MAX_PORT_CHANNELS;

/// Largest graph accepted, in processors.
pub const MAX_PROCESSORS: usize = 65_536;

impl GraphSpec {
    /// Parses a rig file's JSON; unknown keys are errors.
    ///
    /// ```
    /// use cubeaudio_runtime::graph::GraphSpec;
    ///
    /// let rig = r#"{"inputs": [{"name": "in"}], "outputs": [{"name": "out"}],
    ///   "processors": [{"id": "level", "type": "gain", "params": {"gain_db": -6}}],
    ///   "connections": [{"from": "in", "to": "level.in"}, {"from": "level.out", "to": "out"}]}"#;
    /// let spec = GraphSpec::from_json(rig).unwrap();
    /// assert_eq!(spec.processors[0].params["gain_db"], -6.0);
    /// assert!(GraphSpec::from_json(r#"{"inputs": []}"#).is_err());
    /// ```
    pub fn from_json(text: &str) -> Result<Self, GraphError> {
        serde_json::from_str(text).map_err(|e| GraphError::Parse(e.to_string()))
    }
}
