//! A structural check of Yjs update v1 bytes before yrs decodes them.
//!
//! yrs 0.28 trusts the counts it reads: a 12-byte hostile update made it
//! reserve over 500 MB and spend most of a second (found by the loader fuzz
//! test), and deeply nested `Any` values recurse without a limit. A sync
//! server cannot afford either, so every update is walked here first, without
//! allocating: each declared count must fit in the bytes that remain (every
//! counted element takes at least one byte), nesting is bounded, and only the
//! struct and content kinds Yjs defines are accepted.
//!
//! The layout follows lib0's encoding as used by Yjs' `UpdateEncoderV1`:
//! varuints are little-endian base-128, strings are a varuint byte length and
//! UTF-8 bytes.

/// Deepest nesting of `Any` arrays and objects accepted. Boards use none.
pub const MAX_ANY_DEPTH: usize = 32;

/// What is wrong with the bytes, with the offset where it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} at byte {offset}")]
pub struct WireError {
    pub what: &'static str,
    pub offset: usize,
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

type R<T> = Result<T, WireError>;

impl Reader<'_> {
    fn err<T>(&self, what: &'static str) -> R<T> {
        Err(WireError {
            what,
            offset: self.pos,
        })
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn u8(&mut self) -> R<u8> {
        match self.bytes.get(self.pos) {
            Some(b) => {
                self.pos += 1;
                Ok(*b)
            }
            None => self.err("unexpected end"),
        }
    }

    fn skip(&mut self, n: usize) -> R<()> {
        if n > self.remaining() {
            return self.err("length past the end");
        }
        self.pos += n;
        Ok(())
    }

    /// lib0 varuint: at most 53 significant bits, as JavaScript numbers allow.
    fn varuint(&mut self) -> R<u64> {
        let mut value: u64 = 0;
        let mut shift = 0;
        loop {
            let b = self.u8()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
            shift += 7;
            if shift > 53 {
                return self.err("varuint too long");
            }
        }
    }

    /// lib0 varint: sign in bit 6 of the first byte.
    fn varint(&mut self) -> R<()> {
        let mut b = self.u8()?;
        let mut shift = 6;
        while b & 0x80 != 0 {
            b = self.u8()?;
            shift += 7;
            if shift > 60 {
                return self.err("varint too long");
            }
        }
        Ok(())
    }

    /// A count of things that each take at least `min_bytes` bytes.
    fn count(&mut self, min_bytes: usize) -> R<usize> {
        let n = self.varuint()?;
        match usize::try_from(n) {
            Ok(n) if n.saturating_mul(min_bytes) <= self.remaining() => Ok(n),
            _ => self.err("count larger than the bytes that follow"),
        }
    }

    fn string(&mut self) -> R<()> {
        let len = self.count(1)?;
        let start = self.pos;
        self.skip(len)?;
        if std::str::from_utf8(&self.bytes[start..self.pos]).is_err() {
            return Err(WireError {
                what: "string is not UTF-8",
                offset: start,
            });
        }
        Ok(())
    }

    fn id(&mut self) -> R<()> {
        self.varuint()?;
        self.varuint()?;
        Ok(())
    }

    fn any(&mut self, depth: usize) -> R<()> {
        if depth > MAX_ANY_DEPTH {
            return self.err("values nested too deeply");
        }
        match self.u8()? {
            127 | 126 | 121 | 120 => Ok(()), // undefined, null, false, true
            125 => self.varint(),
            124 => self.skip(4),
            123 | 122 => self.skip(8), // float64, bigint
            119 => self.string(),
            118 => {
                let n = self.count(2)?;
                for _ in 0..n {
                    self.string()?;
                    self.any(depth + 1)?;
                }
                Ok(())
            }
            117 => {
                let n = self.count(1)?;
                for _ in 0..n {
                    self.any(depth + 1)?;
                }
                Ok(())
            }
            116 => {
                let n = self.count(1)?;
                self.skip(n)
            }
            _ => self.err("unknown value type"),
        }
    }

    fn item(&mut self, info: u8) -> R<()> {
        if info & 0x80 != 0 {
            self.id()?; // origin
        }
        if info & 0x40 != 0 {
            self.id()?; // right origin
        }
        if info & 0xc0 == 0 {
            // Parent: a root name or the id of the item holding the type.
            match self.varuint()? {
                1 => self.string()?,
                0 => self.id()?,
                _ => return self.err("bad parent flag"),
            }
            if info & 0x20 != 0 {
                self.string()?; // key within a map
            }
        }
        match info & 0x1f {
            1 => {
                self.varuint()?; // deleted length
            }
            // Legacy JSON content (Yjs' ContentJSON, which today's Yjs no
            // longer writes): yrs 0.28 reads one string more than the count
            // says, so after it yrs and this check would read the bytes
            // differently, and yrs would take later bytes for counts (found by
            // fuzzing: reservations of tens of GB). Refused.
            2 => return self.err("legacy JSON content is not accepted"),
            3 => {
                let n = self.count(1)?;
                self.skip(n)?;
            }
            4 | 5 => self.string()?,
            6 => {
                self.string()?;
                self.string()?;
            }
            7 => match self.varuint()? {
                0..=2 | 4 | 6 => {}
                3 | 5 => self.string()?, // XML element / hook name
                _ => return self.err("unknown shared type"),
            },
            8 => {
                let n = self.count(1)?;
                for _ in 0..n {
                    self.any(0)?;
                }
            }
            9 => {
                self.string()?; // sub-document guid
                self.any(0)?;
            }
            _ => return self.err("unknown content kind"),
        }
        Ok(())
    }
}

/// Checks that `bytes` are structurally a Yjs update v1 whose counts and
/// nesting are within what the bytes can hold. Success does not promise the
/// update applies: references to missing items are yrs' business.
pub fn check_update_v1(bytes: &[u8]) -> Result<(), WireError> {
    let mut r = Reader { bytes, pos: 0 };
    let clients = r.count(3)?;
    for _ in 0..clients {
        let structs = r.count(1)?;
        r.varuint()?; // client
        r.varuint()?; // first clock
        for _ in 0..structs {
            let info = r.u8()?;
            match info & 0x1f {
                0 | 10 => {
                    r.varuint()?; // GC or skip length
                }
                _ => r.item(info)?,
            }
        }
    }
    let ds_clients = r.count(2)?;
    for _ in 0..ds_clients {
        r.varuint()?;
        let ranges = r.count(2)?;
        for _ in 0..ranges {
            r.varuint()?;
            r.varuint()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Board, NewElement};

    #[test]
    fn real_updates_pass() {
        let mut b = Board::with_client_id(3);
        let s = b.create(NewElement::sticky(0.0, 0.0, "héllo 🌍")).unwrap();
        b.create(NewElement::ink(&[[0.0, 1.0], [2.0, 3.0]]))
            .unwrap();
        b.insert_text(&s, 2, "x").unwrap();
        b.delete(&[&s]).unwrap();
        check_update_v1(&b.encode()).unwrap();
        check_update_v1(&[0, 0]).unwrap();
    }

    #[test]
    fn the_fuzz_finding_is_refused_cheaply() {
        // 12 bytes that made yrs reserve over 500 MB.
        let hostile = [236u8, 159, 175, 118, 121, 132, 138, 244, 160, 75, 12, 137];
        assert!(check_update_v1(&hostile).is_err());
    }

    #[test]
    fn deep_nesting_is_refused() {
        // One client, one Any item in root map "m" key "k", nested arrays.
        let mut bytes = vec![1, 1, 5, 0, 0x28, 1, 1, b'm', 1, b'k', 1];
        for _ in 0..10_000 {
            bytes.extend([117, 1]);
        }
        bytes.push(126);
        bytes.extend([0]);
        let e = check_update_v1(&bytes).unwrap_err();
        assert_eq!(e.what, "values nested too deeply");
    }

    #[test]
    fn every_prefix_of_a_real_update_is_refused() {
        let mut b = Board::with_client_id(3);
        b.create(NewElement::sticky(0.0, 0.0, "a note")).unwrap();
        let bytes = b.encode();
        for cut in 0..bytes.len() {
            assert!(check_update_v1(&bytes[..cut]).is_err(), "cut {cut}");
        }
    }

    /// Fuzzing finding (tpboard_load, 22 bytes): a JSON content item with a
    /// count of 0 passed here while yrs read a string for it anyway, then
    /// took later bytes for a count and reserved tens of GB.
    #[test]
    fn regression_legacy_json_content_is_refused() {
        let bytes = [
            0x02, 0x01, 0x00, 0x01, 0x02, 0x00, 0x02, 0x01, 0x00, 0x00, 0xf2, 0x9b, 0xff, 0xff,
            0xfc, 0xfe, 0xd7, 0x00, 0xb8, 0x8a, 0x00, 0x00,
        ];
        let e = check_update_v1(&bytes).unwrap_err();
        assert_eq!(e.what, "legacy JSON content is not accepted");
        assert!(crate::file::load_bytes(&bytes).is_err());
    }
}
