//! Command-line subcommands that need no window.

pub mod export;
pub mod inspect;
pub mod render;
