//! From a [`GraphSpec`] to a [`ValidGraph`], or the first precise reason it cannot run.

use std::collections::HashMap;

use cubecl::prelude::*;

use super::spec::{GraphSpec, MAX_PORT_CHANNELS, MAX_PROCESSORS};
use crate::error::GraphError;
use crate::processor::Description;
use crate::registry::Registry;

/// Where a signal comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// A graph input channel group (port index).
    GraphInput(usize),
    /// (processor index, output port index)
    Output(usize, usize),
}

/// A processor that passed validation.
#[derive(Debug, Clone)]
pub struct ValidProcessor {
    /// What its type said about it.
    pub description: Description,
    /// Source of each input port; `None` only for optional ports.
    pub inputs: Vec<Option<Source>>,
    /// Values in description order.
    pub params: Vec<f32>,
}

/// A graph that passed every check; processors in spec order.
#[derive(Debug, Clone)]
pub struct ValidGraph {
    /// The rig it came from.
    pub spec: GraphSpec,
    /// The processors, in spec order.
    pub processors: Vec<ValidProcessor>,
    /// The source of each graph output port.
    pub outputs: Vec<Source>,
}

enum From_ {
    Graph(usize),
    Proc(usize, usize),
}

enum To {
    Graph(usize),
    Proc(usize, usize),
}

/// Checks `spec` against the types of `registry`: ids, ports, channel counts, connections, cycles and parameter values; the first problem found is the error.
pub fn validate<R: Runtime>(spec: &GraphSpec, registry: &Registry<R>) -> Result<ValidGraph, GraphError> {
    if spec.processors.len() > MAX_PROCESSORS {
        return Err(GraphError::TooLarge { what: "processors", value: spec.processors.len(), limit: MAX_PROCESSORS });
    }
    if spec.outputs.is_empty() {
        return Err(GraphError::NoOutputs);
    }
    let mut port_names: HashMap<&str, ()> = HashMap::new();
    for p in spec.inputs.iter().chain(&spec.outputs) {
        if p.name.is_empty() || p.name.contains('.') {
            return Err(GraphError::BadEndpoint {
                endpoint: p.name.clone(),
                reason: "graph port names are non-empty and contain no '.'".into(),
            });
        }
        if p.channels == 0 || p.channels > MAX_PORT_CHANNELS {
            return Err(GraphError::BadEndpoint {
                endpoint: p.name.clone(),
                reason: format!("{} channels; a port has 1..={MAX_PORT_CHANNELS}", p.channels),
            });
        }
        if port_names.insert(&p.name, ()).is_some() {
            return Err(GraphError::DuplicatePort(p.name.clone()));
        }
    }
    let mut ids: HashMap<&str, usize> = HashMap::new();
    let mut processors = Vec::with_capacity(spec.processors.len());
    for (i, p) in spec.processors.iter().enumerate() {
        if p.id.is_empty() || p.id.contains('.') {
            return Err(GraphError::BadEndpoint {
                endpoint: p.id.clone(),
                reason: "processor ids are non-empty and contain no '.'".into(),
            });
        }
        if ids.insert(&p.id, i).is_some() {
            return Err(GraphError::DuplicateId(p.id.clone()));
        }
        if port_names.contains_key(p.id.as_str()) {
            return Err(GraphError::DuplicateId(p.id.clone()));
        }
        let t = registry.get(&p.type_name).ok_or_else(|| GraphError::UnknownType {
            id: p.id.clone(),
            type_name: p.type_name.clone(),
            known: registry.names().join(", "),
        })?;
        let description = t.describe(&p.settings).map_err(|error| GraphError::Processor {
            id: p.id.clone(),
            type_name: p.type_name.clone(),
            error,
        })?;
        for port in description.inputs.iter().chain(&description.outputs) {
            if port.channels == 0 || port.channels > MAX_PORT_CHANNELS {
                return Err(GraphError::PortChannels {
                    id: p.id.clone(),
                    port: port.name,
                    channels: port.channels,
                    limit: MAX_PORT_CHANNELS,
                });
            }
        }
        let mut params: Vec<f32> = description.params.iter().map(|d| d.default).collect();
        for (name, value) in &p.params {
            let k = description.param_index(name).ok_or_else(|| GraphError::Param {
                id: p.id.clone(),
                param: name.clone(),
                reason: format!(
                    "`{}` has no such parameter (it has: {})",
                    p.type_name,
                    description.params.iter().map(|d| d.name).collect::<Vec<_>>().join(", ")
                ),
            })?;
            description.params[k].check(*value).map_err(|reason| GraphError::Param {
                id: p.id.clone(),
                param: name.clone(),
                reason,
            })?;
            params[k] = *value;
        }
        let inputs = vec![None; description.inputs.len()];
        processors.push(ValidProcessor { description, inputs, params });
    }

    let mut outputs: Vec<Option<Source>> = vec![None; spec.outputs.len()];
    let mut first_from: HashMap<String, String> = HashMap::new();
    for c in &spec.connections {
        let from = match c.from.split_once('.') {
            None => match spec.inputs.iter().position(|p| p.name == c.from) {
                Some(k) => From_::Graph(k),
                None => return Err(bad(&c.from, "not a graph input (processor outputs are written `id.port`)")),
            },
            Some((id, port)) => {
                let &i = ids.get(id).ok_or_else(|| bad(&c.from, "no processor with this id"))?;
                let d = &processors[i].description;
                match d.outputs.iter().position(|o| o.name == port) {
                    Some(k) => From_::Proc(i, k),
                    None => {
                        return Err(bad(
                            &c.from,
                            &format!("`{}` has no output `{port}` (outputs: {})", d.type_name, names(&d.outputs)),
                        ))
                    }
                }
            }
        };
        let to = match c.to.split_once('.') {
            None => match spec.outputs.iter().position(|p| p.name == c.to) {
                Some(k) => To::Graph(k),
                None => return Err(bad(&c.to, "not a graph output (processor inputs are written `id.port`)")),
            },
            Some((id, port)) => {
                let &i = ids.get(id).ok_or_else(|| bad(&c.to, "no processor with this id"))?;
                let d = &processors[i].description;
                match d.inputs.iter().position(|o| o.name == port) {
                    Some(k) => To::Proc(i, k),
                    None => {
                        return Err(bad(
                            &c.to,
                            &format!("`{}` has no input `{port}` (inputs: {})", d.type_name, names(&d.inputs)),
                        ))
                    }
                }
            }
        };
        let (source, from_channels) = match from {
            From_::Graph(k) => (Source::GraphInput(k), spec.inputs[k].channels),
            From_::Proc(i, k) => (Source::Output(i, k), processors[i].description.outputs[k].channels),
        };
        let (slot, to_channels) = match to {
            To::Graph(k) => (&mut outputs[k], spec.outputs[k].channels),
            To::Proc(i, k) => {
                let ch = processors[i].description.inputs[k].channels;
                (&mut processors[i].inputs[k], ch)
            }
        };
        if from_channels != to_channels {
            return Err(GraphError::ChannelMismatch {
                from: c.from.clone(),
                from_channels,
                to: c.to.clone(),
                to_channels,
            });
        }
        if slot.is_some() {
            return Err(GraphError::InputTaken {
                to: c.to.clone(),
                first: first_from[&c.to].clone(),
                second: c.from.clone(),
            });
        }
        *slot = Some(source);
        first_from.insert(c.to.clone(), c.from.clone());
    }
    for (p, spec_p) in processors.iter().zip(&spec.processors) {
        for (port, src) in p.description.inputs.iter().zip(&p.inputs) {
            if port.required && src.is_none() {
                return Err(GraphError::Unconnected(format!("{}.{}", spec_p.id, port.name)));
            }
        }
    }
    let outputs = outputs
        .into_iter()
        .zip(&spec.outputs)
        .map(|(s, port)| s.ok_or_else(|| GraphError::Unconnected(format!("graph output {}", port.name))))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(cycle) = find_cycle(&processors) {
        return Err(GraphError::Cycle(cycle.into_iter().map(|i| spec.processors[i].id.clone()).collect()));
    }
    Ok(ValidGraph { spec: spec.clone(), processors, outputs })
}

fn bad(endpoint: &str, reason: &str) -> GraphError {
    GraphError::BadEndpoint { endpoint: endpoint.into(), reason: reason.into() }
}

fn names(ports: &[crate::processor::PortDesc]) -> String {
    ports.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
}

/// A cycle as processor indices, first repeated at the end (`a → b → a`), if any.
fn find_cycle(processors: &[ValidProcessor]) -> Option<Vec<usize>> {
    // Iterative DFS over "reads from" edges; a grey node reached again closes a cycle.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        White,
        Grey,
        Black,
    }
    let preds = |i: usize| -> Vec<usize> {
        processors[i]
            .inputs
            .iter()
            .filter_map(|s| match s {
                Some(Source::Output(j, _)) => Some(*j),
                _ => None,
            })
            .collect()
    };
    let mut mark = vec![Mark::White; processors.len()];
    for start in 0..processors.len() {
        if mark[start] != Mark::White {
            continue;
        }
        let mut stack: Vec<(usize, Vec<usize>)> = vec![(start, preds(start))];
        mark[start] = Mark::Grey;
        while let Some((node, next)) = stack.last_mut() {
            let node = *node;
            match next.pop() {
                Some(p) if mark[p] == Mark::Grey => {
                    // Stack order is consumer → producer; a cycle reads producer → consumer.
                    let at = stack.iter().position(|(n, _)| *n == p).unwrap_or(0);
                    let mut cycle: Vec<usize> = stack[at..].iter().map(|(n, _)| *n).collect();
                    cycle.reverse();
                    cycle.push(cycle[0]);
                    return Some(cycle);
                }
                Some(p) if mark[p] == Mark::White => {
                    mark[p] = Mark::Grey;
                    let ps = preds(p);
                    stack.push((p, ps));
                }
                Some(_) => {}
                None => {
                    mark[node] = Mark::Black;
                    stack.pop();
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(rig: &str) -> Result<ValidGraph, GraphError> {
        validate(&GraphSpec::from_json(rig).unwrap(), &Registry::<cubecl::wgpu::WgpuRuntime>::with_builtins())
    }

    const PORTS: &str = r#""inputs": [{"name": "in"}], "outputs": [{"name": "out"}]"#;

    #[test]
    fn a_cycle_is_named_in_order() {
        let err = check(&format!(
            r#"{{{PORTS}, "processors": [{{"id": "a", "type": "mix"}}, {{"id": "b", "type": "gain"}}],
            "connections": [{{"from": "in", "to": "a.in1"}}, {{"from": "a.out", "to": "b.in"}}, {{"from": "b.out", "to": "a.in2"}},
                            {{"from": "b.out", "to": "out"}}]}}"#
        ))
        .unwrap_err();
        match err {
            GraphError::Cycle(path) => {
                assert!(path.contains(&"a".to_string()) && path.contains(&"b".to_string()), "{path:?}")
            }
            other => panic!("expected a cycle, got {other}"),
        }
    }

    #[test]
    fn an_input_takes_one_source_and_outputs_must_exist() {
        let twice = check(&format!(
            r#"{{{PORTS}, "processors": [{{"id": "g", "type": "gain"}}],
            "connections": [{{"from": "in", "to": "g.in"}}, {{"from": "in", "to": "g.in"}}, {{"from": "g.out", "to": "out"}}]}}"#
        ));
        assert!(matches!(twice, Err(GraphError::InputTaken { .. })), "{twice:?}");
        let dangling = check(&format!(
            r#"{{{PORTS}, "processors": [{{"id": "g", "type": "gain"}}], "connections": [{{"from": "in", "to": "g.in"}}]}}"#
        ));
        assert!(matches!(dangling, Err(GraphError::Unconnected(ref p)) if p == "graph output out"), "{dangling:?}");
        let bad_param = check(&format!(
            r#"{{{PORTS}, "processors": [{{"id": "g", "type": "gain", "params": {{"gain_db": 99}}}}],
            "connections": [{{"from": "in", "to": "g.in"}}, {{"from": "g.out", "to": "out"}}]}}"#
        ));
        assert!(matches!(bad_param, Err(GraphError::Param { .. })), "{bad_param:?}");
    }
}
