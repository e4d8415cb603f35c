//! Reading Yjs values written by any client: numbers as f64 whatever lib0
//! encoded them as, and a short name of a value's type for error messages.

use yrs::{Any, Out};

/// A Yjs number as f64 (lib0 sends integral numbers as integers).
pub(crate) fn number_value(n: yrs::Number) -> f64 {
    match n {
        yrs::Number::Int(i) => i as f64,
        yrs::Number::Float(f) => f,
    }
}

/// A short, human description of a value's type for error messages.
pub(crate) fn describe(v: &Out) -> &'static str {
    match v {
        Out::Any(Any::Null) => "null",
        Out::Any(Any::Undefined) => "undefined",
        Out::Any(Any::Bool(_)) => "a boolean",
        Out::Any(Any::Number(_)) => "a number",
        Out::Any(Any::String(_)) => "a string",
        Out::Any(Any::Buffer(_)) => "a byte buffer",
        Out::Any(Any::Array(_)) => "an array",
        Out::Any(Any::Map(_)) => "an object",
        Out::YText(_) => "a Y.Text",
        Out::YArray(_) => "a Y.Array",
        Out::YMap(_) => "a Y.Map",
        Out::YDoc(_) => "a sub-document",
        _ => "an unsupported shared type",
    }
}
