//! The highest `z` of the board, kept current by an observer so that a new
//! element can go on top without scanning every element.

use std::sync::{Arc, Mutex};

use yrs::types::{EntryChange, Event};
use yrs::{Any, DeepObservable, Map, MapRef, Out};

use crate::origin::observer_key;
use crate::schema::key;

/// The highest `z` ever seen (an upper bound: deleting the top element does
/// not lower it, which is harmless).
#[derive(Debug, Default)]
pub(crate) struct ZBounds {
    pub top: Option<String>,
}

impl ZBounds {
    pub(crate) fn include(&mut self, z: &str) {
        if self.top.as_deref().is_none_or(|t| z > t) {
            self.top = Some(z.to_owned());
        }
    }
}

/// Keeps `bounds` covering every `z` written, so a new element can go on top
/// without scanning the board.
pub(crate) fn track_z_bounds(elements: &MapRef, bounds: Arc<Mutex<ZBounds>>) {
    elements.observe_deep(observer_key("z-bounds"), move |txn, events| {
        let Ok(mut bounds) = bounds.lock() else {
            return;
        };
        for event in events.iter() {
            match event {
                Event::Map(map_event) if event.path().is_empty() => {
                    for change in map_event.keys(txn).values() {
                        if let EntryChange::Inserted(Out::YMap(m))
                        | EntryChange::Updated(_, Out::YMap(m)) = change
                            && let Some(Out::Any(Any::String(z))) = m.get(txn, key::Z)
                        {
                            bounds.include(&z);
                        }
                    }
                }
                Event::Map(map_event) => {
                    if let Some(Out::Any(Any::String(z))) = map_event.target().get(txn, key::Z) {
                        bounds.include(&z);
                    }
                }
                _ => {}
            }
        }
    });
}
