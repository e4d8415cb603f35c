//! Access tokens: the server's signed statement "this holder may join room R
//! as role X until time T".
//!
//! A token is the URL-safe base64 (no padding) of
//!
//! ```text
//! version: u8 (1) | role: u8 (0 viewer, 1 editor) | expires: u64 BE (unix seconds, 0 = never)
//!   | id: u64 BE (random, names the token in logs) | room: UTF-8 (rest of the payload)
//!   | tag: 32 bytes, HMAC-SHA256(secret, "touchpoint token v1\0" | payload)
//! ```
//!
//! The secret is 32 random bytes kept in the server's data directory
//! (`token.secret`, mode 0600). Verification checks the tag first, in
//! constant time (`ring::hmac::verify`), so nothing about a forged token is
//! looked at; then the room, then the expiry. A token cannot be revoked one
//! by one: replacing the secret revokes every token issued with it.
//!
//! Time comes in as a parameter (unix seconds), so tests need no clock.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use touchpoint_crdt::protocol::{ErrorCode, Refusal, Role};

/// The file in the data directory that holds the token secret.
pub const SECRET_FILE: &str = "token.secret";

/// Length of the token secret, in bytes.
pub const SECRET_LEN: usize = 32;

const VERSION: u8 = 1;
/// Mixed into every signature, so the key signs nothing else by accident.
const CONTEXT: &[u8] = b"touchpoint token v1\0";
/// version + role + expires + id.
const HEADER_LEN: usize = 1 + 1 + 8 + 8;
const TAG_LEN: usize = 32;

/// What a token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The one room it admits to.
    pub room: String,
    pub role: Role,
    /// Unix seconds after which it is refused; `None` never expires.
    pub expires_at: Option<u64>,
    /// A random number naming this token in logs (the token itself is a
    /// secret and is never logged).
    pub id: u64,
}

/// Why a token is refused. Every one is sent to the client as
/// `unauthorized`; the messages say what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the access token is malformed: ask for a new link")]
    Malformed,
    #[error("the access token was not issued by this server: ask for a new link")]
    Forged,
    #[error("the access token expired at unix time {expired_at}: ask for a new link")]
    Expired { expired_at: u64 },
    #[error("the access token is for room {token_room:?}, not {room:?}")]
    WrongRoom { token_room: String, room: String },
}

impl TokenError {
    /// The error frame for a client that presented this token.
    pub fn refusal(&self) -> Refusal {
        Refusal::new(ErrorCode::Unauthorized, self.to_string())
    }
}

/// Why the token secret could not be read or created.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("token secret {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "token secret {path} holds {len} bytes, not {SECRET_LEN}: restore it, or delete it to create a new one (every link issued so far stops working)"
    )]
    BadLength { path: PathBuf, len: usize },
    #[error("no secure random numbers available")]
    Random,
}

/// The server's signing key for access tokens.
pub struct TokenKey {
    key: hmac::Key,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(<secret>)")
    }
}

impl TokenKey {
    /// A key from secret bytes (tests; [`TokenKey::load_or_create`] for the
    /// server).
    pub fn from_secret(secret: &[u8]) -> TokenKey {
        TokenKey {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    /// The key kept in `dir` ([`SECRET_FILE`]): read it, or create it (32
    /// random bytes, mode 0600) on first use. `dir` must exist.
    pub fn load_or_create(dir: &Path) -> Result<TokenKey, SecretError> {
        let path = dir.join(SECRET_FILE);
        let io = |source| SecretError::Io {
            path: path.clone(),
            source,
        };
        let secret = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut secret = [0u8; SECRET_LEN];
                SystemRandom::new()
                    .fill(&mut secret)
                    .map_err(|_| SecretError::Random)?;
                match write_new_private_file(&path, &secret) {
                    Ok(()) => secret.to_vec(),
                    // Another process created it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        std::fs::read(&path).map_err(io)?
                    }
                    Err(e) => return Err(io(e)),
                }
            }
            Err(e) => return Err(io(e)),
        };
        if secret.len() != SECRET_LEN {
            return Err(SecretError::BadLength {
                path,
                len: secret.len(),
            });
        }
        warn_if_readable_by_others(&path);
        Ok(TokenKey::from_secret(&secret))
    }

    /// Signs `grant` into a token string (URL-safe, no padding).
    pub fn issue(&self, grant: &Grant) -> String {
        let mut payload = Vec::with_capacity(HEADER_LEN + grant.room.len() + TAG_LEN);
        payload.push(VERSION);
        payload.push(u8::from(grant.role.can_write()));
        payload.extend_from_slice(&grant.expires_at.unwrap_or(0).to_be_bytes());
        payload.extend_from_slice(&grant.id.to_be_bytes());
        payload.extend_from_slice(grant.room.as_bytes());
        let tag = self.sign(&payload);
        payload.extend_from_slice(tag.as_ref());
        base64url_encode(&payload)
    }

    /// Checks `token` for joining `room` at `now` (unix seconds) and returns
    /// what it grants.
    pub fn verify(&self, token: &str, room: &str, now: u64) -> Result<Grant, TokenError> {
        let bytes = base64url_decode(token).ok_or(TokenError::Malformed)?;
        if bytes.len() < HEADER_LEN + TAG_LEN {
            return Err(TokenError::Malformed);
        }
        let (payload, tag) = bytes.split_at(bytes.len() - TAG_LEN);
        let mut message = Vec::with_capacity(CONTEXT.len() + payload.len());
        message.extend_from_slice(CONTEXT);
        message.extend_from_slice(payload);
        hmac::verify(&self.key, &message, tag).map_err(|_| TokenError::Forged)?;
        // Signed by us: from here on the payload is our own writing.
        let (header, room_bytes) = payload.split_at(HEADER_LEN);
        if header[0] != VERSION {
            return Err(TokenError::Malformed);
        }
        let role = match header[1] {
            0 => Role::Viewer,
            1 => Role::Editor,
            _ => return Err(TokenError::Malformed),
        };
        let expires = u64::from_be_bytes(
            header[2..10]
                .try_into()
                .map_err(|_| TokenError::Malformed)?,
        );
        let id = u64::from_be_bytes(
            header[10..18]
                .try_into()
                .map_err(|_| TokenError::Malformed)?,
        );
        let token_room = std::str::from_utf8(room_bytes).map_err(|_| TokenError::Malformed)?;
        if token_room != room {
            return Err(TokenError::WrongRoom {
                token_room: token_room.to_owned(),
                room: room.to_owned(),
            });
        }
        let expires_at = (expires != 0).then_some(expires);
        if let Some(at) = expires_at
            && now >= at
        {
            return Err(TokenError::Expired { expired_at: at });
        }
        Ok(Grant {
            room: token_room.to_owned(),
            role,
            expires_at,
            id,
        })
    }

    fn sign(&self, payload: &[u8]) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(CONTEXT);
        ctx.update(payload);
        ctx.sign()
    }
}

/// The role a token says it grants, read without the key: what a client
/// shows before the server has answered (a viewer link opens view-only even
/// offline). Only the server's check counts; `None` for a malformed token.
pub fn claimed_role(token: &str) -> Option<Role> {
    let bytes = base64url_decode(token)?;
    if bytes.len() < HEADER_LEN + TAG_LEN || bytes[0] != VERSION {
        return None;
    }
    match bytes[1] {
        0 => Some(Role::Viewer),
        1 => Some(Role::Editor),
        _ => None,
    }
}

/// Seconds since the unix epoch, for [`TokenKey::verify`]. A clock set
/// before 1970 reads as 0.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A random token id.
pub fn random_id() -> Result<u64, SecretError> {
    let mut bytes = [0u8; 8];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| SecretError::Random)?;
    Ok(u64::from_be_bytes(bytes))
}

/// Parses a token lifetime: a positive whole number and a unit, `s`, `m`,
/// `h`, `d` or `w` (`30m`, `12h`, `7d`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{s:?} has no unit: write it like 30m, 12h or 7d"))?;
    let (number, unit) = s.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} does not start with a number: write it like 30m, 12h or 7d"))?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => {
            return Err(format!(
                "{s:?}: the unit must be s, m, h, d or w (like 30m, 12h, 7d)"
            ));
        }
    };
    if n == 0 {
        return Err(format!("{s:?}: a lifetime must be longer than zero"));
    }
    n.checked_mul(unit_secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{s:?} is too long"))
}

/// Creates `path` with `bytes`, readable by its owner only, failing with
/// `AlreadyExists` if it exists. Written to a temporary file first and
/// linked into place, so no reader ever sees it half written.
pub(crate) fn write_new_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::hard_link(&tmp, path)
    })();
    // The temporary name goes either way; the link (if made) stays.
    drop(std::fs::remove_file(&tmp));
    result
}

/// Logs a warning when a secret file is readable by group or others.
pub(crate) fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                "{} is readable by other users; chmod 600 it",
                path.display()
            );
        }
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// URL-safe base64 without padding (RFC 4648 §5).
fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(B64[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// Decodes URL-safe base64 without padding; `None` for anything else
/// (padding, other alphabets, stray bits in the last character).
fn base64url_decode(s: &str) -> Option<Vec<u8>> {
    let value = |c: u8| B64.iter().position(|&x| x == c).map(|v| v as u32);
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 2);
    for chunk in s.as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        let used = chunk.len() - 1;
        out.extend_from_slice(&bytes[1..1 + used]);
        // Bits past the last whole byte must be zero (one encoding per value).
        if bytes[1 + used..].iter().any(|&b| b != 0) {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(room: &str, role: Role, expires_at: Option<u64>) -> Grant {
        Grant {
            room: room.to_owned(),
            role,
            expires_at,
            id: 42,
        }
    }

    #[test]
    fn issued_tokens_verify() {
        let key = TokenKey::from_secret(&[7; 32]);
        for g in [
            grant("room", Role::Editor, None),
            grant("Journey map: café/1", Role::Viewer, Some(2_000)),
        ] {
            let token = key.issue(&g);
            assert!(
                token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{token}"
            );
            assert_eq!(key.verify(&token, &g.room, 1_000).unwrap(), g);
            assert_eq!(claimed_role(&token), Some(g.role));
        }
        assert_eq!(claimed_role("not a token"), None);
        assert_eq!(claimed_role("AQE"), None, "too short");
    }

    #[test]
    fn refuses_forged_expired_and_other_room_tokens() {
        let key = TokenKey::from_secret(&[7; 32]);
        let token = key.issue(&grant("a", Role::Editor, Some(2_000)));
        // Another server's key.
        let other = TokenKey::from_secret(&[8; 32]);
        assert_eq!(other.verify(&token, "a", 0), Err(TokenError::Forged));
        // Expired at and after the instant.
        assert_eq!(
            key.verify(&token, "a", 2_000),
            Err(TokenError::Expired { expired_at: 2_000 })
        );
        assert!(key.verify(&token, "a", 1_999).is_ok());
        // Another room.
        assert_eq!(
            key.verify(&token, "b", 0),
            Err(TokenError::WrongRoom {
                token_room: "a".into(),
                room: "b".into()
            })
        );
        // A viewer promoting itself: flip the role byte, keep the tag.
        let viewer = key.issue(&grant("a", Role::Viewer, None));
        let mut bytes = base64url_decode(&viewer).unwrap();
        bytes[1] = 1;
        assert_eq!(
            key.verify(&base64url_encode(&bytes), "a", 0),
            Err(TokenError::Forged)
        );
        // Every single-bit change is refused.
        let bytes = base64url_decode(&token).unwrap();
        for i in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[i / 8] ^= 1 << (i % 8);
            assert!(
                key.verify(&base64url_encode(&b), "a", 0).is_err(),
                "bit {i}"
            );
        }
        // Garbage.
        for bad in ["", "!!!!", "abc", "a", &token[..token.len() - 2]] {
            assert!(key.verify(bad, "a", 0).is_err(), "{bad:?}");
        }
        assert_eq!(key.verify("AAAA", "a", 0), Err(TokenError::Malformed));
        assert_eq!(TokenError::Forged.refusal().code, ErrorCode::Unauthorized);
    }

    #[test]
    fn base64url_round_trips_and_is_strict() {
        for len in 0..40u8 {
            let bytes: Vec<u8> = (0..len)
                .map(|i| i.wrapping_mul(37).wrapping_add(250))
                .collect();
            let s = base64url_encode(&bytes);
            assert_eq!(base64url_decode(&s).unwrap(), bytes);
        }
        assert_eq!(base64url_encode(b"\xfb\xff"), "-_8");
        assert_eq!(base64url_decode("AB"), None, "stray bits");
        assert_eq!(base64url_decode("AA=="), None, "padding");
        assert_eq!(base64url_decode("A+/A"), None, "standard alphabet");
    }

    #[test]
    fn secret_is_created_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let key = TokenKey::load_or_create(dir.path()).unwrap();
        let token = key.issue(&grant("r", Role::Editor, None));
        let again = TokenKey::load_or_create(dir.path()).unwrap();
        assert!(
            again.verify(&token, "r", 0).is_ok(),
            "same secret on reload"
        );
        let path = dir.path().join(SECRET_FILE);
        assert_eq!(std::fs::read(&path).unwrap().len(), SECRET_LEN);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // No temporary files left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [SECRET_FILE]);
        std::fs::write(&path, b"short").unwrap();
        assert!(matches!(
            TokenKey::load_or_create(dir.path()),
            Err(SecretError::BadLength { len: 5, .. })
        ));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(1_209_600)));
        assert_eq!(parse_duration("45s"), Ok(Duration::from_secs(45)));
        for bad in [
            "",
            "7",
            "d",
            "0h",
            "7y",
            "-1d",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
