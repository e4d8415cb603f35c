//! The journal's byte format and its replay: no files, no threads, so a web
//! build can keep the same records in IndexedDB.
//!
//! A journal is [`HEADER`] and then records, each one transaction's Yjs
//! update v1 framed as `len: u32 LE`, `crc: u32 LE` (CRC-32 of the four
//! length bytes and the payload), `payload`. A crash can cut the last
//! record short; [`parse`] stops at the first record that is not whole and
//! intact, and everything before it still counts.

use touchpoint_crdt::{Board, ReadOnly, SCHEMA_VERSION, panics};

/// Opens every journal: names the format and its version, so that a file
/// of another kind (or a later format) is never read as records.
pub const HEADER: &[u8; 8] = b"TPJRNL1\n";

/// Bytes in front of each record's payload.
pub const RECORD_OVERHEAD: usize = 8;

/// An update over 4 GiB cannot be framed (its length is a u32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("update of {0} bytes is too large for a journal record")]
pub struct TooLarge(pub usize);

/// Appends `update` to `out` as one record.
pub fn frame(update: &[u8], out: &mut Vec<u8>) -> Result<(), TooLarge> {
    let len = u32::try_from(update.len()).map_err(|_| TooLarge(update.len()))?;
    let len_bytes = len.to_le_bytes();
    out.reserve(RECORD_OVERHEAD + update.len());
    out.extend_from_slice(&len_bytes);
    out.extend_from_slice(&checksum(len_bytes, update).to_le_bytes());
    out.extend_from_slice(update);
    Ok(())
}

fn checksum(len_bytes: [u8; 4], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len_bytes);
    h.update(payload);
    h.finalize()
}

/// One whole record found in a journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Where the record starts in the journal (its length field), in bytes.
    pub offset: usize,
    /// The update it carries.
    pub payload: &'a [u8],
}

impl Record<'_> {
    /// Where the next record starts.
    pub fn end(&self) -> usize {
        self.offset + RECORD_OVERHEAD + self.payload.len()
    }
}

/// What a journal's bytes hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<'a> {
    pub records: Vec<Record<'a>>,
    /// Bytes up to the end of the last whole record (the header's length
    /// when there are none); 0 when the header itself is missing or wrong.
    pub valid_len: usize,
    /// Bytes past `valid_len`: a record cut short, or not a journal at all.
    pub ignored: usize,
}

/// Splits a journal into records, up to the first one that is cut short or
/// fails its checksum.
pub fn parse(bytes: &[u8]) -> Parsed<'_> {
    if bytes.len() < HEADER.len() || &bytes[..HEADER.len()] != HEADER {
        return Parsed {
            records: Vec::new(),
            valid_len: 0,
            ignored: bytes.len(),
        };
    }
    let mut records = Vec::new();
    let mut at = HEADER.len();
    while let Some(record) = record_at(bytes, at) {
        at = record.end();
        records.push(record);
    }
    Parsed {
        records,
        valid_len: at,
        ignored: bytes.len() - at,
    }
}

fn record_at(bytes: &[u8], offset: usize) -> Option<Record<'_>> {
    let head = bytes.get(offset..offset.checked_add(RECORD_OVERHEAD)?)?;
    let len_bytes: [u8; 4] = head[..4].try_into().ok()?;
    let crc = u32::from_le_bytes(head[4..].try_into().ok()?);
    let len = usize::try_from(u32::from_le_bytes(len_bytes)).ok()?;
    let start = offset + RECORD_OVERHEAD;
    let payload = bytes.get(start..start.checked_add(len)?)?;
    (checksum(len_bytes, payload) == crc).then_some(Record { offset, payload })
}

/// How a replay went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replayed {
    /// Records applied, from the first.
    pub applied: usize,
    /// Records from the first one the board refused on: left out, since
    /// later updates may depend on it.
    pub refused: usize,
}

/// Applies `records` to `board` (as remote changes: undo never reverts
/// them). Applying a record the board already holds changes nothing, so a
/// journal replayed over a file that already folded it in loses and
/// doubles nothing. A board whose schema only a record names newer than
/// this build's opens read-only, as a file would.
pub fn replay(board: &mut Board, records: &[Record<'_>]) -> Replayed {
    if records.is_empty() {
        return Replayed {
            applied: 0,
            refused: 0,
        };
    }
    // One merged update integrates in one transaction, far faster than
    // thousands of keystroke-sized ones.
    let merged = panics::catch(|| yrs::merge_updates_v1(records.iter().map(|r| r.payload)));
    let applied = match merged {
        Ok(Ok(update)) if board.apply_update(&update).is_ok() => records.len(),
        _ => records
            .iter()
            .take_while(|r| board.apply_update(r.payload).is_ok())
            .count(),
    };
    if board.read_only().is_none() && board.meta().schema > SCHEMA_VERSION {
        board.set_read_only(Some(ReadOnly::NewerSchema {
            found: board.meta().schema,
        }));
    }
    Replayed {
        applied,
        refused: records.len() - applied,
    }
}

#[cfg(test)]
mod tests {
    use touchpoint_crdt::NewElement;

    use super::*;

    fn journal(updates: &[&[u8]]) -> Vec<u8> {
        let mut out = HEADER.to_vec();
        for u in updates {
            frame(u, &mut out).unwrap();
        }
        out
    }

    #[test]
    fn records_round_trip_and_a_cut_anywhere_in_the_last_keeps_the_others() {
        let bytes = journal(&[b"first", b"", b"third one"]);
        let parsed = parse(&bytes);
        let payloads: Vec<&[u8]> = parsed.records.iter().map(|r| r.payload).collect();
        assert_eq!(payloads, [&b"first"[..], b"", b"third one"]);
        assert_eq!((parsed.valid_len, parsed.ignored), (bytes.len(), 0));
        let last = parsed.records[2].offset;
        for cut in last + 1..bytes.len() {
            let p = parse(&bytes[..cut]);
            assert_eq!(p.records.len(), 2, "cut at {cut}");
            assert_eq!(p.valid_len, last);
            assert_eq!(p.ignored, cut - last);
        }
    }

    #[test]
    fn a_flipped_bit_or_a_wild_length_ends_the_journal_there() {
        let bytes = journal(&[b"kept", b"damaged", b"after"]);
        let second = parse(&bytes).records[1].offset;
        for at in [second, second + 3, second + 5, second + RECORD_OVERHEAD + 2] {
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            let p = parse(&bad);
            assert_eq!(p.records.len(), 1, "flip at {at}");
            assert_eq!(p.valid_len, second);
        }
    }

    #[test]
    fn without_the_header_nothing_is_a_record() {
        let bytes = journal(&[b"x"]);
        for bad in [&bytes[..4], &b"not a journal at all"[..], &[][..]] {
            let p = parse(bad);
            assert!(p.records.is_empty());
            assert_eq!((p.valid_len, p.ignored), (0, bad.len()));
        }
        let mut other = bytes.clone();
        other[6] = b'9';
        assert!(parse(&other).records.is_empty(), "a later format");
    }

    #[test]
    fn replay_applies_updates_once_even_when_repeated() {
        let mut source = Board::with_client_id(1);
        let base = source.encode();
        let updates = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = updates.clone();
        let _sub = source
            .observe_updates(move |u, _| sink.lock().unwrap().push(u.to_vec()))
            .unwrap();
        let id = source.create(NewElement::sticky(0.0, 0.0, "")).unwrap();
        source.set_text(&id, "hello").unwrap();
        source.set_text(&id, "hello there").unwrap();
        let updates = updates.lock().unwrap().clone();
        assert_eq!(updates.len(), 3);
        // Twice over: as after a crash between a compaction and its cleanup.
        let twice: Vec<&[u8]> = updates.iter().chain(&updates).map(Vec::as_slice).collect();
        let bytes = journal(&twice);
        let parsed = parse(&bytes);
        let mut board = Board::from_update(&base).unwrap();
        let r = replay(&mut board, &parsed.records);
        assert_eq!((r.applied, r.refused), (6, 0));
        assert_eq!(board.len(), 1);
        assert_eq!(board.element(&id).unwrap().body.text(), Some("hello there"));
    }

    #[test]
    fn replay_stops_at_a_record_the_board_refuses() {
        let mut source = Board::with_client_id(1);
        let base = source.encode();
        source.create(NewElement::sticky(0.0, 0.0, "a")).unwrap();
        let good = source.encode_diff(&Board::from_update(&base).unwrap().state_vector());
        let bytes = journal(&[&good, b"\xff\xff\xff not an update", &good]);
        let parsed = parse(&bytes);
        let mut board = Board::from_update(&base).unwrap();
        let r = replay(&mut board, &parsed.records);
        assert_eq!((r.applied, r.refused), (1, 2));
        assert_eq!(board.len(), 1);
    }
}
