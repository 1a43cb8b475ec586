use cubeaudio_kernels::biquad::BiquadCoefficients;
use cubeaudio_kernels::graph_program::KIND_BIQUAD;
use cubeaudio_kernels::routed::RoutedBiquad;
use cubeaudio_kernels::util::Buffer;
use cubecl::prelude::*;

use super::derived::DerivedPerChannel;
use super::{channel_routes, channels, known_settings, mono_ports};
use crate::engine::Engine;
use crate::error::{ProcessorError, RuntimeError};
use crate::processor::{
    BatchProcessor, Description, InstanceSetup, ParamDesc, ParamView, PrepareContext, ProcessorType, Settings, Unit,
};
use crate::program_type::ProgramType;

/// One biquad band. Settings: `channels`, `shape` (`peak` default, `lowpass`, `highpass`).
/// Params: `freq_hz`, `q`, `gain_db` (peak only). Coefficients are recomputed at the buffer a
/// parameter changes in (RBJ cookbook, f64), filter state kept.
pub struct Eq;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    Peak,
    Lowpass,
    Highpass,
}

const PARAMS: [ParamDesc; 3] = [
    ParamDesc {
        id: 1,
        name: "freq_hz",
        min: 20.0,
        max: 20_000.0,
        default: 1000.0,
        unit: Unit::Hertz,
        smoothing_ms: None,
    },
    ParamDesc { id: 2, name: "q", min: 0.1, max: 18.0, default: 0.707, unit: Unit::Ratio, smoothing_ms: None },
    ParamDesc { id: 3, name: "gain_db", min: -24.0, max: 24.0, default: 0.0, unit: Unit::Decibels, smoothing_ms: None },
];

fn shape(settings: &Settings) -> Result<Shape, ProcessorError> {
    match settings.get("shape").map(|v| v.as_str()) {
        None => Ok(Shape::Peak),
        Some(Some("peak")) => Ok(Shape::Peak),
        Some(Some("lowpass")) => Ok(Shape::Lowpass),
        Some(Some("highpass")) => Ok(Shape::Highpass),
        Some(_) => Err(ProcessorError::Setting {
            setting: "shape",
            reason: format!("must be \"peak\", \"lowpass\" or \"highpass\", got {}", settings["shape"]),
        }),
    }
}

fn design(shape: Shape, sample_rate: f64, freq: f32, q: f32, gain_db: f32) -> BiquadCoefficients {
    // Keep the centre below Nyquist whatever the sample rate.
    let f = (freq as f64).min(0.49 * sample_rate);
    match shape {
        Shape::Peak => BiquadCoefficients::peaking(sample_rate, f, q as f64, gain_db as f64),
        Shape::Lowpass => BiquadCoefficients::lowpass(sample_rate, f, q as f64),
        Shape::Highpass => BiquadCoefficients::highpass(sample_rate, f, q as f64),
    }
}

impl<R: Runtime> ProcessorType<R> for Eq {
    fn name(&self) -> &'static str {
        "eq"
    }

    fn describe(&self, settings: &Settings) -> Result<Description, ProcessorError> {
        known_settings(settings, &["channels", "shape"])?;
        shape(settings)?;
        let (inputs, outputs) = mono_ports(channels(settings)?);
        Ok(Description { type_name: "eq", inputs, outputs, params: PARAMS.to_vec() })
    }

    fn prepare(
        &self,
        engine: &Engine<R>,
        ctx: &PrepareContext,
        instances: &[InstanceSetup],
    ) -> Result<Box<dyn BatchProcessor<R>>, ProcessorError> {
        let shapes = instances.iter().map(|i| shape(i.settings)).collect::<Result<Vec<_>, _>>()?;
        let routes = channel_routes(instances);
        let sample_rate = ctx.sample_rate;
        let coeffs = DerivedPerChannel::new(instances, |i, p| design(shapes[i], sample_rate, p[0], p[1], p[2]));
        let kernel = RoutedBiquad::new(engine.client(), &routes, coeffs.values())?;
        Ok(Box::new(EqBatch { shapes, sample_rate, routes, coeffs, kernel }))
    }

    fn program(&self) -> Option<&dyn ProgramType> {
        Some(self)
    }
}

impl ProgramType for Eq {
    fn kind(&self, _settings: &Settings) -> u32 {
        KIND_BIQUAD
    }

    fn device_params(&self, sample_rate: f64, settings: &Settings, params: &[f32], out: &mut [f32]) {
        // `describe` refused any other shape before the graph was built.
        let shape = shape(settings).unwrap_or(Shape::Peak);
        out.copy_from_slice(&design(shape, sample_rate, params[0], params[1], params[2]).0);
    }
}

struct EqBatch {
    shapes: Vec<Shape>,
    sample_rate: f64,
    routes: Vec<(u32, u32)>,
    coeffs: DerivedPerChannel<BiquadCoefficients>,
    kernel: RoutedBiquad,
}

impl<R: Runtime> BatchProcessor<R> for EqBatch {
    fn process(
        &mut self,
        engine: &Engine<R>,
        arena: &Buffer,
        stride: usize,
        params: ParamView,
        frames: usize,
    ) -> Result<u32, RuntimeError> {
        let (shapes, sample_rate) = (&self.shapes, self.sample_rate);
        self.coeffs.update(params, |i, p| design(shapes[i], sample_rate, p[0], p[1], p[2]));
        self.kernel.set_coefficients(engine.client(), self.coeffs.values())?;
        self.kernel.process(engine.client(), arena, stride, frames)?;
        Ok(1)
    }

    fn reset(&mut self, engine: &Engine<R>) -> Result<(), RuntimeError> {
        self.kernel = RoutedBiquad::new(engine.client(), &self.routes, self.coeffs.values())?;
        Ok(())
    }
}
