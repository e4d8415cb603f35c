//! The shared workshop timer: one plain object under `timer.current`, so
//! every participant sees the same countdown and a start, pause or stop is
//! one atomic write (concurrent ones: the last writer wins, as for any
//! Y.Map key).
//!
//! Times are unix milliseconds from the clock of whoever wrote them, and
//! each client computes the remaining time from its own clock: clocks that
//! disagree by a few seconds show countdowns that disagree by as much.

use std::collections::HashMap;

use serde::Serialize;
use yrs::{Any, Map, Out, Transact};

use crate::board::Board;
use crate::edit::EditError;
use crate::value::number_value;

/// Keys of the timer.
pub mod timer_key {
    /// The object `{started_at, duration_ms, paused_remaining?, by}`.
    pub const CURRENT: &str = "current";
    pub const STARTED_AT: &str = "started_at";
    pub const DURATION_MS: &str = "duration_ms";
    /// Present while paused: milliseconds that were left.
    pub const PAUSED_REMAINING: &str = "paused_remaining";
    pub const BY: &str = "by";
}
use timer_key as tk;

/// Longest timer: one day.
pub const MAX_DURATION_MS: f64 = 86_400_000.0;

/// The timer as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimerState {
    /// When it (last) started running, unix ms, the writer's clock.
    pub started_at: f64,
    /// Length from `started_at`.
    pub duration_ms: f64,
    /// `Some(ms left)` while paused.
    pub paused_remaining: Option<f64>,
    /// Who started it (a display name).
    pub by: String,
}

impl TimerState {
    /// Milliseconds left at `now_ms` on this client's clock (never negative).
    pub fn remaining_ms(&self, now_ms: f64) -> f64 {
        let left = match self.paused_remaining {
            Some(r) => r,
            None => self.started_at + self.duration_ms - now_ms,
        };
        left.clamp(0.0, self.duration_ms.max(0.0))
    }

    pub fn is_paused(&self) -> bool {
        self.paused_remaining.is_some()
    }

    pub fn is_finished(&self, now_ms: f64) -> bool {
        self.remaining_ms(now_ms) <= 0.0
    }
}

fn check_time(field: &'static str, v: f64) -> Result<(), EditError> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(EditError::Invalid {
            field,
            reason: "not a finite time".to_owned(),
        })
    }
}

impl Board {
    /// The shared timer, if one is set.
    pub fn timer(&self) -> Option<TimerState> {
        let txn = self.doc.transact();
        let Some(Out::Any(Any::Map(m))) = self.timer.get(&txn, tk::CURRENT) else {
            return None;
        };
        let num = |k: &str| match m.get(k) {
            Some(Any::Number(n)) => Some(number_value(*n)).filter(|v| v.is_finite()),
            _ => None,
        };
        let duration_ms = num(tk::DURATION_MS)?.clamp(0.0, MAX_DURATION_MS);
        Some(TimerState {
            started_at: num(tk::STARTED_AT)?,
            duration_ms,
            paused_remaining: num(tk::PAUSED_REMAINING).map(|r| r.clamp(0.0, duration_ms)),
            by: match m.get(tk::BY) {
                Some(Any::String(s)) => s.to_string(),
                _ => String::new(),
            },
        })
    }

    fn write_timer(&mut self, state: Option<&TimerState>) -> Result<(), EditError> {
        self.writable()?;
        let timer = self.timer.clone();
        let mut txn = self.txn();
        match state {
            None => {
                timer.remove(&mut txn, tk::CURRENT);
            }
            Some(s) => {
                let mut m = HashMap::new();
                m.insert(tk::STARTED_AT.to_owned(), Any::from(s.started_at));
                m.insert(tk::DURATION_MS.to_owned(), Any::from(s.duration_ms));
                if let Some(r) = s.paused_remaining {
                    m.insert(tk::PAUSED_REMAINING.to_owned(), Any::from(r));
                }
                m.insert(tk::BY.to_owned(), Any::from(s.by.as_str()));
                timer.insert(&mut txn, tk::CURRENT, Any::from(m));
            }
        }
        Ok(())
    }

    /// Starts (or restarts) the timer for `duration_ms` from `now_ms`.
    pub fn start_timer(
        &mut self,
        duration_ms: f64,
        now_ms: f64,
        by: &str,
    ) -> Result<(), EditError> {
        check_time("now", now_ms)?;
        check_time("duration_ms", duration_ms)?;
        if !(0.0..=MAX_DURATION_MS).contains(&duration_ms) {
            return Err(EditError::Invalid {
                field: "duration_ms",
                reason: "from 0 to one day".to_owned(),
            });
        }
        self.write_timer(Some(&TimerState {
            started_at: now_ms,
            duration_ms,
            paused_remaining: None,
            by: by.to_owned(),
        }))
    }

    /// Pauses a running timer, keeping what is left at `now_ms`.
    pub fn pause_timer(&mut self, now_ms: f64) -> Result<(), EditError> {
        check_time("now", now_ms)?;
        let Some(mut t) = self.timer() else {
            return Err(EditError::NotFound("timer".to_owned()));
        };
        if t.is_paused() {
            return Ok(());
        }
        t.paused_remaining = Some(t.remaining_ms(now_ms));
        self.write_timer(Some(&t))
    }

    /// Resumes a paused timer from `now_ms` with the time that was left.
    pub fn resume_timer(&mut self, now_ms: f64) -> Result<(), EditError> {
        check_time("now", now_ms)?;
        let Some(t) = self.timer() else {
            return Err(EditError::NotFound("timer".to_owned()));
        };
        let Some(left) = t.paused_remaining else {
            return Ok(());
        };
        self.write_timer(Some(&TimerState {
            started_at: now_ms,
            duration_ms: left,
            paused_remaining: None,
            by: t.by,
        }))
    }

    /// Removes the timer.
    pub fn stop_timer(&mut self) -> Result<(), EditError> {
        self.write_timer(None)
    }
}
