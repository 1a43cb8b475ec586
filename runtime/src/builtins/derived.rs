//! Per-channel device tables derived from each instance's parameters (biquad coefficients, gate
//! settings): recomputed on the host only when an instance's parameters change, so `process`
//! does no design work and the kernel uploads nothing in a steady state.

use crate::processor::{InstanceSetup, ParamView};

/// Three parameters per instance → one value for each of its channels.
pub(crate) struct DerivedPerChannel<T> {
    /// Channels of each instance, in batch order.
    channels: Vec<usize>,
    /// Parameters each instance's values were derived from (NaN before the first derivation).
    last: Vec<[f32; 3]>,
    values: Vec<T>,
}

impl<T: Clone> DerivedPerChannel<T> {
    /// Values for `instances` derived from their commit-time parameters.
    /// `derive(instance, params)` gives an instance's value.
    pub(crate) fn new(instances: &[InstanceSetup], derive: impl Fn(usize, [f32; 3]) -> T) -> Self {
        let channels: Vec<usize> = instances.iter().map(|i| i.input_slots.len()).collect();
        let initial: Vec<[f32; 3]> = instances.iter().map(|i| [i.params[0], i.params[1], i.params[2]]).collect();
        let values =
            initial.iter().zip(&channels).enumerate().flat_map(|(k, (p, &n))| vec![derive(k, *p); n]).collect();
        Self { channels, last: initial, values }
    }

    /// Derives again the values of every instance whose parameters changed.
    pub(crate) fn update(&mut self, params: ParamView, derive: impl Fn(usize, [f32; 3]) -> T) {
        let mut start = 0;
        for (i, &n) in self.channels.iter().enumerate() {
            let p = [params.get(i, 0), params.get(i, 1), params.get(i, 2)];
            if p != self.last[i] {
                self.last[i] = p;
                self.values[start..start + n].fill(derive(i, p));
            }
            start += n;
        }
    }

    /// One value per channel, instance after instance.
    pub(crate) fn values(&self) -> &[T] {
        &self.values
    }
}
