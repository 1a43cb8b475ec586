use cubeaudio_kernels::biquad::BiquadCoefficients;
use cubeaudio_kernels::routed::RoutedBiquad;
use cubeaudio_kernels::util::Buffer;
use cubecl::prelude::*;

use super::{channel_routes, channels, known_settings, mono_ports};
use crate::engine::Engine;
use crate::error::{ProcessorError, RuntimeError};
use crate::processor::{
    BatchProcessor, Description, InstanceSetup, ParamDesc, ParamView, PrepareContext, ProcessorType, Settings, Unit,
};

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
        let channels: Vec<usize> = instances.iter().map(|i| i.input_slots.len()).collect();
        let routes = channel_routes(instances);
        let mut batch = EqBatch {
            shapes,
            channels,
            sample_rate: ctx.sample_rate,
            coeffs: vec![BiquadCoefficients([1.0, 0.0, 0.0, 0.0, 0.0]); routes.len()],
            last: vec![[f32::NAN; 3]; instances.len()],
            kernel: None,
            routes,
        };
        for (i, inst) in instances.iter().enumerate() {
            batch.update(i, [inst.params[0], inst.params[1], inst.params[2]]);
        }
        batch.kernel = Some(RoutedBiquad::new(engine.client(), &batch.routes, &batch.coeffs)?);
        Ok(Box::new(batch))
    }
}

struct EqBatch {
    shapes: Vec<Shape>,
    channels: Vec<usize>,
    sample_rate: f64,
    routes: Vec<(u32, u32)>,
    coeffs: Vec<BiquadCoefficients>,
    last: Vec<[f32; 3]>,
    kernel: Option<RoutedBiquad>,
}

impl EqBatch {
    /// Recomputes instance `i`'s coefficients when its parameters changed.
    fn update(&mut self, i: usize, p: [f32; 3]) {
        if p == self.last[i] {
            return;
        }
        self.last[i] = p;
        let c = design(self.shapes[i], self.sample_rate, p[0], p[1], p[2]);
        let start: usize = self.channels[..i].iter().sum();
        self.coeffs[start..start + self.channels[i]].fill(c);
    }
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
        for i in 0..self.shapes.len() {
            self.update(i, [params.get(i, 0), params.get(i, 1), params.get(i, 2)]);
        }
        let kernel = self.kernel.as_mut().ok_or(RuntimeError::NoGraph)?;
        kernel.set_coefficients(engine.client(), &self.coeffs)?;
        kernel.process(engine.client(), arena, stride, frames)?;
        Ok(1)
    }

    fn reset(&mut self, engine: &Engine<R>) -> Result<(), RuntimeError> {
        self.kernel = Some(RoutedBiquad::new(engine.client(), &self.routes, &self.coeffs)?);
        Ok(())
    }
}
