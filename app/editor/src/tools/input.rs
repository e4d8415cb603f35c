//! Input events as the tools see them: already in world coordinates, with no
//! windowing types, so tests drive tools without a window. The app translates
//! winit/egui events into these (screen to world through the camera).

use touchpoint_scene::geom::Vec2;

/// Modifier keys held during an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Modifiers {
    pub shift: bool,
    pub ctrl: bool,
    pub alt: bool,
    /// The Command key on macOS, the Windows/Super key elsewhere.
    pub meta: bool,
}

impl Modifiers {
    pub const NONE: Modifiers = Modifiers {
        shift: false,
        ctrl: false,
        alt: false,
        meta: false,
    };
    pub const SHIFT: Modifiers = Modifiers {
        shift: true,
        ..Modifiers::NONE
    };
    pub const CTRL: Modifiers = Modifiers {
        ctrl: true,
        ..Modifiers::NONE
    };
    pub const CTRL_SHIFT: Modifiers = Modifiers {
        ctrl: true,
        shift: true,
        ..Modifiers::NONE
    };

    /// The shortcut modifier: Ctrl, or Command on macOS.
    pub fn command(self) -> bool {
        self.ctrl || self.meta
    }

    /// No modifier except possibly Shift: plain typing.
    pub fn is_plain(self) -> bool {
        !self.ctrl && !self.alt && !self.meta
    }
}

/// Keys the tools react to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A character key, as typed (case is ignored for shortcuts).
    Char(char),
    Delete,
    Backspace,
    Escape,
    Enter,
}

/// One input event. Pointer events are for the primary button (or a pen or
/// a touch); panning and zooming (middle button, wheel, pinch) are the
/// camera's business and never reach the tools. Positions are world units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Input {
    PointerDown {
        pos: Vec2,
        modifiers: Modifiers,
    },
    PointerMove {
        pos: Vec2,
        modifiers: Modifiers,
    },
    PointerUp {
        pos: Vec2,
        modifiers: Modifiers,
    },
    /// Sent after the second press and release of a double click.
    DoubleClick {
        pos: Vec2,
        modifiers: Modifiers,
    },
    Key {
        key: Key,
        modifiers: Modifiers,
    },
}

impl Input {
    pub fn down(x: f64, y: f64) -> Input {
        Input::PointerDown {
            pos: Vec2::new(x, y),
            modifiers: Modifiers::NONE,
        }
    }

    pub fn moved(x: f64, y: f64) -> Input {
        Input::PointerMove {
            pos: Vec2::new(x, y),
            modifiers: Modifiers::NONE,
        }
    }

    pub fn up(x: f64, y: f64) -> Input {
        Input::PointerUp {
            pos: Vec2::new(x, y),
            modifiers: Modifiers::NONE,
        }
    }

    pub fn key(key: Key) -> Input {
        Input::Key {
            key,
            modifiers: Modifiers::NONE,
        }
    }

    /// The same event with other modifiers (keys and pointer events).
    pub fn with(self, m: Modifiers) -> Input {
        match self {
            Input::PointerDown { pos, .. } => Input::PointerDown { pos, modifiers: m },
            Input::PointerMove { pos, .. } => Input::PointerMove { pos, modifiers: m },
            Input::PointerUp { pos, .. } => Input::PointerUp { pos, modifiers: m },
            Input::DoubleClick { pos, .. } => Input::DoubleClick { pos, modifiers: m },
            Input::Key { key, .. } => Input::Key { key, modifiers: m },
        }
    }
}
