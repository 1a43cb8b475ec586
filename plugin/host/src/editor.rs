//! Opening the plugin's editor as a DAW does on Linux: the host makes an X11 window, hands it
//! to the plugin through the CLAP GUI extension (embedded, not floating), shows it, and later
//! hides and destroys it. Run under Xvfb in CI; the window's pixels are read back for a
//! screenshot and to check that the editor really drew.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{bail, ensure, Context, Result};
use clack_extensions::gui::{GuiApiType, GuiConfiguration, PluginGui, Window as ClapWindow};
use clack_host::prelude::PluginMainThreadHandle;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt, CreateWindowAux, ImageFormat, WindowClass};
use x11rb::rust_connection::RustConnection;

/// An open editor in the host's window.
pub struct OpenEditor {
    conn: RustConnection,
    window: u32,
    gui: PluginGui,
    /// The editor's size in pixels, as the plugin reported it.
    pub size: (u16, u16),
}

/// What a screenshot shows.
pub struct Shot {
    /// Distinct colours in the window: a blank or failed editor has one or two.
    pub colours: usize,
}

/// Creates the host's window and embeds the plugin's editor in it.
pub fn open(plugin: &PluginMainThreadHandle, gui: PluginGui) -> Result<OpenEditor> {
    let (conn, screen) =
        x11rb::connect(None).context("no X display for the editor (set DISPLAY, e.g. run under xvfb-run)")?;
    let config = GuiConfiguration { api_type: GuiApiType::X11, is_floating: false };
    ensure!(gui.is_api_supported(plugin, config), "the plugin does not offer an embedded X11 editor");
    gui.create(plugin, config).map_err(|e| anyhow::anyhow!("the plugin could not create its editor: {e:?}"))?;
    let size = gui.get_size(plugin).context("the plugin reports no editor size")?;
    ensure!(size.width > 0 && size.height > 0 && size.width < 8192 && size.height < 8192, "editor size {size:?}");
    let (w, h) = (size.width as u16, size.height as u16);
    let root = conn.setup().roots[screen].root;
    let black = conn.setup().roots[screen].black_pixel;
    let window = conn.generate_id()?;
    conn.create_window(
        x11rb::COPY_DEPTH_FROM_PARENT,
        window,
        root,
        0,
        0,
        w,
        h,
        0,
        WindowClass::INPUT_OUTPUT,
        x11rb::COPY_FROM_PARENT,
        &CreateWindowAux::new().background_pixel(black),
    )?;
    conn.map_window(window)?;
    conn.flush()?;
    // SAFETY: the window lives until `close` destroys the editor, then the window.
    unsafe { gui.set_parent(plugin, ClapWindow::from_x11_handle(window.into())) }
        .map_err(|e| anyhow::anyhow!("set_parent: {e:?}"))?;
    gui.show(plugin).map_err(|e| anyhow::anyhow!("show: {e:?}"))?;
    Ok(OpenEditor { conn, window, gui, size: (w, h) })
}

impl OpenEditor {
    /// Reads the window's pixels (the embedded editor included) and, with `png`, writes them.
    pub fn capture(&self, png: Option<&Path>) -> Result<Shot> {
        let (w, h) = self.size;
        let reply = self.conn.get_image(ImageFormat::Z_PIXMAP, self.window, 0, 0, w, h, !0)?.reply()?;
        let pixels = (w as usize) * (h as usize);
        if reply.depth != 24 || reply.data.len() != pixels * 4 {
            bail!("unexpected X image: depth {}, {} bytes for {w}×{h}", reply.depth, reply.data.len());
        }
        // 24-bit depth in 32-bit pixels, little-endian: B, G, R, pad.
        let rgb: Vec<u8> = reply.data.chunks_exact(4).flat_map(|p| [p[2], p[1], p[0]]).collect();
        let colours = rgb.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect::<HashSet<_>>().len();
        if let Some(path) = png {
            crate::png::write(path, w as u32, h as u32, &rgb).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(Shot { colours })
    }

    /// Hides and destroys the editor, then the host's window.
    pub fn close(self, plugin: &PluginMainThreadHandle) -> Result<()> {
        self.gui.hide(plugin).map_err(|e| anyhow::anyhow!("hide: {e:?}"))?;
        self.gui.destroy(plugin);
        self.conn.destroy_window(self.window)?;
        self.conn.flush()?;
        Ok(())
    }
}
