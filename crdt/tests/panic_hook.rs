//! The panic hook silences only panics raised while `panics::catch` runs;
//! any other panic still reaches the hook installed before it. (A process
//! of its own: the hook is global.)

#![allow(clippy::unwrap_used)] // tests: a panic is a failed test

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use touchpoint_crdt::panics;

#[test]
fn only_caught_panics_are_silenced() {
    let reported = Arc::new(AtomicUsize::new(0));
    let seen = reported.clone();
    std::panic::set_hook(Box::new(move |_| {
        seen.fetch_add(1, Ordering::SeqCst);
    }));
    panics::quiet_caught_engine_panics();

    assert!(panics::catch(|| panic!("an engine assertion")).is_err());
    assert_eq!(
        reported.load(Ordering::SeqCst),
        0,
        "a caught panic was reported"
    );

    // The same panic outside `catch` (a bug, not hostile input) is reported.
    assert!(std::panic::catch_unwind(|| panic!("a bug elsewhere")).is_err());
    assert_eq!(
        reported.load(Ordering::SeqCst),
        1,
        "an uncaught panic was silenced"
    );

    // And on another thread, whatever this one is doing.
    let other = std::thread::spawn(|| panic!("another thread")).join();
    assert!(other.is_err());
    assert_eq!(reported.load(Ordering::SeqCst), 2);
    let _ = std::panic::take_hook();
}
