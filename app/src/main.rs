//! The `touchpoint` binary: the app (canvas window) and its command line.
//!
//! Subcommands report errors as one line on stderr with a non-zero exit code;
//! a user's mistake never shows a panic trace.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use touchpoint_sync::report::one_line;

mod cli;

#[derive(Parser)]
#[command(
    name = "touchpoint",
    version,
    about = "Collaborative whiteboard for service design"
)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Board to open in the app (a new board when none is named).
    board: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Create a board file: empty, or from a template (journey-map,
    /// service-blueprint, empathy-map, workshop, kanban, affinity, or a
    /// template .json file; see assets/templates/README.md).
    New {
        /// The .tpboard file to write.
        #[arg(value_name = "OUT.tpboard")]
        output: PathBuf,
        /// A built-in template's name, or a template .json file.
        #[arg(long, value_name = "NAME")]
        template: Option<String>,
        /// Replace OUT.tpboard if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Print a board as JSON: meta, then every element in drawing order, with
    /// text as plain strings and connectors' resolved end points.
    Inspect {
        /// The .tpboard file to read.
        board: PathBuf,
    },
    /// Draw a board to a PNG image on the GPU, with no window (software
    /// Vulkan works: install mesa-vulkan-drivers; WGPU_BACKEND picks a backend).
    Render {
        /// The .tpboard file to read.
        board: PathBuf,
        /// The PNG file to write.
        #[arg(short, long, value_name = "OUT.png")]
        output: PathBuf,
        /// Image width in pixels.
        #[arg(long, default_value_t = 1600, value_parser = clap::value_parser!(u32).range(1..=16384))]
        width: u32,
        /// Image height in pixels.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=16384))]
        height: u32,
        /// `fit` (the whole board with a margin) or X,Y,ZOOM: the world point
        /// at the image centre and the zoom (1 = 100%).
        #[arg(long, default_value = "fit", value_name = "fit|X,Y,ZOOM")]
        view: cli::render::View,
    },
    /// Export a board (or one frame, or some elements) to SVG or PNG, with
    /// no window. SVG: text laid out as on the canvas, a font subset
    /// embedded. PNG: drawn by the GPU renderer offscreen (software Vulkan
    /// works) at --scale.
    Export {
        /// The .tpboard file to read.
        board: PathBuf,
        /// The file to write: .svg or .png.
        #[arg(short, long, value_name = "OUT.svg|OUT.png")]
        output: PathBuf,
        /// Export only this frame (its id, or its title) and its elements.
        #[arg(long, value_name = "NAME-OR-ID")]
        frame: Option<String>,
        /// Export only these elements (ids, comma-separated), with the
        /// elements of any frame among them.
        #[arg(
            long,
            value_name = "ID[,ID...]",
            value_delimiter = ',',
            conflicts_with = "frame"
        )]
        select: Option<Vec<String>>,
        /// PNG: pixels per world unit (1 = 100%, 2 = 200%).
        #[arg(long, default_value_t = 1.0, value_name = "S")]
        scale: f64,
        /// SVG: draw text as glyph outlines (not selectable) instead of text.
        #[arg(long)]
        text_as_paths: bool,
        /// Space around the content, in world units (px at 100%).
        #[arg(long, default_value_t = touchpoint_scene::export::svg::DEFAULT_PADDING, value_name = "N")]
        padding: f64,
        /// Leave the background transparent.
        #[arg(long)]
        no_background: bool,
    },
    /// Open a board in the app and share it from this computer at once (as
    /// File › Share… › Host does): prints the editor and viewer links, one
    /// per line, on stdout.
    Share {
        /// The .tpboard file to share (created when missing).
        board: PathBuf,
    },
    /// Join a shared board from a link (touchpoint://HOST:PORT/ROOM?...):
    /// opens its local copy (kept in the data directory, so work done
    /// offline survives a restart) in the app and syncs it with the room.
    Join {
        /// The link someone shared (File › Share… in the app, or
        /// `touchpoint-server share`).
        link: String,
    },
}

fn main() -> ExitCode {
    quiet_vulkan_device_select();
    init_logging();
    touchpoint_crdt::panics::quiet_caught_engine_panics();
    let args = Args::parse();
    let result = match args.command {
        Some(Command::New {
            output,
            template,
            force,
        }) => cli::new::run(&output, template.as_deref(), force),
        Some(Command::Inspect { board }) => cli::inspect::run(&board),
        Some(Command::Render {
            board,
            output,
            width,
            height,
            view,
        }) => cli::render::run(&board, &output, width, height, view),
        Some(Command::Export {
            board,
            output,
            frame,
            select,
            scale,
            text_as_paths,
            padding,
            no_background,
        }) => cli::export::run(&cli::export::Request {
            board: &board,
            output: &output,
            frame,
            select,
            padding,
            background: !no_background,
            scale,
            text_as_paths,
        }),
        Some(Command::Join { link }) => touchpoint::ui::run_join(&link),
        Some(Command::Share { board }) => touchpoint::ui::run_share(board),
        None => touchpoint::ui::run(args.board),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("touchpoint: {}", one_line(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// Mesa's device-select Vulkan layer asks the Wayland compositor which GPU
/// is the default, and without a runtime directory (a server, CI, ssh)
/// libwayland prints "error: XDG_RUNTIME_DIR is invalid or not set" for
/// every Vulkan instance: alarming noise on an export that succeeds. With
/// no runtime directory there is no compositor to ask, so the layer can
/// find nothing; it is turned off (its documented `NODEVICE_SELECT`).
#[allow(unsafe_code)]
fn quiet_vulkan_device_select() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none()
        && std::env::var_os("NODEVICE_SELECT").is_none()
    {
        // SAFETY: the first thing `main` does, before any thread exists, so
        // nothing reads the environment concurrently.
        unsafe { std::env::set_var("NODEVICE_SELECT", "1") };
    }
}

/// Logs go to stderr so that stdout stays machine-readable (inspect's JSON).
/// `RUST_LOG` overrides the default level (warnings).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
