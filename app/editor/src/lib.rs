//! Editing a board without a window: what a pointer, a key or a menu does
//! to the document, whoever draws it (the desktop window, a browser, a test).
//!
//! - [`tools`]: select, move, resize, draw, connect, type; one board edit
//!   per gesture, driven by synthetic [`tools::Input`] in tests.
//! - [`clipboard`]: copied elements as text, pasted with new ids.
//! - [`templates`]: the built-in boards (journey map, blueprint, ...).
//! - [`workspace`]: one open board: document, scene, camera, tools, undo,
//!   selection, and when its edits are stored.
//! - [`autosave`]: where edits go ([`autosave::Persist`]); on the desktop a
//!   journal beside the file, folded into it in the background.
//!
//! No GPU, window, async runtime or sockets: the app's window and the sync
//! session sit on top of this crate.

pub mod autosave;
pub mod clipboard;
pub mod templates;
pub mod tools;
pub mod workspace;
