//! The lib0 encoding primitives that Yjs and y-protocols use (npm `lib0`,
//! modules `encoding` and `decoding`): unsigned LEB128 integers ("var uint"),
//! length-prefixed byte arrays and UTF-8 strings.
//!
//! Our own frame fields use the same primitives, so a JavaScript client reads
//! and writes them with the `lib0` it already has through `yjs`. The reader
//! never panics and never allocates more than the input it was given.

use std::fmt;

/// Appends `n` as a lib0 var uint: 7 bits per byte, least significant group
/// first, high bit set on every byte but the last (`writeVarUint`).
pub(crate) fn write_var_uint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Appends a length-prefixed byte array (`writeVarUint8Array`).
pub(crate) fn write_var_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_var_uint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends a string as its UTF-8 byte length and bytes (`writeVarString`).
pub(crate) fn write_var_string(out: &mut Vec<u8>, s: &str) {
    write_var_bytes(out, s.as_bytes());
}

/// How many bytes `write_var_uint(n)` writes.
#[cfg(test)]
fn var_uint_len(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// Why a field could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadError {
    /// The input ended inside the field.
    End,
    /// A var uint longer than 64 bits.
    Overflow,
    /// A string whose bytes are not UTF-8.
    Utf8,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReadError::End => "ends early",
            ReadError::Overflow => "integer does not fit in 64 bits",
            ReadError::Utf8 => "not valid UTF-8",
        })
    }
}

/// Reads lib0 primitives from a byte slice, front to back.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub(crate) fn read_u8(&mut self) -> Result<u8, ReadError> {
        let b = *self.buf.get(self.pos).ok_or(ReadError::End)?;
        self.pos += 1;
        Ok(b)
    }

    /// A var uint. Non-minimal encodings (extra `0x80` groups) are accepted
    /// as lib0 accepts them, up to the 10 bytes a 64-bit value can need;
    /// longer runs and values past 64 bits are refused.
    pub(crate) fn read_var_uint(&mut self) -> Result<u64, ReadError> {
        let mut n: u64 = 0;
        for i in 0..10u32 {
            let b = self.read_u8()?;
            let group = u64::from(b & 0x7f);
            // The tenth group holds bit 63 only.
            if i == 9 && group > 1 {
                return Err(ReadError::Overflow);
            }
            n |= group << (7 * i);
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(ReadError::Overflow)
    }

    /// A length-prefixed byte array, borrowed from the input.
    pub(crate) fn read_var_bytes(&mut self) -> Result<&'a [u8], ReadError> {
        let len = self.read_var_uint()?;
        let len = usize::try_from(len).map_err(|_| ReadError::End)?;
        if len > self.remaining() {
            return Err(ReadError::End);
        }
        let bytes = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        Ok(bytes)
    }

    /// A length-prefixed UTF-8 string, borrowed from the input.
    pub(crate) fn read_var_str(&mut self) -> Result<&'a str, ReadError> {
        let bytes = self.read_var_bytes()?;
        std::str::from_utf8(bytes).map_err(|_| ReadError::Utf8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn var_uint_matches_lib0_examples() {
        // Values and bytes as lib0's encoding.writeVarUint writes them.
        let cases: [(u64, &[u8]); 5] = [
            (0, &[0]),
            (127, &[127]),
            (128, &[0x80, 0x01]),
            (300, &[0xac, 0x02]),
            (
                (1 << 53) - 1,
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f],
            ),
        ];
        for (n, bytes) in cases {
            let mut out = Vec::new();
            write_var_uint(&mut out, n);
            assert_eq!(out, bytes, "{n}");
            assert_eq!(var_uint_len(n), bytes.len());
            assert_eq!(Reader::new(bytes).read_var_uint(), Ok(n));
        }
    }

    #[test]
    fn var_uint_refuses_overflow_and_endless_runs() {
        let mut too_big = vec![0xff; 9];
        too_big.push(0x7f); // 70 bits
        assert_eq!(
            Reader::new(&too_big).read_var_uint(),
            Err(ReadError::Overflow)
        );
        let endless = vec![0x80; 64];
        assert_eq!(
            Reader::new(&endless).read_var_uint(),
            Err(ReadError::Overflow)
        );
        assert_eq!(Reader::new(&[0x80]).read_var_uint(), Err(ReadError::End));
        let mut max = Vec::new();
        write_var_uint(&mut max, u64::MAX);
        assert_eq!(Reader::new(&max).read_var_uint(), Ok(u64::MAX));
    }

    #[test]
    fn bytes_longer_than_input_are_refused_without_allocating() {
        let mut buf = Vec::new();
        write_var_uint(&mut buf, u64::MAX);
        assert_eq!(Reader::new(&buf).read_var_bytes(), Err(ReadError::End));
        assert_eq!(
            Reader::new(&[2, 0xff, 0xfe]).read_var_str(),
            Err(ReadError::Utf8)
        );
    }

    proptest! {
        #[test]
        fn var_uint_round_trips(n in any::<u64>()) {
            let mut out = Vec::new();
            write_var_uint(&mut out, n);
            prop_assert_eq!(out.len(), var_uint_len(n));
            let mut r = Reader::new(&out);
            prop_assert_eq!(r.read_var_uint(), Ok(n));
            prop_assert!(r.is_empty());
        }

        #[test]
        fn strings_round_trip(s in ".{0,40}") {
            let mut out = Vec::new();
            write_var_string(&mut out, &s);
            let mut r = Reader::new(&out);
            prop_assert_eq!(r.read_var_str(), Ok(s.as_str()));
            prop_assert!(r.is_empty());
        }

        #[test]
        fn reading_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut r = Reader::new(&bytes);
            while !r.is_empty() {
                if r.read_var_str().is_err() && r.read_var_uint().is_err() {
                    break;
                }
            }
        }
    }
}
