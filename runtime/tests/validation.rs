//! Every graph validation error, on the host (no device needed: `describe` touches none).

use cubeaudio_runtime::graph::{validate, GraphSpec, Schedule, Source, SILENT_SLOT};
use cubeaudio_runtime::registry::Registry;
use cubeaudio_runtime::GraphError;
use cubecl::wgpu::WgpuRuntime;

fn registry() -> Registry<WgpuRuntime> {
    Registry::with_builtins()
}

fn check(json: &str) -> Result<cubeaudio_runtime::graph::ValidGraph, GraphError> {
    validate(&GraphSpec::from_json(json)?, &registry())
}

fn err(json: &str) -> GraphError {
    let e = check(json).expect_err("graph must be refused");
    println!("refused: {e}");
    e
}

const CHAIN: &str = r#"{
  "inputs": [{"name": "in"}], "outputs": [{"name": "out"}],
  "processors": [
    {"id": "gate", "type": "noise_gate", "params": {"threshold_db": -50}},
    {"id": "drive", "type": "gain", "params": {"gain_db": 6}},
    {"id": "eq", "type": "eq", "settings": {"shape": "peak"}, "params": {"freq_hz": 800, "q": 1.0, "gain_db": 3}}
  ],
  "connections": [
    {"from": "in", "to": "gate.in"}, {"from": "gate.out", "to": "drive.in"},
    {"from": "drive.out", "to": "eq.in"}, {"from": "eq.out", "to": "out"}
  ]
}"#;

#[test]
fn a_valid_chain_passes_with_its_params() {
    let g = check(CHAIN).unwrap();
    assert_eq!(g.processors.len(), 3);
    assert_eq!(g.processors[1].params, vec![6.0]);
    assert_eq!(g.processors[2].params, vec![800.0, 1.0, 3.0]);
    assert_eq!(g.outputs, vec![Source::Output(2, 0)]);
}

#[test]
fn malformed_json_and_unknown_fields() {
    assert!(matches!(err("{"), GraphError::Parse(_)));
    assert!(matches!(err(&CHAIN.replace("\"connections\"", "\"conections\"")), GraphError::Parse(_)));
}

#[test]
fn duplicate_ids_and_ports() {
    let dup = CHAIN.replace("\"id\": \"drive\"", "\"id\": \"gate\"");
    assert_eq!(err(&dup), GraphError::DuplicateId("gate".into()));
    let dup_port = CHAIN.replace(r#""outputs": [{"name": "out"}]"#, r#""outputs": [{"name": "in"}]"#);
    assert_eq!(err(&dup_port), GraphError::DuplicatePort("in".into()));
}

#[test]
fn unknown_type_lists_the_known_ones() {
    let e = err(&CHAIN.replace("\"type\": \"gain\"", "\"type\": \"fuzz\""));
    match e {
        GraphError::UnknownType { id, type_name, known } => {
            assert_eq!((id.as_str(), type_name.as_str()), ("drive", "fuzz"));
            assert!(known.contains("gain") && known.contains("noise_gate"), "{known}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn cycles_are_named() {
    let json = r#"{
      "inputs": [{"name": "in"}], "outputs": [{"name": "out"}],
      "processors": [
        {"id": "a", "type": "mix"}, {"id": "b", "type": "gain"}, {"id": "c", "type": "gain"}
      ],
      "connections": [
        {"from": "in", "to": "a.in1"}, {"from": "a.out", "to": "b.in"}, {"from": "b.out", "to": "c.in"},
        {"from": "c.out", "to": "a.in2"}, {"from": "c.out", "to": "out"}
      ]
    }"#;
    match err(json) {
        GraphError::Cycle(ids) => {
            assert_eq!(ids.first(), ids.last());
            let mut body = ids[..ids.len() - 1].to_vec();
            body.sort();
            assert_eq!(body, vec!["a", "b", "c"]);
            // Producer → consumer order: each consecutive pair is a real connection.
            let edges = [("a", "b"), ("b", "c"), ("c", "a")];
            for w in ids.windows(2) {
                assert!(edges.contains(&(w[0].as_str(), w[1].as_str())), "{ids:?}");
            }
        }
        other => panic!("{other:?}"),
    }
    let self_loop = r#"{"inputs": [{"name": "in"}], "outputs": [{"name": "out"}],
      "processors": [{"id": "m", "type": "mix"}],
      "connections": [{"from": "in", "to": "m.in1"}, {"from": "m.out", "to": "m.in2"}, {"from": "m.out", "to": "out"}]}"#;
    assert_eq!(err(self_loop), GraphError::Cycle(vec!["m".into(), "m".into()]));
}

#[test]
fn unconnected_required_inputs_and_outputs() {
    let json = CHAIN.replace(r#"{"from": "gate.out", "to": "drive.in"},"#, "");
    assert_eq!(err(&json), GraphError::Unconnected("drive.in".into()));
    let json = CHAIN.replace(r#", {"from": "eq.out", "to": "out"}"#, "");
    assert_eq!(err(&json), GraphError::Unconnected("graph output out".into()));
    // Optional mix inputs may stay open.
    let mix = r#"{"inputs": [{"name": "in"}], "outputs": [{"name": "out"}],
      "processors": [{"id": "m", "type": "mix"}],
      "connections": [{"from": "in", "to": "m.in1"}, {"from": "m.out", "to": "out"}]}"#;
    check(mix).unwrap();
}

#[test]
fn channel_mismatch_names_both_ends() {
    let json = CHAIN
        .replace(r#"{"id": "drive", "type": "gain""#, r#"{"id": "drive", "type": "gain", "settings": {"channels": 2}"#);
    assert_eq!(
        err(&json),
        GraphError::ChannelMismatch {
            from: "gate.out".into(),
            from_channels: 1,
            to: "drive.in".into(),
            to_channels: 2
        }
    );
}

#[test]
fn an_input_takes_one_source() {
    let json = CHAIN.replace(
        r#"{"from": "in", "to": "gate.in"},"#,
        r#"{"from": "in", "to": "gate.in"}, {"from": "in", "to": "drive.in"},"#,
    );
    assert_eq!(
        err(&json),
        GraphError::InputTaken { to: "drive.in".into(), first: "in".into(), second: "gate.out".into() }
    );
}

#[test]
fn bad_endpoints() {
    for (from, to, needle) in [
        ("nowhere", "gate.in", "not a graph input"),
        ("ghost.out", "gate.in", "no processor with this id"),
        ("gate.sidechain", "drive.in", "has no output `sidechain`"),
        ("in", "gate.key", "has no input `key`"),
        ("in", "gate", "not a graph output"),
    ] {
        let json =
            CHAIN.replace(r#"{"from": "in", "to": "gate.in"}"#, &format!(r#"{{"from": "{from}", "to": "{to}"}}"#));
        match err(&json) {
            GraphError::BadEndpoint { reason, .. } => assert!(reason.contains(needle), "{reason}"),
            other => panic!("{from} → {to}: {other:?}"),
        }
    }
}

#[test]
fn params_unknown_or_out_of_range() {
    match err(&CHAIN.replace("\"gain_db\": 6", "\"gian_db\": 6")) {
        GraphError::Param { id, param, reason } => {
            assert_eq!((id.as_str(), param.as_str()), ("drive", "gian_db"));
            assert!(reason.contains("gain_db"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(err(&CHAIN.replace("\"gain_db\": 6", "\"gain_db\": 60")), GraphError::Param { .. }));
}

#[test]
fn bad_settings_are_processor_errors() {
    for (from, to) in [
        ("\"shape\": \"peak\"", "\"shape\": \"notch\""),
        ("\"shape\": \"peak\"", "\"shape\": \"peak\", \"chanels\": 2"),
        ("\"shape\": \"peak\"", "\"channels\": 0"),
        ("\"shape\": \"peak\"", "\"channels\": 1000"),
    ] {
        match err(&CHAIN.replace(from, to)) {
            GraphError::Processor { id, type_name, .. } => assert_eq!((id.as_str(), type_name.as_str()), ("eq", "eq")),
            other => panic!("{to}: {other:?}"),
        }
    }
    let fir = r#"{"inputs": [{"name": "in"}], "outputs": [{"name": "out"}],
      "processors": [{"id": "f", "type": "fir", "settings": {"taps": [1.0, "x"]}}],
      "connections": [{"from": "in", "to": "f.in"}, {"from": "f.out", "to": "out"}]}"#;
    assert!(matches!(err(fir), GraphError::Processor { .. }));
    let ir = fir.replace(r#""type": "fir", "settings": {"taps": [1.0, "x"]}"#, r#""type": "ir", "settings": {}"#);
    assert!(matches!(err(&ir), GraphError::Processor { .. }));
}

#[test]
fn no_outputs_and_bad_port_names() {
    assert_eq!(err(r#"{"inputs": [], "outputs": [], "processors": [], "connections": []}"#), GraphError::NoOutputs);
    assert!(matches!(err(&CHAIN.replace(r#""name": "out""#, r#""name": "o.ut""#)), GraphError::BadEndpoint { .. }));
    assert!(matches!(
        err(&CHAIN.replace(r#"[{"name": "in"}]"#, r#"[{"name": "in", "channels": 0}]"#)),
        GraphError::BadEndpoint { .. }
    ));
}

#[test]
fn schedule_reuses_slots_and_batches_by_stage() {
    // A chain of 10 gains needs two live signals at a time: the arena stays at 3 slots
    // (silence + 2) however long the chain.
    let mut procs = Vec::new();
    let mut conns = vec![r#"{"from": "in", "to": "g0.in"}"#.to_string()];
    for i in 0..10 {
        procs.push(format!(r#"{{"id": "g{i}", "type": "gain"}}"#));
        if i > 0 {
            conns.push(format!(r#"{{"from": "g{}.out", "to": "g{i}.in"}}"#, i - 1));
        }
    }
    conns.push(r#"{"from": "g9.out", "to": "out"}"#.into());
    let json = format!(
        r#"{{"inputs": [{{"name": "in"}}], "outputs": [{{"name": "out"}}], "processors": [{}], "connections": [{}]}}"#,
        procs.join(","),
        conns.join(",")
    );
    let s = Schedule::build(&check(&json).unwrap());
    assert_eq!(s.stages.len(), 10);
    assert_eq!(s.slots, 3, "{s:?}");
    for i in 0..10 {
        assert_ne!(s.input_slots[i], s.output_slots[i], "a processor never writes the slot it reads");
        assert!(!s.output_slots[i].contains(&SILENT_SLOT));
    }
    // Parallel: 3 gains and 2 eqs after one gate → stage 2 has two batches.
    let json = r#"{"inputs": [{"name": "in"}], "outputs": [{"name": "out"}],
      "processors": [{"id": "gate", "type": "noise_gate"}, {"id": "a", "type": "gain"}, {"id": "e1", "type": "eq"},
        {"id": "b", "type": "gain"}, {"id": "e2", "type": "eq"}, {"id": "c", "type": "gain"}, {"id": "m", "type": "mix"},
        {"id": "m2", "type": "mix"}],
      "connections": [{"from": "in", "to": "gate.in"}, {"from": "gate.out", "to": "a.in"}, {"from": "gate.out", "to": "b.in"},
        {"from": "gate.out", "to": "c.in"}, {"from": "gate.out", "to": "e1.in"}, {"from": "gate.out", "to": "e2.in"},
        {"from": "a.out", "to": "m.in1"}, {"from": "b.out", "to": "m.in2"}, {"from": "c.out", "to": "m.in3"}, {"from": "e1.out", "to": "m.in4"},
        {"from": "m.out", "to": "m2.in1"}, {"from": "e2.out", "to": "m2.in2"}, {"from": "m2.out", "to": "out"}]}"#;
    let s = Schedule::build(&check(json).unwrap());
    let shape: Vec<Vec<(String, usize)>> =
        s.stages.iter().map(|st| st.iter().map(|b| (b.type_name.clone(), b.processors.len())).collect()).collect();
    assert_eq!(
        shape,
        vec![
            vec![("noise_gate".to_string(), 1)],
            vec![("eq".to_string(), 2), ("gain".to_string(), 3)],
            vec![("mix".to_string(), 1)],
            vec![("mix".to_string(), 1)]
        ]
    );
    assert_eq!(s.batch_count(), 5);
}
