//! Updates that arrived before an update they depend on, held until the gap
//! fills (see `Board::apply_update`).
//!
//! Bounded twice, by count and by bytes, so a peer that never sends the
//! missing piece cannot grow memory without limit: past either bound the
//! oldest held update is dropped (a later state-vector sync heals the gap).
//!
//! Each held update is indexed by the first (client, clock) it still waits
//! for. When the board's state vector grows, only the entries waiting on a
//! client that advanced are looked at again, and each is re-indexed under
//! its next unmet requirement, so releasing costs about the number of
//! entries that move, not held updates times board state vectors.

use std::collections::{BTreeMap, BTreeSet};

use yrs::{StateVector, Update};

/// Most updates held at once.
pub(crate) const MAX_HELD: usize = 4096;
/// Most bytes (of the updates' v1 encoding) held at once.
pub(crate) const MAX_HELD_BYTES: usize = 32 << 20;

/// Where an update starts past what a board has of one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// The Yjs client id.
    pub client: u64,
    /// The first clock of that client the update holds.
    pub starts: u32,
    /// The clock the board has reached for that client.
    pub have: u32,
}

/// The first client whose part of `update` starts past `sv`, in client order.
pub(crate) fn first_gap(lower: &[(u64, u32)], sv: &StateVector) -> Option<Gap> {
    lower.iter().find_map(|&(client, starts)| {
        let have = sv.get(&yrs::ClientID::new(client));
        (starts > have).then_some(Gap {
            client,
            starts,
            have,
        })
    })
}

/// Each client's lowest clock in `update`, in client order.
pub(crate) fn lower_bounds(update: &Update) -> Vec<(u64, u32)> {
    let mut lower: Vec<(u64, u32)> = update
        .state_vector_lower()
        .iter()
        .map(|(c, k)| (c.get(), *k))
        .collect();
    lower.sort_unstable();
    lower
}

struct Held {
    update: Update,
    origin: &'static str,
    bytes: usize,
    lower: Vec<(u64, u32)>,
    /// The key it is indexed under in `waiting`.
    key: (u64, u32),
}

/// The held updates. See the module docs.
#[derive(Default)]
pub(crate) struct Holdback {
    held: BTreeMap<u64, Held>,
    /// (client, clock it waits for, entry) for every held update.
    waiting: BTreeSet<(u64, u32, u64)>,
    next: u64,
    bytes: usize,
}

impl Holdback {
    pub(crate) fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.held.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn clear(&mut self) {
        *self = Holdback::default();
    }

    /// Holds `update`, which waits at `gap`; drops the oldest held updates
    /// while over either bound. How many were dropped.
    pub(crate) fn hold(
        &mut self,
        update: Update,
        origin: &'static str,
        bytes: usize,
        lower: Vec<(u64, u32)>,
        gap: Gap,
    ) -> usize {
        let id = self.next;
        self.next += 1;
        let key = (gap.client, gap.starts);
        self.waiting.insert((key.0, key.1, id));
        self.bytes += bytes;
        self.held.insert(
            id,
            Held {
                update,
                origin,
                bytes,
                lower,
                key,
            },
        );
        let mut dropped = 0;
        while self.held.len() > MAX_HELD || (self.bytes > MAX_HELD_BYTES && self.held.len() > 1) {
            let Some((old, entry)) = self.held.pop_first() else {
                break;
            };
            self.waiting.remove(&(entry.key.0, entry.key.1, old));
            self.bytes -= entry.bytes;
            dropped += 1;
        }
        dropped
    }

    /// Takes out every held update that `sv` no longer leaves a gap for, in
    /// arrival order; the others are re-indexed under what they wait for now.
    pub(crate) fn release(&mut self, sv: &StateVector) -> Vec<(Update, &'static str)> {
        let mut unblocked = Vec::new();
        for (client, clock) in sv.iter() {
            let client = client.get();
            let ready: Vec<(u64, u32, u64)> = self
                .waiting
                .range((client, 0, 0)..=(client, *clock, u64::MAX))
                .copied()
                .collect();
            for key in ready {
                self.waiting.remove(&key);
                unblocked.push(key.2);
            }
        }
        unblocked.sort_unstable();
        let mut out = Vec::new();
        for id in unblocked {
            let Some(entry) = self.held.get_mut(&id) else {
                continue;
            };
            match first_gap(&entry.lower, sv) {
                Some(gap) => {
                    entry.key = (gap.client, gap.starts);
                    self.waiting.insert((gap.client, gap.starts, id));
                }
                None => {
                    if let Some(entry) = self.held.remove(&id) {
                        self.bytes -= entry.bytes;
                        out.push((entry.update, entry.origin));
                    }
                }
            }
        }
        out
    }
}

impl std::fmt::Debug for Holdback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Holdback")
            .field("held", &self.held.len())
            .field("bytes", &self.bytes)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::ClientID;

    fn sv(entries: &[(u64, u32)]) -> StateVector {
        entries
            .iter()
            .map(|&(c, k)| (ClientID::new(c), k))
            .collect()
    }

    fn hold(h: &mut Holdback, lower: &[(u64, u32)], have: &StateVector, bytes: usize) -> usize {
        let gap = first_gap(lower, have).expect("a gap");
        h.hold(Update::new(), "test", bytes, lower.to_vec(), gap)
    }

    #[test]
    fn an_update_waiting_on_two_clients_is_released_when_both_arrive() {
        let mut h = Holdback::default();
        let have = sv(&[]);
        hold(&mut h, &[(1, 5), (2, 3)], &have, 10);
        assert!(
            h.release(&sv(&[(1, 5)])).is_empty(),
            "still waits for client 2"
        );
        assert_eq!(h.len(), 1);
        assert_eq!(h.release(&sv(&[(1, 5), (2, 3)])).len(), 1);
        assert!(h.is_empty());
        assert_eq!(h.bytes(), 0);
    }

    #[test]
    fn release_follows_arrival_order_and_keeps_the_rest() {
        let mut h = Holdback::default();
        let have = sv(&[]);
        hold(&mut h, &[(1, 4)], &have, 1);
        hold(&mut h, &[(1, 2)], &have, 1);
        hold(&mut h, &[(1, 9)], &have, 1);
        let out = h.release(&sv(&[(1, 4)]));
        assert_eq!(out.len(), 2);
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn the_oldest_goes_past_the_byte_bound() {
        let mut h = Holdback::default();
        let have = sv(&[]);
        assert_eq!(hold(&mut h, &[(1, 1)], &have, MAX_HELD_BYTES / 2), 0);
        assert_eq!(hold(&mut h, &[(2, 1)], &have, MAX_HELD_BYTES / 2), 0);
        assert_eq!(hold(&mut h, &[(3, 1)], &have, 1), 1);
        assert_eq!(h.len(), 2);
        assert!(h.bytes() <= MAX_HELD_BYTES);
        // The first one is gone: client 1 arriving releases nothing.
        assert!(h.release(&sv(&[(1, 1)])).is_empty());
        assert_eq!(h.release(&sv(&[(1, 1), (2, 1), (3, 1)])).len(), 2);
    }

    #[test]
    fn the_count_is_bounded() {
        let mut h = Holdback::default();
        let have = sv(&[]);
        let mut dropped = 0;
        for i in 0..(MAX_HELD as u64 + 10) {
            dropped += hold(&mut h, &[(i + 1, 1)], &have, 1);
        }
        assert_eq!(dropped, 10);
        assert_eq!(h.len(), MAX_HELD);
    }
}
