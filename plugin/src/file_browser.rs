//! The editor's model picker: a directory listing of folders and `.nam` files inside the
//! plugin's own window (a native dialog would need a toolkit the host may not have, and a
//! modal one would block the host's GUI thread), plus a field for a typed or pasted path.

use std::path::{Path, PathBuf};

use egui::Ui;

/// Entries listed per folder at most (a huge folder must not stall the host's GUI thread).
pub const MAX_ENTRIES: usize = 2_000;

/// One listed entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file or folder name.
    pub name: String,
    /// A folder (or a link to one).
    pub is_dir: bool,
}

/// A folder's folders and `.nam` files, folders first, each group sorted by name (hidden
/// entries skipped), at most [`MAX_ENTRIES`]; the flag says whether the listing was cut.
pub fn list(dir: &Path) -> std::io::Result<(Vec<Entry>, bool)> {
    let mut entries = Vec::new();
    let mut cut = false;
    for item in std::fs::read_dir(dir)? {
        let Ok(item) = item else { continue };
        let name = item.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        // Follows links, as a user expects of a linked models folder.
        let is_dir = item.path().is_dir();
        let is_model = Path::new(&name).extension().is_some_and(|e| e.eq_ignore_ascii_case("nam"));
        if !is_dir && !is_model {
            continue;
        }
        if entries.len() == MAX_ENTRIES {
            cut = true;
            break;
        }
        entries.push(Entry { name, is_dir });
    }
    entries.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase())));
    Ok((entries, cut))
}

/// The picker's state between frames.
pub struct FileBrowser {
    dir: PathBuf,
    entries: Vec<Entry>,
    note: Option<String>,
    typed: String,
}

impl FileBrowser {
    /// Opens at the folder of `current` (the loaded model), else the home folder.
    pub fn new(current: &str) -> Self {
        let start = Path::new(current)
            .parent()
            .filter(|p| p.is_dir())
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("HOME").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("/"));
        let mut browser = Self { dir: PathBuf::new(), entries: Vec::new(), note: None, typed: current.to_string() };
        browser.open(start);
        browser
    }

    fn open(&mut self, dir: PathBuf) {
        match list(&dir) {
            Ok((entries, cut)) => {
                self.note = cut.then(|| format!("showing the first {MAX_ENTRIES} entries"));
                self.entries = entries;
                self.dir = dir;
            }
            Err(e) => self.note = Some(format!("{}: {e}", dir.display())),
        }
    }

    /// Draws the picker; returns the model the user chose, if they chose one this frame.
    pub fn ui(&mut self, ui: &mut Ui) -> Option<PathBuf> {
        let mut chosen = None;
        let mut go = None;
        ui.horizontal(|ui| {
            if ui.button("⬆ Up").clicked() {
                go = self.dir.parent().map(Path::to_path_buf);
            }
            ui.label(self.dir.display().to_string());
        });
        if let Some(note) = &self.note {
            ui.colored_label(ui.visuals().warn_fg_color, note);
        }
        egui::ScrollArea::vertical().max_height(150.0).auto_shrink([false, true]).show(ui, |ui| {
            for entry in &self.entries {
                let label = if entry.is_dir { format!("{}/", entry.name) } else { entry.name.clone() };
                if ui.selectable_label(false, label).clicked() {
                    let path = self.dir.join(&entry.name);
                    if entry.is_dir {
                        go = Some(path);
                    } else {
                        chosen = Some(path);
                    }
                }
            }
            if self.entries.is_empty() {
                ui.weak("no folders or .nam files here");
            }
        });
        ui.horizontal(|ui| {
            let field = ui
                .add(egui::TextEdit::singleline(&mut self.typed).hint_text("/path/to/model.nam").desired_width(360.0));
            let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (ui.button("Load").clicked() || enter) && !self.typed.trim().is_empty() {
                let path = PathBuf::from(self.typed.trim());
                if path.is_dir() {
                    go = Some(path);
                } else {
                    chosen = Some(path);
                }
            }
        });
        if let Some(dir) = go {
            self.open(dir);
        }
        if let Some(path) = &chosen {
            self.typed = path.display().to_string();
        }
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_folders_then_models_and_nothing_else() {
        let dir = std::env::temp_dir().join(format!("cubeaudio-browser-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("Zeta amps")).unwrap();
        std::fs::create_dir_all(dir.join("alpha")).unwrap();
        std::fs::create_dir_all(dir.join(".hidden")).unwrap();
        for f in ["b.nam", "A.NAM", "notes.txt", "c.wav", ".d.nam"] {
            std::fs::write(dir.join(f), b"{}").unwrap();
        }
        let (entries, cut) = list(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let names: Vec<_> = entries.iter().map(|e| (e.name.as_str(), e.is_dir)).collect();
        assert_eq!(names, [("alpha", true), ("Zeta amps", true), ("A.NAM", false), ("b.nam", false)]);
        assert!(!cut);
    }

    #[test]
    fn a_missing_folder_is_an_error_not_a_panic() {
        assert!(list(Path::new("/nonexistent/cubeaudio/models")).is_err());
        let browser = FileBrowser::new("/nonexistent/cubeaudio/models/x.nam");
        // Falls back to the home folder (or /) instead of the missing one.
        assert!(browser.dir.is_dir(), "{}", browser.dir.display());
    }
}
