//! A rotary knob for a parameter: drag up/down (Shift: finer), double-click for the default,
//! the host told about the gesture (begin/set/end) so it records automation.

use std::f32::consts::PI;

use egui::{Align2, Color32, FontId, Pos2, Sense, Shape, Stroke, Ui, Vec2};
use nice_plug::prelude::{Param, ParamSetter};

/// Pixels of vertical drag for the whole range.
const DRAG_RANGE_PX: f32 = 200.0;
/// The knob's sweep: 270° from lower left to lower right.
const SWEEP: f32 = 1.5 * PI;

/// Draws the knob for `param` and applies the user's gesture through `setter`.
pub fn knob<P: Param>(ui: &mut Ui, param: &P, setter: &ParamSetter, diameter: f32) -> egui::Response {
    let size = Vec2::new(diameter + 24.0, diameter + 40.0);
    let (rect, response) = ui.allocate_exact_size(size, Sense::click_and_drag());
    if response.double_clicked() {
        setter.begin_set_parameter(param);
        setter.set_parameter_normalized(param, param.default_normalized_value());
        setter.end_set_parameter(param);
    } else {
        if response.drag_started() {
            setter.begin_set_parameter(param);
        }
        if response.dragged() {
            let fine = if ui.input(|i| i.modifiers.shift) { 0.1 } else { 1.0 };
            let delta = -response.drag_delta().y / DRAG_RANGE_PX * fine;
            let value = (param.unmodulated_normalized_value() + delta).clamp(0.0, 1.0);
            setter.set_parameter_normalized(param, value);
        }
        if response.drag_stopped() {
            setter.end_set_parameter(param);
        }
    }

    let visuals = ui.visuals();
    let painter = ui.painter_at(rect);
    let radius = diameter / 2.0;
    let center = Pos2::new(rect.center().x, rect.top() + 18.0 + radius);
    let angle = |v: f32| PI * 0.75 + v * SWEEP;
    let at = |a: f32, r: f32| center + Vec2::new(a.cos(), a.sin()) * r;
    let arc = |from: f32, to: f32, r: f32| -> Vec<Pos2> {
        let steps = 40;
        (0..=steps).map(|i| at(angle(from + (to - from) * i as f32 / steps as f32), r)).collect()
    };
    let track = visuals.widgets.inactive.bg_fill;
    let accent = if response.hovered() || response.dragged() {
        visuals.selection.bg_fill.gamma_multiply(1.3)
    } else {
        visuals.selection.bg_fill
    };
    let value = param.modulated_normalized_value();
    painter.add(Shape::line(arc(0.0, 1.0, radius), Stroke::new(4.0, track)));
    painter.add(Shape::line(arc(0.0, value, radius), Stroke::new(4.0, accent)));
    painter.circle_filled(center, radius - 7.0, visuals.widgets.noninteractive.bg_fill.gamma_multiply(1.6));
    painter.line_segment(
        [at(angle(value), radius * 0.25), at(angle(value), radius - 9.0)],
        Stroke::new(3.0, Color32::WHITE),
    );
    let text = visuals.text_color();
    painter.text(
        Pos2::new(rect.center().x, rect.top()),
        Align2::CENTER_TOP,
        param.name(),
        FontId::proportional(14.0),
        text,
    );
    painter.text(
        Pos2::new(rect.center().x, rect.bottom()),
        Align2::CENTER_BOTTOM,
        param.normalized_value_to_string(param.modulated_normalized_value(), true),
        FontId::monospace(12.0),
        text,
    );
    response.on_hover_text("drag up/down (Shift: finer); double-click: default")
}
