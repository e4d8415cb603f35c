//! Transaction origins (who made a change: this board's user, the network,
//! the board's own set-up) and observer keys.

use std::sync::atomic::{AtomicU64, Ordering};

use yrs::Origin;

/// Origin given to transactions that apply updates from elsewhere (the network,
/// a file merge). The undo manager never tracks it.
pub const REMOTE_ORIGIN: &str = "touchpoint:remote";

/// Origin of the transaction that initialises a new board's `meta`.
pub(crate) const INIT_ORIGIN: &str = "touchpoint:init";

static NEXT_KEY: AtomicU64 = AtomicU64::new(0);

/// A key no other observer of the document uses.
pub(crate) fn observer_key(prefix: &str) -> Origin {
    let n = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
    Origin::from(format!("touchpoint:{prefix}:{n}").as_str())
}
