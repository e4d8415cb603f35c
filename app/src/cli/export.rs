//! `touchpoint export`: a board (or one frame) to SVG, with no window.
//!
//! Streams the document to a temporary file next to the output and renames
//! it into place, so a failed export never leaves half a file behind. PNG
//! export is not built yet (`touchpoint render` draws PNGs on the GPU).

use std::fs::File;
use std::path::Path;

use anyhow::{Context, bail};
use touchpoint::export::{Scope, SvgOptions, write_svg};
use touchpoint::scene::Scene;
use touchpoint::text::Fonts;
use touchpoint_crdt::file;

/// What `touchpoint export` was asked for.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub board: &'a Path,
    pub output: &'a Path,
    /// A frame's id or title; `None`: the whole board.
    pub frame: Option<String>,
    /// World units around the content.
    pub padding: f64,
    pub background: bool,
}

pub fn run(req: &Request<'_>) -> anyhow::Result<()> {
    if super::export_csv::is_csv(req.output) {
        return super::export_csv::run(req.board, req.output, req.frame.as_deref());
    }
    let ext = req
        .output
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("svg") => {}
        Some("png") => bail!(
            "PNG export is not built yet; export to .svg, or draw a PNG with `touchpoint render {} -o {}`",
            req.board.display(),
            req.output.display()
        ),
        _ => bail!(
            "cannot tell the format of {}: name the output file .svg",
            req.output.display()
        ),
    }
    if !req.padding.is_finite() || req.padding < 0.0 {
        bail!(
            "--padding must be a number of world units, at least 0 (got {})",
            req.padding
        );
    }
    let board = file::load(req.board)?;
    let scene = Scene::build(&board);
    let mut fonts = Fonts::new();
    let options = SvgOptions::DEFAULT
        .with_scope(req.frame.clone().map_or(Scope::Board, Scope::Frame))
        .with_padding(req.padding)
        .with_background(req.background)
        .with_title(board.meta().title);

    let dir = match req.output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = req
        .output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = File::create(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))
        .and_then(|f| {
            write_svg(&scene, &mut fonts, &options, f)
                .with_context(|| format!("cannot export {}", req.output.display()))
        })
        .and_then(|_| {
            std::fs::rename(&tmp, req.output)
                .with_context(|| format!("cannot write {}", req.output.display()))
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
