//! Per-user undo on yrs' UndoManager, grouped by gesture rather than by time.
//!
//! yrs merges transactions into one undo step while they fall within a capture
//! timeout. A wall-clock window would make undo depend on typing speed and make
//! tests flaky, so the clock here is constant and the timeout infinite: every
//! transaction extends the current step until [`UndoSteps::begin`] starts a new
//! one. The board starts a new step for every edit except a continuing run of
//! typing in one element, which breaks at word boundaries.

use std::sync::Arc;

use yrs::undo::Options;
use yrs::{Doc, MapRef, Origin, UndoManager};

/// What the last tracked edit was, to decide whether the next one joins it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// A single edit: always its own undo step.
    Edit,
    /// Inserting text into one element.
    Typing { id: String },
    /// Deleting text from one element.
    Erasing { id: String },
}

pub(crate) struct UndoSteps {
    manager: UndoManager,
    last: Option<Step>,
}

impl UndoSteps {
    pub(crate) fn new(doc: &Doc, scope: &[&MapRef], origin: Origin) -> UndoSteps {
        // Every field spelled out: yrs has no `Options::default()` on wasm
        // (its default clock is the system's), and this crate builds there.
        let options = Options {
            capture_timeout_millis: u64::MAX,
            tracked_origins: Default::default(),
            capture_transaction: None,
            timestamp: Arc::new(|| 1),
            init_undo_stack: Vec::new(),
            init_redo_stack: Vec::new(),
        };
        let mut manager = UndoManager::with_options(options);
        for s in scope {
            manager.expand_scope(doc, *s);
        }
        manager.include_origin(origin);
        UndoSteps {
            manager,
            last: None,
        }
    }

    /// Called before a tracked transaction: decides whether it starts a new
    /// undo step. `joins_word` is true for typing that continues a word.
    pub(crate) fn begin(&mut self, step: Step, joins_word: bool) {
        let continues = match (&self.last, &step) {
            (Some(Step::Typing { id: a }), Step::Typing { id: b }) => a == b && joins_word,
            (Some(Step::Erasing { id: a }), Step::Erasing { id: b }) => a == b,
            _ => false,
        };
        if !continues {
            self.manager.reset();
        }
        self.last = Some(step);
    }

    /// Ends the current step: the next edit starts a new one whatever it is.
    pub(crate) fn end(&mut self) {
        self.manager.reset();
        self.last = None;
    }

    pub(crate) fn undo(&mut self) -> bool {
        self.last = None;
        self.manager.undo_blocking()
    }

    pub(crate) fn redo(&mut self) -> bool {
        self.last = None;
        self.manager.redo_blocking()
    }

    pub(crate) fn can_undo(&self) -> bool {
        self.manager.can_undo()
    }

    pub(crate) fn can_redo(&self) -> bool {
        self.manager.can_redo()
    }

    /// The origin the undo manager's own transactions carry: undo and redo are
    /// local changes too.
    pub(crate) fn origin(&self) -> Origin {
        self.manager.as_origin()
    }
}
