//! Catching the CRDT engine's panics, and keeping only those out of stderr.
//!
//! yrs asserts on some malformed input instead of returning an error. The
//! crate runs every decode and integration of bytes from elsewhere through
//! [`catch`], which turns such a panic into an error that the binaries
//! report in one line. A document that panicked mid-integration may hold a
//! half-applied transaction, so callers discard it (see
//! `UpdateError::leaves_document_suspect`).
//!
//! The panic hook installed by [`quiet_caught_engine_panics`] silences a
//! panic only while [`catch`] is running on that thread: any other panic,
//! in yrs or anywhere else, still reaches the previous hook (stderr, a
//! backtrace, a crash report).

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, UnwindSafe};

thread_local! {
    /// How many [`catch`] calls are running on this thread.
    static CATCHING: Cell<u32> = const { Cell::new(0) };
}

/// A panic that [`catch`] caught.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the CRDT engine panicked (caught)")]
pub struct Caught;

/// Runs `f`, turning a panic into `Err(Caught)`. While it runs, the hook of
/// [`quiet_caught_engine_panics`] logs panics at debug level instead of
/// printing them.
pub fn catch<R>(f: impl FnOnce() -> R + UnwindSafe) -> Result<R, Caught> {
    struct Depth;
    impl Drop for Depth {
        fn drop(&mut self) {
            CATCHING.with(|c| c.set(c.get().saturating_sub(1)));
        }
    }
    CATCHING.with(|c| c.set(c.get() + 1));
    let _depth = Depth;
    std::panic::catch_unwind(f).map_err(|_| Caught)
}

/// [`catch`] for closures that borrow mutable state: the caller promises to
/// discard (or not trust) that state after a panic.
pub fn catch_mut<R>(f: impl FnOnce() -> R) -> Result<R, Caught> {
    catch(AssertUnwindSafe(f))
}

/// Whether a [`catch`] is running on this thread.
pub fn is_catching() -> bool {
    CATCHING.with(Cell::get) > 0
}

/// Installs a panic hook that sends panics raised while [`catch`] runs to
/// the debug log instead of stderr, and leaves every other panic to the
/// previous hook. Call once, at the start of `main`.
pub fn quiet_caught_engine_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if is_catching() {
            let at = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            tracing::debug!("the CRDT engine rejected malformed input (caught panic at {at})");
        } else {
            previous(info);
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caught_panic_is_an_error_and_the_depth_unwinds() {
        assert!(!is_catching());
        let r: Result<(), Caught> = catch(|| panic!("engine assertion"));
        assert!(r.is_err());
        assert!(!is_catching(), "the depth is restored after a panic");
        assert_eq!(catch(|| 7), Ok(7));
        let nested = catch(|| {
            assert!(is_catching());
            catch(|| 1).map(|v| v + 1)
        });
        assert_eq!(nested, Ok(Ok(2)));
        assert!(!is_catching());
    }
}
