//! Fractional-index keys for the `z` field.
//!
//! Stacking order must converge when two people reorder at once, so it cannot be
//! an index into a shared list. Each element carries a key string instead; the
//! board is drawn in ascending `(z, id)` order, comparing `z` byte by byte (as
//! JavaScript's `<` does on ASCII strings). A reorder writes one new key strictly
//! between its new neighbours, touching no other element.
//!
//! Keys are base-62 fractions: the digits `0-9A-Za-z` (in ASCII order) after an
//! implied "0.", never ending in `0`, so between any two distinct keys there is
//! always another one. Keys written by other clients may break these rules; they
//! are still ordered bytewise, and generating a key next to them never panics.

use std::cmp::Ordering;

const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE: u8 = 62;

/// Compares two `(z, id)` pairs in drawing order.
pub fn cmp_order(a_z: &str, a_id: &str, b_z: &str, b_id: &str) -> Ordering {
    a_z.as_bytes()
        .cmp(b_z.as_bytes())
        .then_with(|| a_id.as_bytes().cmp(b_id.as_bytes()))
}

/// Whether `key` follows the rules above (non-empty, base-62, no trailing `0`).
pub fn is_valid(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| digit_value(b).is_some()) && !key.ends_with('0')
}

/// A key that sorts strictly between `lo` and `hi` (`None` meaning the open end).
///
/// When the bounds are not valid keys or not in order (hostile or concurrent
/// data), the result is still a valid key that sorts after `lo`, or the smallest
/// key before `hi`; ties left over are broken by element id.
pub fn key_between(lo: Option<&str>, hi: Option<&str>) -> String {
    // Towards an open end, step by one unit at a fixed depth instead of
    // bisecting: bisection appends a digit every few keys, so a board that
    // always adds on top would grow its keys linearly (1.7 kB per key after
    // 10,000 elements, found by the board benchmark).
    let stepped = match (lo, hi) {
        (Some(lo), None) if is_valid(lo) => step(lo, Direction::Up),
        (None, Some(hi)) if is_valid(hi) => step(hi, Direction::Down),
        _ => None,
    };
    if let Some(key) = stepped {
        return key;
    }
    let lo_digits = lo.map(to_digits).unwrap_or_default();
    let hi_digits = hi.map(to_digits);
    if let Some(h) = &hi_digits {
        let lo_key = from_digits(&lo_digits);
        let hi_key = from_digits(h);
        if lo_key.as_bytes() >= hi_key.as_bytes() {
            // Nothing fits between: fall back to "just after lo".
            return key_after_raw(lo.unwrap_or(""));
        }
    }
    let mid = midpoint(&lo_digits, hi_digits.as_deref());
    let key = from_digits(&mid);
    // Guard against the byte order of an invalid input disagreeing with the
    // digit order (a non-digit byte in `lo`): keep the "after lo" promise.
    match lo {
        Some(lo) if key.as_bytes() <= lo.as_bytes() => key_after_raw(lo),
        _ => key,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Direction {
    Up,
    Down,
}

/// Digits at which open-ended steps happen: keys stay this short for about
/// 62^3 steps per leading digit (several million appends in all).
const STEP_DEPTH: usize = 4;

/// `key` plus or minus one unit of its `STEP_DEPTH`-th digit (or of its last
/// digit when longer), with carry. `None` when the step would leave (0, 1).
fn step(key: &str, dir: Direction) -> Option<String> {
    let mut d = to_digits(key);
    let depth = d.len().max(STEP_DEPTH);
    d.resize(depth, 0);
    let mut i = depth;
    loop {
        if i == 0 {
            return None;
        }
        i -= 1;
        match dir {
            Direction::Up if d[i] + 1 < BASE => {
                d[i] += 1;
                break;
            }
            Direction::Up => d[i] = 0,
            Direction::Down if d[i] > 0 => {
                d[i] -= 1;
                break;
            }
            Direction::Down => d[i] = BASE - 1,
        }
    }
    while d.last() == Some(&0) {
        d.pop();
    }
    if d.is_empty() {
        return None;
    }
    Some(from_digits(&d))
}

/// A valid-enough key that sorts strictly after the raw string `lo`.
fn key_after_raw(lo: &str) -> String {
    let mut key: String = lo.to_owned();
    key.push('V');
    key
}

fn digit_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'Z' => Some(b - b'A' + 10),
        b'a'..=b'z' => Some(b - b'a' + 36),
        _ => None,
    }
}

/// Digits of a key; bytes outside the alphabet clamp to the nearest digit so
/// that foreign keys still give a usable neighbour.
fn to_digits(key: &str) -> Vec<u8> {
    let mut digits: Vec<u8> = key
        .bytes()
        .map(|b| {
            digit_value(b).unwrap_or(if b < b'0' {
                0
            } else if b > b'z' {
                BASE - 1
            } else {
                // Between the digit ranges: clamp to the digit just below.
                match b {
                    b':'..=b'@' => 9,
                    _ => 35,
                }
            })
        })
        .collect();
    while digits.last() == Some(&0) {
        digits.pop();
    }
    digits
}

fn from_digits(digits: &[u8]) -> String {
    digits.iter().map(|&d| DIGITS[d as usize] as char).collect()
}

/// Midpoint of two fractions given as digit strings, `lo < hi`, `hi == None`
/// meaning 1. Neither ends in 0, so the result does not either.
fn midpoint(lo: &[u8], hi: Option<&[u8]>) -> Vec<u8> {
    if let Some(hi) = hi {
        // Shared prefix (lo padded with zeros) is copied through.
        let mut n = 0;
        while n < hi.len() && lo.get(n).copied().unwrap_or(0) == hi[n] {
            n += 1;
        }
        if n > 0 {
            let mut out = hi[..n].to_vec();
            let lo_rest = if n < lo.len() { &lo[n..] } else { &[] };
            out.extend(midpoint(lo_rest, Some(&hi[n..])));
            return out;
        }
    }
    let d_lo = lo.first().copied().unwrap_or(0);
    let d_hi = hi.and_then(|h| h.first().copied()).unwrap_or(BASE);
    if d_hi - d_lo > 1 {
        return vec![(d_lo + d_hi) / 2];
    }
    // Consecutive first digits.
    match hi {
        Some(h) if h.len() > 1 => vec![h[0]],
        _ => {
            let mut out = vec![d_lo];
            let lo_rest = if lo.len() > 1 { &lo[1..] } else { &[] };
            out.extend(midpoint(lo_rest, None));
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn first_key_is_in_the_middle() {
        assert_eq!(key_between(None, None), "V");
    }

    #[test]
    fn keys_between_neighbours() {
        let a = key_between(None, None);
        let b = key_between(Some(&a), None);
        let c = key_between(Some(&a), Some(&b));
        assert!(a < c && c < b, "{a} {c} {b}");
        let before = key_between(None, Some(&a));
        assert!(before < a);
    }

    #[test]
    fn repeated_insertion_at_one_end_stays_ordered() {
        let mut keys = vec![key_between(None, None)];
        for _ in 0..500 {
            let last = keys.last().cloned();
            keys.push(key_between(last.as_deref(), None));
        }
        for _ in 0..500 {
            let first = keys.first().cloned();
            keys.insert(0, key_between(None, first.as_deref()));
        }
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert!(keys.iter().all(|k| is_valid(k)));
    }

    #[test]
    fn keys_stay_short_when_always_adding_at_one_end() {
        let mut top = key_between(None, None);
        let mut bottom = top.clone();
        for _ in 0..100_000 {
            let next = key_between(Some(&top), None);
            assert!(next > top);
            top = next;
            let prev = key_between(None, Some(&bottom));
            assert!(prev < bottom && is_valid(&prev));
            bottom = prev;
        }
        assert!(top.len() <= 4 && bottom.len() <= 4, "{top} {bottom}");
    }

    #[test]
    fn steps_at_the_ends_of_the_range_fall_back_to_bisection() {
        let k = key_between(Some("zzzz"), None);
        assert!(k.as_str() > "zzzz");
        let k = key_between(None, Some("0001"));
        assert!(k.as_str() < "0001" && is_valid(&k), "{k}");
    }

    #[test]
    fn hostile_bounds_never_panic() {
        for (lo, hi) in [
            (Some("zzz"), Some("a")),
            (Some("~~"), None),
            (Some(""), Some("")),
            (Some("a"), Some("a")),
            (None, Some("0")),
            (Some("é"), Some("ü")),
            (Some("a\u{0}"), Some("a")),
        ] {
            let k = key_between(lo, hi);
            if let Some(lo) = lo {
                assert!(k.as_str() > lo, "{k:?} after {lo:?}");
            }
        }
    }

    proptest! {
        #[test]
        fn between_is_strictly_between(a in "[0-9A-Za-z]{0,6}[1-9A-Za-z]", b in "[0-9A-Za-z]{0,6}[1-9A-Za-z]") {
            prop_assume!(a != b);
            let (lo, hi) = if a < b { (a, b) } else { (b, a) };
            let k = key_between(Some(&lo), Some(&hi));
            prop_assert!(lo < k && k < hi, "{} < {} < {}", lo, k, hi);
            prop_assert!(is_valid(&k));
        }
    }
}
