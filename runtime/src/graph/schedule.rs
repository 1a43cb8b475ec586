//! Orders a valid graph into stages, batches same-type processors of a stage, and assigns arena
//! slots with reuse.
//!
//! - **Stage** of a processor: 1 + the latest stage among its sources (graph inputs are stage
//!   0). Everything in a stage depends only on earlier stages, so a stage's batches may run in
//!   any order.
//! - **Batch**: the processors of one type in one stage; the type runs them in one launch.
//! - **Slots**: one arena slot (of `max_buffer` frames) per signal channel. Slot 0 is silence
//!   (unconnected optional inputs read it; nothing writes it). A slot returns to the free list
//!   after the last stage that reads it, and a stage's outputs are assigned before its inputs
//!   are released, so no launch ever writes a slot another member of its stage reads.

use std::collections::{BTreeMap, HashMap};

use super::validate::{Source, ValidGraph};

pub use crate::processor::SILENT_SLOT;

/// The instances of one processor type in one stage: one `prepare`, one launch per buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// The processor type's name.
    pub type_name: String,
    /// Processor indices (spec order).
    pub processors: Vec<usize>,
    /// Where this batch's parameters start in the graph's parameter array.
    pub param_base: usize,
    /// Parameters of each instance (the type's description).
    pub params_per_instance: usize,
}

/// How a valid graph runs: stages of batches, and the arena slot of every signal.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Batches of stage 1, 2, …
    pub stages: Vec<Vec<Batch>>,
    /// Arena slots, the silent one included.
    pub slots: usize,
    /// (graph input channel, slot), graph inputs' channels numbered port after port.
    pub input_routes: Vec<(u32, u32)>,
    /// (slot, graph output channel).
    pub output_routes: Vec<(u32, u32)>,
    /// Per processor: input channel slots and output channel slots.
    pub input_slots: Vec<Vec<u32>>,
    /// Per processor: output channel slots.
    pub output_slots: Vec<Vec<u32>>,
    /// Per processor: the stage (1-based) it runs in.
    pub stage_of: Vec<usize>,
    /// Parameters of the whole graph (the length of its parameter array).
    pub param_count: usize,
}

impl Schedule {
    /// Stages by longest path from the inputs, batches by type within a stage, slots reused once their last reader has run.
    pub fn build(graph: &ValidGraph) -> Self {
        let n = graph.processors.len();
        let stage_of = stages(graph);
        let max_stage = stage_of.iter().copied().max().unwrap_or(0);

        // Last stage reading each source; graph outputs keep theirs to the end.
        let mut last_use: HashMap<Source, usize> = HashMap::new();
        for (k, _) in graph.spec.inputs.iter().enumerate() {
            last_use.insert(Source::GraphInput(k), 0);
        }
        for (i, p) in graph.processors.iter().enumerate() {
            for k in 0..p.description.outputs.len() {
                last_use.insert(Source::Output(i, k), stage_of[i]);
            }
        }
        for (i, p) in graph.processors.iter().enumerate() {
            for s in p.inputs.iter().flatten() {
                let e = last_use.entry(*s).or_insert(0);
                *e = (*e).max(stage_of[i]);
            }
        }
        for s in &graph.outputs {
            last_use.insert(*s, usize::MAX);
        }

        let mut pool = SlotPool::default();
        let mut slots_of: HashMap<Source, Vec<u32>> = HashMap::new();
        let mut input_routes = Vec::new();
        let mut channel = 0u32;
        for (k, port) in graph.spec.inputs.iter().enumerate() {
            let slots: Vec<u32> = (0..port.channels).map(|_| pool.take()).collect();
            for &s in &slots {
                input_routes.push((channel, s));
                channel += 1;
            }
            slots_of.insert(Source::GraphInput(k), slots);
        }
        release(&mut pool, &slots_of, &last_use, 0);

        let mut by_stage: Vec<Vec<usize>> = vec![Vec::new(); max_stage + 1];
        for (i, &s) in stage_of.iter().enumerate() {
            by_stage[s].push(i);
        }
        let mut output_slots = vec![Vec::new(); n];
        for (stage, members) in by_stage.iter().enumerate().skip(1) {
            for &i in members {
                for (k, port) in graph.processors[i].description.outputs.iter().enumerate() {
                    let slots: Vec<u32> = (0..port.channels).map(|_| pool.take()).collect();
                    output_slots[i].extend_from_slice(&slots);
                    slots_of.insert(Source::Output(i, k), slots);
                }
            }
            release(&mut pool, &slots_of, &last_use, stage);
        }

        let input_slots: Vec<Vec<u32>> = graph
            .processors
            .iter()
            .map(|p| {
                p.inputs
                    .iter()
                    .zip(&p.description.inputs)
                    .flat_map(|(src, port)| match src {
                        Some(s) => slots_of[s].clone(),
                        None => vec![SILENT_SLOT; port.channels],
                    })
                    .collect()
            })
            .collect();
        let mut output_routes = Vec::new();
        let mut channel = 0u32;
        for s in &graph.outputs {
            for &slot in &slots_of[s] {
                output_routes.push((slot, channel));
                channel += 1;
            }
        }

        let mut stages = Vec::with_capacity(max_stage);
        let mut param_base = 0;
        for members in by_stage.iter().skip(1) {
            // BTreeMap: batches in type-name order, processors in spec order.
            let mut groups: BTreeMap<(&str, usize), Vec<usize>> = BTreeMap::new();
            for &i in members {
                let d = &graph.processors[i].description;
                groups.entry((d.type_name, d.params.len())).or_default().push(i);
            }
            let mut batches = Vec::new();
            for ((type_name, per), processors) in groups {
                batches.push(Batch {
                    type_name: type_name.to_string(),
                    param_base,
                    params_per_instance: per,
                    processors: processors.clone(),
                });
                param_base += per * processors.len();
            }
            stages.push(batches);
        }
        Self {
            stages,
            slots: pool.high as usize,
            input_routes,
            output_routes,
            input_slots,
            output_slots,
            stage_of,
            param_count: param_base,
        }
    }

    /// Launches per buffer: one input copy, one per batch (processors may report more), one
    /// output copy.
    pub fn batch_count(&self) -> usize {
        self.stages.iter().map(Vec::len).sum()
    }
}

fn stages(graph: &ValidGraph) -> Vec<usize> {
    // Kahn's algorithm over "reads from" edges; the graph is acyclic (validated).
    let n = graph.processors.len();
    let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut pending = vec![0usize; n];
    for (i, p) in graph.processors.iter().enumerate() {
        for src in p.inputs.iter().flatten() {
            if let Source::Output(j, _) = src {
                consumers[*j].push(i);
                pending[i] += 1;
            }
        }
    }
    let mut stage = vec![1usize; n];
    let mut ready: Vec<usize> = (0..n).filter(|&i| pending[i] == 0).collect();
    while let Some(j) = ready.pop() {
        for &i in &consumers[j] {
            stage[i] = stage[i].max(stage[j] + 1);
            pending[i] -= 1;
            if pending[i] == 0 {
                ready.push(i);
            }
        }
    }
    stage
}

fn release(pool: &mut SlotPool, slots_of: &HashMap<Source, Vec<u32>>, last_use: &HashMap<Source, usize>, stage: usize) {
    let mut freed: Vec<u32> = slots_of
        .iter()
        .filter(|(s, _)| last_use.get(*s) == Some(&stage))
        .flat_map(|(_, v)| v.iter().copied())
        .collect();
    // Deterministic reuse order regardless of hash-map iteration.
    freed.sort_unstable();
    pool.free.extend(freed.into_iter().rev());
}

#[derive(Default)]
struct SlotPool {
    free: Vec<u32>,
    /// Slots handed out so far, the silent one included.
    high: u32,
}

impl SlotPool {
    fn take(&mut self) -> u32 {
        if self.high == 0 {
            self.high = 1;
        }
        self.free.pop().unwrap_or_else(|| {
            self.high += 1;
            self.high - 1
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{validate::validate, GraphSpec};
    use crate::registry::Registry;

    /// Host-only: the registry describes processors without a device.
    fn schedule(rig: &str) -> Schedule {
        let registry = Registry::<cubecl::wgpu::WgpuRuntime>::with_builtins();
        Schedule::build(&validate(&GraphSpec::from_json(rig).unwrap(), &registry).unwrap())
    }

    /// Two gains fed by the input share stage 1 and one batch; the eq after one of them is
    /// stage 2; the mix of both branches is stage 3.
    #[test]
    fn stages_follow_the_longest_path_and_batch_by_type() {
        let s = schedule(
            r#"{"inputs": [{"name": "in"}], "outputs": [{"name": "out"}],
            "processors": [{"id": "a", "type": "gain"}, {"id": "b", "type": "gain"}, {"id": "tone", "type": "eq"},
                           {"id": "sum", "type": "mix"}],
            "connections": [{"from": "in", "to": "a.in"}, {"from": "in", "to": "b.in"}, {"from": "a.out", "to": "tone.in"},
                            {"from": "tone.out", "to": "sum.in1"}, {"from": "b.out", "to": "sum.in2"},
                            {"from": "sum.out", "to": "out"}]}"#,
        );
        assert_eq!(s.stage_of, vec![1, 1, 2, 3]);
        assert_eq!(s.stages.len(), 3);
        assert_eq!(s.stages[0].len(), 1, "both gains in one batch");
        assert_eq!((s.stages[0][0].type_name.as_str(), s.stages[0][0].processors.clone()), ("gain", vec![0, 1]));
        assert_eq!(s.batch_count(), 3);
    }

    /// A chain of five gains needs the silent slot, the input and two slots it alternates
    /// between: a slot is free again once its last reader has run.
    #[test]
    fn a_chain_reuses_its_slots() {
        let s = schedule(
            r#"{"inputs": [{"name": "in"}], "outputs": [{"name": "out"}],
            "processors": [{"id": "g1", "type": "gain"}, {"id": "g2", "type": "gain"}, {"id": "g3", "type": "gain"},
                           {"id": "g4", "type": "gain"}, {"id": "g5", "type": "gain"}],
            "connections": [{"from": "in", "to": "g1.in"}, {"from": "g1.out", "to": "g2.in"}, {"from": "g2.out", "to": "g3.in"},
                            {"from": "g3.out", "to": "g4.in"}, {"from": "g4.out", "to": "g5.in"}, {"from": "g5.out", "to": "out"}]}"#,
        );
        assert_eq!(s.stages.len(), 5);
        assert!(s.slots <= 4, "{} slots for a chain", s.slots);
        for (p, ins) in s.input_slots.iter().enumerate() {
            assert_ne!(ins[0], SILENT_SLOT, "processor {p} reads silence");
            assert_ne!(ins[0], s.output_slots[p][0], "processor {p} writes the slot it reads");
        }
    }
}
