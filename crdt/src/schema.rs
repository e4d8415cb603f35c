//! Names and value types of the board document, as documented in SCHEMA.md.
//!
//! Everything a JavaScript Yjs client must agree on lives here: root names, field
//! keys, enumerated string values, colour syntax and defaults. Keep SCHEMA.md in
//! step with this file.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// The schema version this build writes and fully understands. A board whose
/// `meta.schema` is greater opens read-only.
pub const SCHEMA_VERSION: u32 = 1;

/// Root Y.Map of elements: element id -> Y.Map of fields.
pub const ROOT_ELEMENTS: &str = "elements";
/// Root Y.Map of board-wide fields.
pub const ROOT_META: &str = "meta";
/// Root Y.Map of dot-voting sessions: session id -> Y.Map (see [`crate::voting`]).
pub const ROOT_VOTES: &str = "votes";
/// Root Y.Map of the shared workshop timer (see [`crate::timer`]).
pub const ROOT_TIMER: &str = "timer";

/// Keys of the `meta` map.
pub mod meta_key {
    pub const TITLE: &str = "title";
    pub const SCHEMA: &str = "schema";
    pub const TEMPLATE: &str = "template";
}

/// Keys of an element map.
pub mod key {
    pub const KIND: &str = "kind";
    pub const X: &str = "x";
    pub const Y: &str = "y";
    pub const W: &str = "w";
    pub const H: &str = "h";
    pub const ROT: &str = "rot";
    pub const Z: &str = "z";
    pub const PARENT: &str = "parent";
    pub const AUTHOR: &str = "author";
    pub const FILL: &str = "fill";
    pub const STROKE: &str = "stroke";
    pub const STROKE_WIDTH: &str = "stroke_width";
    pub const TEXT: &str = "text";
    pub const TEXT_COLOR: &str = "text_color";
    pub const FONT_SIZE: &str = "font_size";
    pub const ALIGN: &str = "align";
    pub const SHAPE: &str = "shape";
    pub const POINTS: &str = "points";
    pub const FROM_ID: &str = "from_id";
    pub const FROM_ANCHOR: &str = "from_anchor";
    pub const FROM_X: &str = "from_x";
    pub const FROM_Y: &str = "from_y";
    pub const TO_ID: &str = "to_id";
    pub const TO_ANCHOR: &str = "to_anchor";
    pub const TO_X: &str = "to_x";
    pub const TO_Y: &str = "to_y";
    pub const ARROW_START: &str = "arrow_start";
    pub const ARROW_END: &str = "arrow_end";
    /// On an element in a grid cell: `{grid, lane, stage}` ids (one plain object).
    pub const CELL: &str = "cell";
}

/// Keys inside a `grid` element (see [`crate::grid`] and SCHEMA.md).
pub mod grid_key {
    /// Y.Array of stage ids, in display order (left to right).
    pub const STAGES: &str = "stages";
    /// Y.Array of lane ids, in display order (top to bottom).
    pub const LANES: &str = "lanes";
    /// Y.Map: stage id -> Y.Map of the stage's fields.
    pub const STAGE_INFO: &str = "stage_info";
    /// Y.Map: lane id -> Y.Map of the lane's fields.
    pub const LANE_INFO: &str = "lane_info";
    /// Width of the lane title column.
    pub const HEADER_W: &str = "header_w";
    /// Height of the stage title row.
    pub const HEADER_H: &str = "header_h";
    /// In a stage or lane map: its title (a string).
    pub const TITLE: &str = "title";
    /// In a stage map: its width.
    pub const WIDTH: &str = "width";
    /// In a lane map: its height.
    pub const HEIGHT: &str = "height";
    /// In a lane map: what the lane is ([`super::LaneRole`]).
    pub const ROLE: &str = "role";
    /// In a lane map: the header colour (`#rrggbb`).
    pub const COLOR: &str = "color";
    /// In an `emotion` lane map: Y.Map stage id -> number in -1..=1.
    pub const POINTS: &str = "points";
    /// In a `cell` object: the grid, lane and stage ids.
    pub const CELL_GRID: &str = "grid";
    pub const CELL_LANE: &str = "lane";
    pub const CELL_STAGE: &str = "stage";
}

/// Raised when a string field holds a value outside its enumeration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
}

/// Declares a string-valued enumeration with its wire names.
macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident, $what:literal { $($(#[$vm:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        string_enum!($(#[$m])* $name, $what { $($(#[$vm])* $variant = $wire),+ } structure {});
    };
    ($(#[$m:meta])* $name:ident, $what:literal { $($(#[$vm:meta])* $variant:ident = $wire:literal),+ $(,)? }
        $(#[$sm:meta])* structure { $($(#[$xm:meta])* $extra:ident = $xwire:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $wire)] $variant,)+
            $($(#[$xm])* #[serde(rename = $xwire)] $extra,)*
        }

        impl $name {
            /// Every value, in declaration order (for `Kind`: the content
            /// kinds; see [`Kind::STRUCTURE`]).
            pub const ALL: &[$name] = &[$($name::$variant),+];

            $(#[$sm])*
            #[allow(dead_code)]
            pub const STRUCTURE: &[$name] = &[$($name::$extra),*];

            /// The string stored in the document.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)+
                    $($name::$extra => $xwire,)*
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    $($xwire => Ok($name::$extra),)*
                    _ => Err(UnknownValue { what: $what, value: s.to_owned() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// The `kind` field: what an element is.
    Kind, "element kind" {
        Sticky = "sticky",
        Shape = "shape",
        Text = "text",
        Ink = "ink",
        Connector = "connector",
        Frame = "frame",
    }
    /// Structure kinds, made by templates and grid edits rather than by a
    /// drawing tool: not in [`Kind::ALL`] (the content kinds).
    structure {
        /// A table of lanes by stages (journey map, blueprint, kanban...).
        Grid = "grid",
    }
);

string_enum!(
    /// The `role` of a grid lane.
    LaneRole, "lane role" {
        /// An ordinary row whose cells hold stickies.
        Cards = "cards",
        /// A row of stickies with an emotion curve: a point per stage.
        Emotion = "emotion",
        /// A labelled line between rows (a blueprint's line of interaction,
        /// visibility or internal interaction). Holds no stickies.
        Line = "line",
    }
);

string_enum!(
    /// The `shape` field of a `shape` element.
    ShapeKind, "shape" {
        Rect = "rect",
        RoundedRect = "rounded_rect",
        Ellipse = "ellipse",
        Diamond = "diamond",
        Triangle = "triangle",
    }
);

string_enum!(
    /// Where a connector end attaches on its element's (rotated) bounding box.
    Anchor, "anchor" {
        Center = "center",
        Top = "top",
        Right = "right",
        Bottom = "bottom",
        Left = "left",
    }
);

string_enum!(
    /// Horizontal text alignment inside an element.
    Align, "alignment" {
        Left = "left",
        Center = "center",
        Right = "right",
    }
);

string_enum!(
    /// Decoration at a connector end.
    ArrowHead, "arrow head" {
        None = "none",
        Arrow = "arrow",
    }
);

/// An sRGB colour, stored as a `#rrggbb` string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Color(pub u8, pub u8, pub u8);

impl Color {
    pub const BLACK: Color = Color(0x1a, 0x1a, 0x1a);
    pub const WHITE: Color = Color(0xff, 0xff, 0xff);

    /// The classic sticky-note palette, yellow first (the default note).
    pub const STICKY_PALETTE: [Color; 8] = [
        Color(0xff, 0xf9, 0xb1), // yellow
        Color(0xf5, 0xd1, 0x28), // orange-yellow
        Color(0xd5, 0xf6, 0x92), // light green
        Color(0xc9, 0xdf, 0x56), // green
        Color(0xa6, 0xcc, 0xf5), // light blue
        Color(0x67, 0xc6, 0xc0), // teal
        Color(0xf1, 0x6c, 0x7f), // red
        Color(0xea, 0x94, 0xbb), // pink
    ];
}

impl FromStr for Color {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, UnknownValue> {
        let bad = || UnknownValue {
            what: "colour",
            value: s.to_owned(),
        };
        let hex = s.strip_prefix('#').ok_or_else(bad)?;
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad());
        Ok(Color(channel(0)?, channel(2)?, channel(4)?))
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

impl Serialize for Color {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_round_trip() {
        let c: Color = "#12abEF".parse().unwrap();
        assert_eq!(c, Color(0x12, 0xab, 0xef));
        assert_eq!(c.to_string(), "#12abef");
        for bad in [
            "", "#", "12abef", "#12abe", "#12abefa", "#gg0000", "#+1+1+1", "#é0000",
        ] {
            assert!(bad.parse::<Color>().is_err(), "{bad}");
        }
    }

    #[test]
    fn enums_round_trip() {
        for k in Kind::ALL.iter().chain(Kind::STRUCTURE) {
            assert_eq!(k.as_str().parse::<Kind>().unwrap(), *k);
        }
        for r in LaneRole::ALL {
            assert_eq!(r.as_str().parse::<LaneRole>().unwrap(), *r);
        }
        for s in ShapeKind::ALL {
            assert_eq!(s.as_str().parse::<ShapeKind>().unwrap(), *s);
        }
        assert!("blob".parse::<Kind>().is_err());
    }
}
