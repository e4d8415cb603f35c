//! Hostile inputs kept as named vectors, for tests in this crate and the
//! crates above it (the server's and the client's), as lyon keeps each
//! fuzzer finding as a named regression.

/// A Yjs update v1 that yrs integrates half of: a string item "a" in root
/// `t` (client 5, clock 0), then an item (5, 1) whose parent is that
/// string item, which is not a type, so yrs stops with `InvalidParent`
/// after integrating the first.
///
/// Bytes: 1 client; 2 structs of client 5 from clock 0;
/// item{info 4 = string content, parent is a root name: "t"; "a"};
/// item{info 4, parent is an id: (5, 0); "b"}; an empty delete set.
pub const HALF_INTEGRATED: &[u8] = &[
    0x01, 0x02, 0x05, 0x00, 0x04, 0x01, 0x01, b't', 0x01, b'a', 0x04, 0x00, 0x05, 0x00, 0x01, b'b',
    0x00,
];
