//! How an element is painted, each kind's defaults, and a change to some
//! of its fields.

use serde::Serialize;

use crate::schema::{Align, Color, Kind};

/// Visual style. `None` for fill or stroke means "not painted".
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Style {
    pub fill: Option<Color>,
    pub stroke: Option<Color>,
    pub stroke_width: f64,
    pub text_color: Color,
    pub font_size: f64,
    pub align: Align,
}

impl Style {
    /// The style an element of `kind` has when its document fields are absent.
    pub fn default_for(kind: Kind) -> Style {
        let base = Style {
            fill: None,
            stroke: None,
            stroke_width: 2.0,
            text_color: Color::BLACK,
            font_size: 16.0,
            align: Align::Center,
        };
        match kind {
            Kind::Sticky => Style {
                fill: Some(Color::STICKY_PALETTE[0]),
                font_size: 20.0,
                ..base
            },
            Kind::Shape => Style {
                fill: Some(Color::WHITE),
                stroke: Some(Color::BLACK),
                ..base
            },
            Kind::Text => Style {
                align: Align::Left,
                ..base
            },
            Kind::Ink => Style {
                stroke: Some(Color::BLACK),
                stroke_width: 3.0,
                ..base
            },
            Kind::Connector => Style {
                stroke: Some(Color::BLACK),
                ..base
            },
            Kind::Frame => Style {
                fill: Some(Color::WHITE),
                stroke: Some(Color(0xc8, 0xc8, 0xc8)),
                stroke_width: 1.0,
                font_size: 14.0,
                align: Align::Left,
                ..base
            },
            Kind::Grid => Style {
                fill: Some(Color::WHITE),
                stroke: Some(Color(0xb4, 0xb4, 0xb4)),
                stroke_width: 1.0,
                font_size: 18.0,
                align: Align::Left,
                ..base
            },
        }
    }
}

/// A change to some style fields; `None` leaves a field as it is.
/// For fill and stroke, `Some(None)` means "no paint" (stored as `"none"`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StylePatch {
    pub fill: Option<Option<Color>>,
    pub stroke: Option<Option<Color>>,
    pub stroke_width: Option<f64>,
    pub text_color: Option<Color>,
    pub font_size: Option<f64>,
    pub align: Option<Align>,
}

impl StylePatch {
    pub fn is_empty(&self) -> bool {
        *self == StylePatch::default()
    }
}
