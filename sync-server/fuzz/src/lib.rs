//! The bodies of the `touchpoint-sync` fuzz targets, as plain functions.
//!
//! Each `fuzz_targets/<name>.rs` binary calls one of these with libFuzzer's
//! input, and `sync-server/tests/fuzz_corpus.rs` includes this file
//! (`#[path]`) to replay the committed corpus and the regressions through the
//! same code under `cargo test`. A check that fails panics.
//!
//! Dependencies: `touchpoint-sync` (share links, access tokens) and
//! `arbitrary`. No clock: "now" comes from the input.

use arbitrary::{Arbitrary, Unstructured};
use touchpoint_crdt::protocol::Role;
use touchpoint_sync::link::ShareLink;
use touchpoint_sync::token::{Grant, TokenError, TokenKey, claimed_role};

/// A target's body: one input, panics on a finding.
pub type Target = fn(&[u8]);

/// Every target, by name, for the replay test.
pub const TARGETS: &[(&str, Target)] = &[("share_link", share_link), ("token", token)];

/// `ShareLink`'s `FromStr` on any text (invalid UTF-8 is replaced, so every
/// input is tried). Checks: no panic; a link that parses prints (Display)
/// as a string that parses back to the same link, and prints the same
/// again; `authority()` works.
pub fn share_link(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(link) = text.parse::<ShareLink>() else {
        return;
    };
    let _ = link.authority();
    let _ = format!("{link:?}");
    let shown = link.to_string();
    match shown.parse::<ShareLink>() {
        Ok(again) => {
            assert!(
                again == link,
                "{shown:?} parses to another link than {text:?}"
            );
            assert_eq!(again.to_string(), shown, "printing is not stable");
        }
        Err(e) => panic!("{text:?} parses, but its printed form {shown:?} does not: {e}"),
    }
}

#[derive(Debug, Arbitrary)]
struct TokenInput {
    secret: Vec<u8>,
    /// Verified as it is: almost always refused.
    token: String,
    room: String,
    now: u64,
    /// Issued, then verified, then verified again with one edit.
    grant_room: String,
    editor: bool,
    expires_at: Option<u64>,
    id: u64,
    edit_at: usize,
    edit_to: char,
}

/// `TokenKey::from_secret(..).verify(token, room, now)` and `claimed_role`
/// on arbitrary token strings, and on tokens the key issued. Checks: no
/// panic; a token that verifies grants the room asked for and is not
/// expired; an issued token verifies (or is expired, or for another room,
/// exactly when it should be) and claims its role; the token with any one
/// character changed does not verify.
pub fn token(data: &[u8]) {
    let Ok(input) = TokenInput::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let key = TokenKey::from_secret(&input.secret);

    let _ = claimed_role(&input.token);
    if let Ok(grant) = key.verify(&input.token, &input.room, input.now) {
        assert_eq!(grant.room, input.room, "verified for another room");
        assert!(grant.expires_at.is_none_or(|at| input.now < at), "expired");
    }

    let role = if input.editor {
        Role::Editor
    } else {
        Role::Viewer
    };
    let grant = Grant {
        room: input.grant_room.clone(),
        role,
        expires_at: input.expires_at.filter(|&at| at != 0),
        id: input.id,
    };
    let issued = key.issue(&grant);
    assert_eq!(
        claimed_role(&issued),
        Some(role),
        "claimed role of {issued:?}"
    );
    let verified = key.verify(&issued, &input.grant_room, input.now);
    match grant.expires_at {
        Some(at) if input.now >= at => assert_eq!(
            verified,
            Err(TokenError::Expired { expired_at: at }),
            "an expired token"
        ),
        _ => assert_eq!(verified, Ok(grant.clone()), "an issued token"),
    }
    if input.room != input.grant_room {
        assert!(
            matches!(
                key.verify(&issued, &input.room, input.now),
                Err(TokenError::WrongRoom { .. })
            ),
            "a token for {:?} let {:?} in",
            input.grant_room,
            input.room
        );
    }

    // One character changed: never accepted, whatever it is.
    let mut chars: Vec<char> = issued.chars().collect();
    if !chars.is_empty() {
        let at = input.edit_at % chars.len();
        if chars[at] != input.edit_to {
            chars[at] = input.edit_to;
            let edited: String = chars.into_iter().collect();
            let got = key.verify(&edited, &input.grant_room, 0);
            assert!(
                matches!(got, Err(TokenError::Malformed | TokenError::Forged)),
                "{edited:?} (one character off {issued:?}) was accepted: {got:?}"
            );
        }
    }
}
