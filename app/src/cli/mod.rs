//! Command-line subcommands that need no window.

pub mod export;
pub mod export_csv;
pub mod inspect;
pub mod new;
pub mod render;
