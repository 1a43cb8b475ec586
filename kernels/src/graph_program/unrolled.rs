//! Which stages' model streams a graph program runs outside its stage loop (a compile-time
//! parameter of the kernel; see `run_program`).

use crate::wavenet_columns::ColumnsShape;

/// Stages a program unrolls at most: one call each in the kernel's body.
pub const MAX_UNROLLED_STAGES: usize = 4;
/// Rounds of a stage's stream slots unrolled at most.
pub const MAX_UNROLLED_ROUNDS: usize = 4;

/// A stage whose model streams run on the columns body at the kernel's top level, how many
/// times the cube's stream slots go round its streams, and whether the stages its loop runs
/// first (from the previous entry's on, up to and including this one) hold convolutions.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, Default)]
pub struct UnrolledStage {
    pub stage: usize,
    pub rounds: usize,
    pub convolutions: bool,
}

/// The program's unrolled stages, ascending; none where the streams run on the interpreter,
/// where a stage needs more than [`MAX_UNROLLED_ROUNDS`] rounds or where more than
/// [`MAX_UNROLLED_STAGES`] stages have streams — then every stage runs its streams in the loop.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, Default)]
pub struct StreamStages {
    /// The first `count` entries are used.
    pub at: [UnrolledStage; MAX_UNROLLED_STAGES],
    pub count: usize,
    /// Whether the stages after the last entry (all of them without entries) hold convolutions.
    pub tail_convolutions: bool,
}

impl StreamStages {
    /// Unrolls the stages with streams (`streams[s]`: the streams of one instance in stage `s`)
    /// of a cube of `group` instances and `slots` stream slots, where all of them can be;
    /// `convolutions[s]`: whether stage `s` holds any (the loops leave their code out where none
    /// of their stages does: it costs the columns body registers even where it never runs).
    pub fn of(streams: &[usize], convolutions: &[bool], group: usize, slots: usize) -> Self {
        let convs_in = |from: usize, to: usize| convolutions.iter().take(to).skip(from).any(|&c| c);
        let mut this = Self::default();
        for (stage, &count) in streams.iter().enumerate().filter(|(_, &c)| c > 0) {
            let rounds = (group * count).div_ceil(slots.max(1));
            if this.count == MAX_UNROLLED_STAGES || rounds > MAX_UNROLLED_ROUNDS {
                return Self { tail_convolutions: convs_in(0, convolutions.len()), ..Self::default() };
            }
            let convolutions = convs_in(this.start(this.count), stage + 1);
            this.at[this.count] = UnrolledStage { stage, rounds, convolutions };
            this.count += 1;
        }
        this.tail_convolutions = convs_in(this.start(this.count), convolutions.len());
        this
    }

    /// Shared floats the unrolled rounds take with `shape`'s columns body: one set of its
    /// arrays per round of every entry (none where nothing is unrolled), each array counted
    /// with 4 floats of slack for the compilers' alignment.
    pub fn shared_floats(&self, shape: &ColumnsShape) -> usize {
        let rounds: usize = self.at[..self.count].iter().map(|e| e.rounds).sum();
        let per_round = shape.shared_floats();
        rounds * if per_round == 0 { 0 } else { per_round + 2 * 4 }
    }

    /// Entry `q`, if there is one.
    pub fn entry(&self, q: usize) -> Option<UnrolledStage> {
        (q < self.count).then(|| self.at[q])
    }

    /// The first stage entry `q`'s loop runs: the one after entry `q - 1`'s stage (0 for the
    /// first); for `q = count`, where the last loop starts.
    pub fn start(&self, q: usize) -> usize {
        match q.min(self.count) {
            0 => 0,
            q => self.at[q - 1].stage + 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_with_streams_unroll_with_their_rounds() {
        let convs = [false, false, true, false, false];
        let s = StreamStages::of(&[0, 1, 0, 2], &convs, 2, 2);
        assert_eq!(s.count, 2);
        assert_eq!(s.entry(0), Some(UnrolledStage { stage: 1, rounds: 1, convolutions: false }));
        assert_eq!(s.entry(1), Some(UnrolledStage { stage: 3, rounds: 2, convolutions: true }));
        assert_eq!(s.entry(2), None);
        assert_eq!((s.start(0), s.start(1), s.start(2), s.start(4)), (0, 2, 4, 4));
        assert!(!s.tail_convolutions, "stage 4 has none");
        // `amp_cab`: pedals, the amp, then the cab.
        let s = StreamStages::of(&[0, 1], &[false, false, true], 1, 1);
        assert_eq!(s.entry(0), Some(UnrolledStage { stage: 1, rounds: 1, convolutions: false }));
        assert!(s.tail_convolutions);
    }

    #[test]
    fn too_many_stages_or_rounds_leave_every_stream_in_the_loop() {
        let looped = StreamStages::of(&[1; MAX_UNROLLED_STAGES + 1], &[false, true], 1, 1);
        assert_eq!((looped.count, looped.tail_convolutions), (0, true));
        assert_eq!(StreamStages::of(&[MAX_UNROLLED_ROUNDS + 1], &[], 1, 1).count, 0);
        assert_eq!(StreamStages::of(&[], &[], 1, 1), StreamStages::default());
        assert_eq!(StreamStages::default().start(0), 0);
    }
}
