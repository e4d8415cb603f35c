//! Dot voting, stored in the board document (root `votes`) so every
//! participant sees the same session, and counted by a rule that every
//! replica applies the same way to the same document.
//!
//! A session is a Y.Map under its id: the facilitator, the number of votes
//! each participant has, whether it is open, and a Y.Array of vote entries
//! `{id, voter, target}` (plain objects), appended as votes are placed.
//!
//! **The count rule** (SCHEMA.md, "Dot voting"): walk the entries in array
//! order; skip malformed ones and repeated entry ids (the first counts);
//! once the session is closed, skip entries the facilitator had not seen
//! when closing (their ids are not in `closed_ids`); and for each voter,
//! count only their first `votes_per_person` entries. The array order is the
//! same on every replica once they have the same updates, so every replica
//! counts the same votes. A modified client that appends more entries than
//! its quota gains nothing: the extra ones are never counted.
//!
//! What the rule cannot do: voter names are what clients claim (the room
//! token tells editors from viewers, not people apart), and any editor's
//! client can delete entries from the array. See SCHEMA.md.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use yrs::{Any, Array, ArrayPrelim, ArrayRef, In, Map, MapPrelim, MapRef, Out, ReadTxn, Transact};

use crate::board::Board;
use crate::edit::EditError;
use crate::value::number_value;

/// Keys of a voting session map.
pub mod vote_key {
    pub const FACILITATOR: &str = "facilitator";
    pub const VOTES_PER_PERSON: &str = "votes_per_person";
    /// `"open"` or `"closed"`.
    pub const STATE: &str = "state";
    pub const STARTED_AT: &str = "started_at";
    /// Y.Array of `{id, voter, target}` objects.
    pub const ENTRIES: &str = "entries";
    /// Plain array of the entry ids counted when the session closed.
    pub const CLOSED_IDS: &str = "closed_ids";
    pub const ENTRY_ID: &str = "id";
    pub const VOTER: &str = "voter";
    pub const TARGET: &str = "target";
}
use vote_key as vk;

/// Most votes per person a session allows.
pub const MAX_VOTES_PER_PERSON: u32 = 100;

/// One voting session as read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VoteSession {
    pub id: String,
    pub facilitator: String,
    pub votes_per_person: u32,
    /// Participants may vote; results are hidden until it closes.
    pub open: bool,
    /// Unix milliseconds, from the starter's clock.
    pub started_at: f64,
}

impl VoteSession {
    /// Results are shown to everyone once the facilitator ends the session.
    pub fn revealed(&self) -> bool {
        !self.open
    }
}

/// The counted votes of a session.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct VoteTally {
    /// Target element id -> votes.
    pub per_target: BTreeMap<String, u32>,
    /// Voter -> target -> votes (a participant's own dots).
    pub per_voter: BTreeMap<String, BTreeMap<String, u32>>,
    /// Entry ids that count, in array order.
    pub counted: Vec<String>,
}

impl VoteTally {
    /// Votes a voter has used.
    pub fn used(&self, voter: &str) -> u32 {
        self.per_voter.get(voter).map_or(0, |t| t.values().sum())
    }

    /// Targets by votes, most first (ties by id), for the results view.
    pub fn ranking(&self) -> Vec<(String, u32)> {
        let mut r: Vec<(String, u32)> = self
            .per_target
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        r.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        r
    }
}

fn err(field: &'static str, reason: impl Into<String>) -> EditError {
    EditError::Invalid {
        field,
        reason: reason.into(),
    }
}

fn string(m: &MapRef, txn: &impl ReadTxn, k: &str) -> Option<String> {
    match m.get(txn, k) {
        Some(Out::Any(Any::String(s))) => Some(s.to_string()),
        _ => None,
    }
}

fn number(m: &MapRef, txn: &impl ReadTxn, k: &str) -> Option<f64> {
    match m.get(txn, k) {
        Some(Out::Any(Any::Number(n))) => Some(number_value(n)).filter(|v| v.is_finite()),
        _ => None,
    }
}

/// An entry of the entries array, if well formed: (id, voter, target).
fn entry(v: &Out) -> Option<(String, String, String)> {
    let Out::Any(Any::Map(m)) = v else {
        return None;
    };
    let s = |k: &str| match m.get(k) {
        Some(Any::String(s)) if !s.is_empty() => Some(s.to_string()),
        _ => None,
    };
    Some((s(vk::ENTRY_ID)?, s(vk::VOTER)?, s(vk::TARGET)?))
}

fn read_session(id: &str, m: &MapRef, txn: &impl ReadTxn) -> VoteSession {
    VoteSession {
        id: id.to_owned(),
        facilitator: string(m, txn, vk::FACILITATOR).unwrap_or_default(),
        votes_per_person: number(m, txn, vk::VOTES_PER_PERSON)
            .map_or(0, |v| v.clamp(0.0, f64::from(MAX_VOTES_PER_PERSON)) as u32),
        open: string(m, txn, vk::STATE).as_deref() == Some("open"),
        started_at: number(m, txn, vk::STARTED_AT).unwrap_or(0.0),
    }
}

/// The count rule, over one session map.
fn tally(m: &MapRef, txn: &impl ReadTxn) -> VoteTally {
    let session = read_session("", m, txn);
    let closed_ids: Option<HashSet<String>> = if session.open {
        None
    } else {
        match m.get(txn, vk::CLOSED_IDS) {
            Some(Out::Any(Any::Array(a))) => Some(
                a.iter()
                    .filter_map(|v| match v {
                        Any::String(s) => Some(s.to_string()),
                        _ => None,
                    })
                    .collect(),
            ),
            _ => None,
        }
    };
    let mut out = VoteTally::default();
    let Some(Out::YArray(entries)) = m.get(txn, vk::ENTRIES) else {
        return out;
    };
    let mut seen = HashSet::new();
    let mut used: HashMap<String, u32> = HashMap::new();
    for v in entries.iter(txn) {
        let Some((id, voter, target)) = entry(&v) else {
            continue;
        };
        if !seen.insert(id.clone()) {
            continue;
        }
        if closed_ids.as_ref().is_some_and(|c| !c.contains(&id)) {
            continue;
        }
        let n = used.entry(voter.clone()).or_default();
        if *n >= session.votes_per_person {
            continue;
        }
        *n += 1;
        *out.per_target.entry(target.clone()).or_default() += 1;
        *out.per_voter
            .entry(voter)
            .or_default()
            .entry(target)
            .or_default() += 1;
        out.counted.push(id);
    }
    out
}

impl Board {
    fn votes_root(&self) -> MapRef {
        self.votes.clone()
    }

    fn session_map(&self, txn: &impl ReadTxn, session: &str) -> Result<MapRef, EditError> {
        match self.votes_root().get(txn, session) {
            Some(Out::YMap(m)) => Ok(m),
            _ => Err(EditError::NotFound(session.to_owned())),
        }
    }

    /// Starts a voting session with `votes_per_person` votes each (1 to
    /// 100); `now_ms` is the starter's clock (unix milliseconds).
    pub fn start_vote(
        &mut self,
        facilitator: &str,
        votes_per_person: u32,
        now_ms: f64,
    ) -> Result<String, EditError> {
        self.writable()?;
        if !(1..=MAX_VOTES_PER_PERSON).contains(&votes_per_person) {
            return Err(err(
                "votes_per_person",
                format!("from 1 to {MAX_VOTES_PER_PERSON}"),
            ));
        }
        if !now_ms.is_finite() {
            return Err(err("started_at", "not a finite time"));
        }
        let id = self.fresh_id();
        let root = self.votes_root();
        let mut txn = self.txn();
        let prelim: MapPrelim = [
            (vk::FACILITATOR, In::Any(Any::from(facilitator))),
            (
                vk::VOTES_PER_PERSON,
                In::Any(Any::from(f64::from(votes_per_person))),
            ),
            (vk::STATE, In::Any(Any::from("open"))),
            (vk::STARTED_AT, In::Any(Any::from(now_ms))),
            (vk::ENTRIES, In::Array(ArrayPrelim::default())),
        ]
        .into_iter()
        .collect();
        root.insert(&mut txn, id.as_str(), prelim);
        Ok(id)
    }

    /// Every session, oldest first (by start time, then id).
    pub fn vote_sessions(&self) -> Vec<VoteSession> {
        let txn = self.doc.transact();
        let mut out: Vec<VoteSession> = self
            .votes_root()
            .iter(&txn)
            .filter_map(|(id, v)| match v {
                Out::YMap(m) => Some(read_session(id, &m, &txn)),
                _ => None,
            })
            .collect();
        out.sort_by(|a, b| {
            a.started_at
                .total_cmp(&b.started_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        out
    }

    /// The most recently started open session, if any.
    pub fn open_vote(&self) -> Option<VoteSession> {
        self.vote_sessions().into_iter().rev().find(|s| s.open)
    }

    /// The counted votes of a session (see the module's count rule).
    pub fn vote_tally(&self, session: &str) -> Option<VoteTally> {
        let txn = self.doc.transact();
        let m = self.session_map(&txn, session).ok()?;
        Some(tally(&m, &txn))
    }

    /// How many votes `voter` may still place.
    pub fn votes_left(&self, session: &str, voter: &str) -> u32 {
        let txn = self.doc.transact();
        let Ok(m) = self.session_map(&txn, session) else {
            return 0;
        };
        let s = read_session(session, &m, &txn);
        if !s.open {
            return 0;
        }
        s.votes_per_person
            .saturating_sub(tally(&m, &txn).used(voter))
    }

    /// Places one of `voter`'s votes on element `target`. Refused when the
    /// session is closed or the voter has none left; a client that skips
    /// these checks still gains nothing (the count rule ignores the excess).
    pub fn place_vote(
        &mut self,
        session: &str,
        voter: &str,
        target: &str,
    ) -> Result<String, EditError> {
        self.writable()?;
        if voter.is_empty() {
            return Err(err("voter", "empty"));
        }
        if self.element(target).is_none() {
            return Err(EditError::NotFound(target.to_owned()));
        }
        let (open, left) = {
            let txn = self.doc.transact();
            let m = self.session_map(&txn, session)?;
            let s = read_session(session, &m, &txn);
            (
                s.open,
                s.votes_per_person
                    .saturating_sub(tally(&m, &txn).used(voter)),
            )
        };
        if !open {
            return Err(err("session", "the vote has ended"));
        }
        if left == 0 {
            return Err(err("votes", format!("{voter} has no votes left")));
        }
        let id = self.fresh_id();
        let mut txn = self.txn();
        let m = self.session_map(&txn, session)?;
        let entries = match m.get(&txn, vk::ENTRIES) {
            Some(Out::YArray(a)) => a,
            _ => m.insert(&mut txn, vk::ENTRIES, ArrayPrelim::default()),
        };
        let mut e = HashMap::new();
        e.insert(vk::ENTRY_ID.to_owned(), Any::from(id.as_str()));
        e.insert(vk::VOTER.to_owned(), Any::from(voter));
        e.insert(vk::TARGET.to_owned(), Any::from(target));
        entries.push_back(&mut txn, Any::from(e));
        Ok(id)
    }

    /// Takes back one of `voter`'s counted votes on `target` (the latest)
    /// while the session is open. Returns whether one was removed.
    pub fn remove_vote(
        &mut self,
        session: &str,
        voter: &str,
        target: &str,
    ) -> Result<bool, EditError> {
        self.writable()?;
        let mut txn = self.txn();
        let m = self.session_map(&txn, session)?;
        if !read_session(session, &m, &txn).open {
            return Err(err("session", "the vote has ended"));
        }
        let counted: HashSet<String> = tally(&m, &txn).counted.into_iter().collect();
        let Some(Out::YArray(entries)) = m.get(&txn, vk::ENTRIES) else {
            return Ok(false);
        };
        let hit = last_index(&entries, &txn, |(id, v, t)| {
            v == voter && t == target && counted.contains(id)
        });
        match hit {
            Some(i) => {
                entries.remove(&mut txn, i);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Ends a session and reveals its results. Only the facilitator named
    /// when it started may end it (`by`; a claim, as voter names are). The
    /// entries seen now are recorded; entries that arrive later, from
    /// clients that had not yet seen the end, do not count.
    pub fn end_vote(&mut self, session: &str, by: &str) -> Result<VoteTally, EditError> {
        self.writable()?;
        let mut txn = self.txn();
        let m = self.session_map(&txn, session)?;
        let s = read_session(session, &m, &txn);
        if s.facilitator != by {
            return Err(err(
                "facilitator",
                format!("only {} can end this vote", s.facilitator),
            ));
        }
        if !s.open {
            return Ok(tally(&m, &txn));
        }
        let ids: Vec<Any> = match m.get(&txn, vk::ENTRIES) {
            Some(Out::YArray(a)) => a
                .iter(&txn)
                .filter_map(|v| entry(&v).map(|(id, _, _)| Any::from(id)))
                .collect(),
            _ => Vec::new(),
        };
        m.insert(&mut txn, vk::CLOSED_IDS, Any::from(ids));
        m.insert(&mut txn, vk::STATE, "closed");
        Ok(tally(&m, &txn))
    }
}

fn last_index(
    entries: &ArrayRef,
    txn: &impl ReadTxn,
    f: impl Fn(&(String, String, String)) -> bool,
) -> Option<u32> {
    entries
        .iter(txn)
        .enumerate()
        .filter(|(_, v)| entry(v).is_some_and(|e| f(&e)))
        .map(|(i, _)| i as u32)
        .last()
}
