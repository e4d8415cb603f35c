//! [`export_to_file`]: the one call for the app's Export menu and the
//! command line: the format from the file name, SVG from the scene
//! ([`touchpoint_scene::export::svg`]) or PNG from the GPU renderer
//! ([`touchpoint_render::png`]), written atomically, progress reported.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use touchpoint_crdt::Board;

use touchpoint_render::GpuContext;
use touchpoint_render::png::{self, PngError, PngOptions, write_png};
use touchpoint_scene::export::svg::{self, SvgError};
use touchpoint_scene::scene::Scene;
use touchpoint_scene::text::Fonts;

pub use touchpoint_scene::export::{ExportStats, Scope, SvgOptions, write_svg_with_progress};

/// Why an export to a file failed: the format, or what its writer said.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot tell the format of {0}: name the output file .svg or .png")]
    UnknownFormat(String),
    #[error(transparent)]
    Svg(#[from] SvgError),
    #[error(transparent)]
    Png(#[from] PngError),
    #[error("cannot write the export: {0}")]
    Io(#[from] std::io::Error),
}

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Svg,
    Png,
}

impl Format {
    /// The format a file name asks for (`.svg` or `.png`, any case).
    pub fn from_path(path: &Path) -> Result<Format, ExportError> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("svg") => Ok(Format::Svg),
            Some("png") => Ok(Format::Png),
            _ => Err(ExportError::UnknownFormat(path.display().to_string())),
        }
    }
}

/// What to export, where, and how: what the Export dialog (or the command
/// line) asks for. Start from [`ExportRequest::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRequest {
    /// The file to write; its extension picks the format.
    pub output: PathBuf,
    /// The whole board, one frame, or a selection.
    pub scope: Scope,
    /// World units around the content.
    pub padding: f64,
    /// White background (true) or transparent.
    pub background: bool,
    /// PNG only: pixels per world unit (1 = 100%).
    pub scale: f64,
    /// SVG only: text as glyph outlines instead of selectable text.
    pub text_as_paths: bool,
}

impl ExportRequest {
    /// The whole board to `output`, default padding, background on, scale 1,
    /// text as text.
    pub fn new(output: impl Into<PathBuf>) -> ExportRequest {
        ExportRequest {
            output: output.into(),
            scope: Scope::Board,
            padding: svg::DEFAULT_PADDING,
            background: true,
            scale: 1.0,
            text_as_paths: false,
        }
    }
}

/// Exports `scene` (built from `board`) as `request` says, to
/// `request.output`, and reports progress as `progress(done, total)`
/// elements (call it from a worker thread to keep a window responsive; it
/// is called every few hundred elements, and once at the end).
///
/// - SVG needs no GPU.
/// - PNG renders on the GPU: this creates a [`GpuContext`] (an offscreen
///   device; software Vulkan works); [`export_to_file_with_gpu`] reuses one.
///
/// The file is written to a temporary file beside `request.output` and
/// renamed into place, so a failed export leaves no half-written file.
pub fn export_to_file(
    board: &Board,
    scene: &Scene,
    request: &ExportRequest,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<ExportStats, ExportError> {
    export_to_file_with_gpu(board, scene, request, None, progress)
}

/// [`export_to_file`] with a GPU context to render PNGs on (`None`: one is
/// created when the format is PNG).
pub fn export_to_file_with_gpu(
    board: &Board,
    scene: &Scene,
    request: &ExportRequest,
    gpu: Option<&GpuContext>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<ExportStats, ExportError> {
    let format = Format::from_path(&request.output)?;
    // Check the request before creating anything.
    if !request.padding.is_finite() || request.padding < 0.0 {
        return Err(SvgError::BadPadding(request.padding).into());
    }
    if format == Format::Png {
        png::image_size(
            touchpoint_scene::geom::Rect::point(touchpoint_scene::geom::Vec2::ZERO),
            request.scale,
        )?;
    }
    let dir = match request.output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = request
        .output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = write_to(&tmp, format, board, scene, request, gpu, progress).and_then(|stats| {
        std::fs::rename(&tmp, &request.output)?;
        Ok(stats)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn write_to(
    tmp: &Path,
    format: Format,
    board: &Board,
    scene: &Scene,
    request: &ExportRequest,
    gpu: Option<&GpuContext>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<ExportStats, ExportError> {
    match format {
        Format::Svg => {
            let options = SvgOptions::DEFAULT
                .with_scope(request.scope.clone())
                .with_padding(request.padding)
                .with_background(request.background)
                .with_title(board.meta().title)
                .with_text_as_paths(request.text_as_paths);
            // Check the scope before creating the file.
            svg::Selection::new(scene, &options.scope)?;
            let file = File::create(tmp)?;
            let mut fonts = Fonts::new();
            let stats = write_svg_with_progress(scene, &mut fonts, &options, file, progress)?;
            Ok(stats)
        }
        Format::Png => {
            let options = PngOptions {
                scope: request.scope.clone(),
                scale: request.scale,
                padding: request.padding,
                background: request.background,
            };
            svg::Selection::new(scene, &options.scope)?;
            let owned;
            let gpu = match gpu {
                Some(g) => g,
                None => {
                    owned = GpuContext::new().map_err(PngError::from)?;
                    &owned
                }
            };
            let file = File::create(tmp)?;
            Ok(write_png(
                gpu,
                board,
                scene,
                &options,
                BufWriter::new(file),
                progress,
            )?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The app runs [`export_to_file`] on a worker thread with the board, the
    /// scene and a GPU context moved or shared there.
    #[test]
    fn what_export_takes_can_move_to_a_worker_thread() {
        fn is_send<T: Send>() {}
        is_send::<Board>();
        is_send::<Scene>();
        is_send::<GpuContext>();
        is_send::<ExportRequest>();
    }

    #[test]
    fn formats_come_from_the_extension() {
        assert_eq!(
            Format::from_path(Path::new("a/b.SVG")).unwrap(),
            Format::Svg
        );
        assert_eq!(Format::from_path(Path::new("b.png")).unwrap(), Format::Png);
        for bad in ["b.jpeg", "b", "svg"] {
            let err = Format::from_path(Path::new(bad)).unwrap_err();
            assert!(err.to_string().contains(".svg or .png"), "{err}");
        }
    }
}
