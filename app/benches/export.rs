//! SVG export benchmark (filled in below).
fn main() {}
