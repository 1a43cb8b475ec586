//! Sequential consumption of the flat `weights` array, and the dense matrices it fills.

use crate::error::{NamError, Result};
use crate::simd::fma_block;

/// Zeros handed out once the file's weights ran out, so the model is still built to the end and
/// the count error can name the total the config needs (not just the first shortfall).
static PAST_THE_END: [f32; 1 << 16] = [0.0; 1 << 16];

/// Hands out the flat weight vector in order; the total must be consumed exactly.
pub struct WeightReader<'a> {
    weights: &'a [f32],
    at: usize,
}

impl<'a> WeightReader<'a> {
    /// A reader at the first weight.
    pub fn new(weights: &'a [f32]) -> Self {
        Self { weights, at: 0 }
    }

    /// The next `n` weights. Past the end of the file it hands out zeros and keeps counting, so
    /// that [`Self::finish`] reports the whole count the config needs; a request too large for
    /// that is the count error at once.
    pub fn take(&mut self, n: usize) -> Result<&'a [f32]> {
        let end =
            self.at.checked_add(n).ok_or(NamError::WeightCount { expected: usize::MAX, actual: self.weights.len() })?;
        let s = if end <= self.weights.len() {
            &self.weights[self.at..end]
        } else if n <= PAST_THE_END.len() {
            &PAST_THE_END[..n]
        } else {
            return Err(NamError::WeightCount { expected: end, actual: self.weights.len() });
        };
        self.at = end;
        Ok(s)
    }

    /// The next weight.
    pub fn take_one(&mut self) -> Result<f32> {
        Ok(self.take(1)?[0])
    }

    /// Weights handed out so far.
    pub fn consumed(&self) -> usize {
        self.at
    }

    /// Fails unless every weight was used, exactly (the core's "Weight mismatch"), naming the
    /// count the config needs.
    pub fn finish(self) -> Result<()> {
        if self.at == self.weights.len() {
            Ok(())
        } else {
            Err(NamError::WeightCount { expected: self.at, actual: self.weights.len() })
        }
    }
}

#[cfg(test)]
mod reader_tests {
    use super::*;

    #[test]
    fn a_short_file_is_told_the_whole_count() {
        let weights = [1.0f32; 3];
        let mut r = WeightReader::new(&weights);
        assert_eq!(r.take(2).unwrap(), &[1.0, 1.0]);
        // Past the end: zeros, still counted.
        assert_eq!(r.take(4).unwrap(), &[0.0; 4]);
        assert_eq!(r.take_one().unwrap(), 0.0);
        match r.finish() {
            Err(NamError::WeightCount { expected: 7, actual: 3 }) => {}
            other => panic!("{other:?}"),
        }
    }
}

/// Dense matrix stored column-major: `y += W·x` then runs down contiguous columns, which the
/// compiler vectorises over the output rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    data: Vec<f32>,
}

impl Matrix {
    /// A matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self { rows, cols, data: vec![0.0; rows * cols] }
    }

    /// A matrix from values in row-major order.
    pub fn from_row_major(rows: usize, cols: usize, values: &[f32]) -> Self {
        let mut m = Self::zeros(rows, cols);
        for r in 0..rows {
            for c in 0..cols {
                m.set(r, c, values[r * cols + c]);
            }
        }
        m
    }

    /// Element `(r, c)`.
    #[inline]
    pub fn at(&self, r: usize, c: usize) -> f32 {
        self.data[c * self.rows + r]
    }

    /// Sets element `(r, c)`.
    #[inline]
    pub fn set(&mut self, r: usize, c: usize, v: f32) {
        self.data[c * self.rows + r] = v;
    }

    /// Leading `rows × cols` block (slimmable models).
    pub fn slice(&self, rows: usize, cols: usize) -> Self {
        let mut m = Self::zeros(rows, cols);
        for c in 0..cols {
            m.data[c * rows..(c + 1) * rows].copy_from_slice(&self.data[c * self.rows..c * self.rows + rows]);
        }
        m
    }

    /// `y += W·x` for one column (the LSTM's per-sample mat-vec). Rows go in blocks of
    /// [`ROW_BLOCK`] (then 32, 16, 8, 4 and single rows) held in registers across all columns,
    /// so `y` is read and written once rather than once per column; each element still sums its
    /// columns in order. With `FUSED`, one rounding per multiply-add: only for callers compiled
    /// for FMA ([`crate::simd`]).
    #[inline(always)]
    pub fn mul_acc<const FUSED: bool>(&self, x: &[f32], y: &mut [f32]) {
        let x = &x[..self.cols];
        let mut r0 = 0;
        while r0 < self.rows {
            let left = self.rows - r0;
            r0 += if left >= ROW_BLOCK {
                self.rows_acc::<ROW_BLOCK, FUSED>(x, y, r0)
            } else if left >= 32 {
                self.rows_acc::<32, FUSED>(x, y, r0)
            } else if left >= 16 {
                self.rows_acc::<16, FUSED>(x, y, r0)
            } else if left >= 8 {
                self.rows_acc::<8, FUSED>(x, y, r0)
            } else if left >= 4 {
                self.rows_acc::<4, FUSED>(x, y, r0)
            } else {
                self.rows_acc::<1, FUSED>(x, y, r0)
            };
        }
    }

    /// `y[r0..r0 + B] += W[r0..r0 + B, :]·x`, the `B` sums in registers; returns `B`.
    #[inline(always)]
    fn rows_acc<const B: usize, const FUSED: bool>(&self, x: &[f32], y: &mut [f32], r0: usize) -> usize {
        let mut acc = [0.0f32; B];
        acc.copy_from_slice(&y[r0..r0 + B]);
        for (c, &xv) in x.iter().enumerate() {
            let at = c * self.rows + r0;
            let col: &[f32; B] = self.data[at..at + B].try_into().expect("B rows");
            fma_block::<B, FUSED>(&mut acc, xv, col);
        }
        y[r0..r0 + B].copy_from_slice(&acc);
        B
    }
}

/// Rows of [`Matrix::mul_acc`]'s register block: 64 floats, eight AVX registers — eight
/// independent multiply-add chains per column. With 16 rows (two chains) the mat-vec waited on
/// the multiply-add latency: the LSTM 1×16 (64 gate rows) ran at two thirds of this speed.
pub const ROW_BLOCK: usize = 64;

/// Reads a grouped (block-diagonal) weight tensor `out × in × taps` into one dense matrix per
/// tap, in the order `for grp, for o, for i, for k` (SPEC §2.1/§2.2). Off-block entries are zero,
/// as the core executes grouped convs dense.
pub fn read_grouped(r: &mut WeightReader, out: usize, inp: usize, taps: usize, groups: usize) -> Result<Vec<Matrix>> {
    if groups == 0 || !out.is_multiple_of(groups) || !inp.is_multiple_of(groups) {
        return Err(NamError::config(format!("groups {groups} must divide both {inp} inputs and {out} outputs")));
    }
    let (og, ig) = (out / groups, inp / groups);
    let mut mats = vec![Matrix::zeros(out, inp); taps];
    for g in 0..groups {
        for o in 0..og {
            for i in 0..ig {
                let w = r.take(taps)?;
                for (k, m) in mats.iter_mut().enumerate() {
                    m.set(g * og + o, g * ig + i, w[k]);
                }
            }
        }
    }
    Ok(mats)
}
