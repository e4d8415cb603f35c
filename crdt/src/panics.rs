//! Keeping panics that the crate catches out of a binary's stderr.

/// Installs a panic hook that sends panics raised inside yrs to the debug log
/// instead of stderr, and leaves every other panic to the previous hook.
///
/// yrs asserts on some malformed input; this crate catches those panics and
/// returns an error (`UpdateError`), which the binaries report in one line.
/// The default hook would still print a panic message (and a backtrace) for
/// each. Call once, at the start of `main`.
pub fn quiet_caught_engine_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| match info.location() {
        Some(loc) if loc.file().contains("/yrs-") => {
            tracing::debug!("yrs rejected malformed input at {loc}");
        }
        _ => previous(info),
    }));
}
