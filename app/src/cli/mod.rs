//! Command-line subcommands that need no window.

pub mod inspect;
pub mod render;
