//! Which architecture a model runs now: what the GPU engines need to pick a kernel, as one
//! exhaustive enum instead of one query per architecture on the [`crate::dsp::Dsp`] trait.

use crate::convnet::ConvNet;
use crate::linear::Linear;
use crate::lstm::Lstm;
use crate::sequential::Sequential;
use crate::wavenet::WaveNet;

/// The concrete model a [`crate::dsp::Dsp`] runs at this moment: itself, or the active
/// submodel of a slimmable model, or a chain of models.
#[derive(Debug, Clone, Copy)]
pub enum Architecture<'a> {
    /// A WaveNet (also the active size of a slimmable WaveNet).
    WaveNet(&'a WaveNet),
    /// An LSTM.
    Lstm(&'a Lstm),
    /// A ConvNet.
    ConvNet(&'a ConvNet),
    /// A Linear (FIR) model.
    Linear(&'a Linear),
    /// Models run one after another.
    Sequential(&'a Sequential),
}

impl<'a> Architecture<'a> {
    /// The WaveNet, if this is one.
    pub fn wavenet(self) -> Option<&'a WaveNet> {
        match self {
            Self::WaveNet(w) => Some(w),
            _ => None,
        }
    }

    /// The LSTM, if this is one.
    pub fn lstm(self) -> Option<&'a Lstm> {
        match self {
            Self::Lstm(l) => Some(l),
            _ => None,
        }
    }

    /// The ConvNet, if this is one.
    pub fn convnet(self) -> Option<&'a ConvNet> {
        match self {
            Self::ConvNet(c) => Some(c),
            _ => None,
        }
    }

    /// The chain of models, if this is one.
    pub fn sequential(self) -> Option<&'a Sequential> {
        match self {
            Self::Sequential(s) => Some(s),
            _ => None,
        }
    }

    /// The Linear model, if this is one.
    pub fn linear(self) -> Option<&'a Linear> {
        match self {
            Self::Linear(l) => Some(l),
            _ => None,
        }
    }
}
