//! The plugin's editor (egui through nice-plug-egui): load a model, the three knobs and bypass,
//! and the status lines of [`crate::status`]. Everything here runs on the host's GUI thread;
//! loading goes to a background task, never to the audio thread.

use std::sync::Arc;
use std::time::Duration;

use egui::RichText;
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::LogicalSize;
use nice_plug::prelude::AsyncExecutor;
use nice_plug_egui::{
    create_egui_editor, EguiEditor, EguiEditorState, EguiNiceSettings, Frame, NiceEguiApp, RepaintNotifier,
};

use crate::file_browser::FileBrowser;
use crate::knob::knob;
use crate::{NamParams, NamPlugin, Shared, Task};

/// The editor's size in logical pixels.
pub const SIZE: (f64, f64) = (600.0, 420.0);
/// How often the open editor redraws without input (the status lines change on their own).
const REFRESH: Duration = Duration::from_millis(100);

/// The editor window's state, kept by the plugin between openings.
pub fn default_state() -> Arc<EguiEditorState> {
    EguiEditorState::from_size(LogicalSize::new(SIZE.0, SIZE.1), 1.0)
}

/// The editor for one plugin instance.
pub fn create(
    params: Arc<NamParams>,
    shared: Arc<Shared>,
    executor: AsyncExecutor<NamPlugin>,
    state: Arc<EguiEditorState>,
) -> Option<EguiEditor<NamEditor>> {
    let repaint = RepaintNotifier::new();
    let settings = EguiNiceSettings::new().with_tile("cubeaudio NAM").with_repaint_poll_interval(REFRESH);
    let app = NamEditor { params, shared, executor, gui: None, browser: None, repaint: repaint.clone() };
    create_egui_editor(state, repaint, settings, app)
}

/// See the module docs.
pub struct NamEditor {
    params: Arc<NamParams>,
    shared: Arc<Shared>,
    executor: AsyncExecutor<NamPlugin>,
    gui: Option<GuiContext>,
    browser: Option<FileBrowser>,
    repaint: RepaintNotifier,
}

impl NamEditor {
    fn model_path(&self) -> String {
        self.params.model_path.read().map(|p| p.clone()).unwrap_or_default()
    }

    /// Prepares the chosen model in the background; it becomes the plugin's model (and the
    /// project's) only if it loads.
    fn load(&mut self, path: std::path::PathBuf) {
        let text = path.display().to_string();
        self.shared.set_status(format!("loading {text} …"));
        self.executor.execute_background(Task::Load(text));
    }
}

impl NiceEguiApp for NamEditor {
    fn build(
        &mut self,
        ctx: egui::Context,
        gui: GuiContext,
        _frame: &mut Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        ctx.set_visuals(egui::Visuals::dark());
        self.gui = Some(gui);
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut Frame) {
        // The status changes without input: redraw at the poll interval while open.
        self.repaint.request_repaint();
        let Some(gui) = self.gui.clone() else { return };
        let setter = gui.param_setter();
        egui::Frame::central_panel(ui.style()).show(ui, |ui| {
            ui.set_min_size(ui.available_size());
            ui.heading("cubeaudio NAM");
            ui.horizontal(|ui| {
                let path = self.model_path();
                let name = std::path::Path::new(&path).file_name().map(|n| n.to_string_lossy().into_owned());
                ui.label(RichText::new(name.as_deref().unwrap_or("no model")).strong()).on_hover_text(&path);
                let open = self.browser.is_some();
                if ui.button(if open { "Close" } else { "Load model…" }).clicked() {
                    self.browser = if open { None } else { Some(FileBrowser::new(&path)) };
                }
            });
            if let Some(chosen) = self.browser.as_mut().and_then(|b| b.ui(ui)) {
                self.browser = None;
                self.load(chosen);
            }
            ui.add_space(8.0);
            ui.horizontal(|ui| {
                knob(ui, &self.params.input_gain, &setter, 64.0);
                knob(ui, &self.params.output_gain, &setter, 64.0);
                knob(ui, &self.params.slim, &setter, 64.0).on_hover_text("slimmable models (A2) only");
                ui.add_space(16.0);
                let mut bypass = self.params.bypass.value();
                if ui.checkbox(&mut bypass, "Bypass").changed() {
                    setter.begin_set_parameter(&self.params.bypass);
                    setter.set_parameter(&self.params.bypass, bypass);
                    setter.end_set_parameter(&self.params.bypass);
                }
            });
            ui.separator();
            let lines = self.shared.status_lines();
            ui.label(RichText::new(&lines.model).monospace());
            ui.label(RichText::new(&lines.engine).monospace());
            let instance = RichText::new(&lines.instance).monospace();
            if lines.warning {
                ui.label(instance.color(ui.visuals().warn_fg_color));
            } else {
                ui.label(instance);
            }
            ui.add_space(4.0);
            ui.weak(format!("latency: one host buffer ({} frames)", self.shared.block()));
        });
    }
}
