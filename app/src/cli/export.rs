//! `touchpoint export`: a board (the whole board, one frame, or a selection
//! of elements) to SVG or PNG, with no window; the format comes from the
//! output's extension. The work is [`touchpoint::export::export_to_file`],
//! the same call the app's Export menu makes: the file is written to a
//! temporary file next to the output and renamed into place, so a failed
//! export never leaves half a file behind.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, bail};
use touchpoint::export::{ExportRequest, Format, Scope, export_to_file};
use touchpoint_editor::autosave::disk;
use touchpoint_scene::scene::Scene;

/// Boards at least this large show progress on a terminal.
const PROGRESS_FROM: usize = 5_000;

/// What `touchpoint export` was asked for.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub board: &'a Path,
    pub output: &'a Path,
    /// A frame's id or title; `None`: the whole board (or the selection).
    pub frame: Option<String>,
    /// Element ids to export (with the elements of any frame among them).
    pub select: Option<Vec<String>>,
    /// World units around the content.
    pub padding: f64,
    pub background: bool,
    /// PNG: pixels per world unit (1 = 100%).
    pub scale: f64,
    /// SVG: text as glyph outlines.
    pub text_as_paths: bool,
}

pub fn run(req: &Request<'_>) -> anyhow::Result<()> {
    if super::export_csv::is_csv(req.output) {
        return super::export_csv::run(req.board, req.output, req.frame.as_deref());
    }
    let Ok(format) = Format::from_path(req.output) else {
        bail!(
            "cannot tell the format of {}: name the output file .svg, .png or .csv",
            req.output.display()
        );
    };
    if !req.padding.is_finite() || req.padding < 0.0 {
        bail!(
            "--padding must be a number of world units, at least 0 (got {})",
            req.padding
        );
    }
    if format == Format::Png && req.text_as_paths {
        bail!("--text-as-paths is for SVG; a PNG draws text as pixels anyway");
    }
    let scope = match (&req.frame, &req.select) {
        (Some(_), Some(_)) => bail!("use either --frame or --select, not both"),
        (Some(frame), None) => Scope::Frame(frame.clone()),
        (None, Some(ids)) => Scope::Elements(ids.clone()),
        (None, None) => Scope::Board,
    };
    let board = disk::load(req.board)?;
    let scene = Scene::build(&board);
    let request = ExportRequest {
        output: req.output.to_path_buf(),
        scope,
        padding: req.padding,
        background: req.background,
        scale: req.scale,
        text_as_paths: req.text_as_paths,
    };
    let show = std::io::stderr().is_terminal() && scene.len() >= PROGRESS_FROM;
    let mut last = usize::MAX;
    let stats = export_to_file(&board, &scene, &request, &mut |done, total| {
        let pct = (done * 100).checked_div(total).unwrap_or(100);
        if show && pct != last {
            last = pct;
            eprint!("\rexporting {}: {pct}%", req.output.display());
        }
    });
    if show {
        eprintln!();
    }
    let stats = stats.with_context(|| format!("cannot export {}", req.output.display()))?;
    tracing::info!(
        "exported {} elements to {} ({} bytes)",
        stats.elements,
        req.output.display(),
        stats.bytes
    );
    Ok(())
}
