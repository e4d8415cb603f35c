//! Who this user is: one name and colour, used for everything the user
//! does under a name (votes, the timer, presence in a shared room), so a
//! person can never vote as one name while shown to the others as another.
//! Asked once and kept in the data directory.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The file in the data directory that holds the user's name and colour.
pub const PROFILE_FILE: &str = "profile.json";

/// Longest display name shown, in characters.
pub const MAX_NAME_CHARS: usize = 40;

/// Colours offered for participants: strong enough to read on the light
/// canvas and distinct from each other.
pub const PALETTE: [[u8; 3]; 10] = [
    [0xe5, 0x39, 0x35],
    [0xd8, 0x1b, 0x60],
    [0x8e, 0x24, 0xaa],
    [0x3f, 0x51, 0xb5],
    [0x1e, 0x88, 0xe5],
    [0x00, 0x89, 0x7b],
    [0x43, 0xa0, 0x47],
    [0xf4, 0x51, 0x1e],
    [0x6d, 0x4c, 0x41],
    [0x54, 0x6e, 0x7a],
];

/// The user's name and colour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub name: String,
    /// `#rrggbb`.
    pub color: String,
}

impl Profile {
    /// The profile used until the user gives one: the login name (or "Me")
    /// in the palette's blue.
    pub fn this_machine() -> Profile {
        Profile {
            name: default_name(),
            color: format_color(PALETTE[4]),
        }
    }

    /// The colour as RGB; a malformed one falls back to the first of the palette.
    pub fn rgb(&self) -> [u8; 3] {
        parse_color(&self.color).unwrap_or(PALETTE[0])
    }

    /// The profile kept in `data_dir`; `None` when there is none or it is
    /// unreadable (the user is asked again).
    pub fn load(data_dir: &Path) -> Option<Profile> {
        let text = std::fs::read_to_string(data_dir.join(PROFILE_FILE)).ok()?;
        let mut p = serde_json::from_str::<Profile>(&text).ok()?;
        p.name = clean_name(&p.name);
        (!p.name.is_empty()).then_some(p)
    }

    /// Keeps the profile in `data_dir` for later runs.
    pub fn save(&self, data_dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(data_dir)?;
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(data_dir.join(PROFILE_FILE), text)
    }
}

/// The login name (`$USER`, `$USERNAME`), else "Me".
pub fn default_name() -> String {
    ["USER", "USERNAME"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .map(|s| clean_name(&s))
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "Me".to_owned())
}

/// `#rrggbb` to RGB.
pub fn parse_color(s: &str) -> Option<[u8; 3]> {
    let hex = s.strip_prefix('#')?;
    if hex.len() != 6 || !hex.is_ascii() {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}

pub fn format_color([r, g, b]: [u8; 3]) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// A display name without control characters, trimmed and cut to
/// [`MAX_NAME_CHARS`].
pub fn clean_name(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .chars()
        .take(MAX_NAME_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_profile_loads_cleaned_and_a_blank_one_is_asked_again() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Profile::load(dir.path()), None);
        let p = Profile {
            name: " Kim\u{7}  ".to_owned(),
            color: "#123456".to_owned(),
        };
        p.save(dir.path()).unwrap();
        let back = Profile::load(dir.path()).unwrap();
        assert_eq!(back.name, "Kim");
        assert_eq!(back.rgb(), [0x12, 0x34, 0x56]);
        Profile {
            name: "\n ".to_owned(),
            color: "#000000".to_owned(),
        }
        .save(dir.path())
        .unwrap();
        assert_eq!(Profile::load(dir.path()), None);
        std::fs::write(dir.path().join(PROFILE_FILE), "{not json").unwrap();
        assert_eq!(Profile::load(dir.path()), None);
    }

    #[test]
    fn the_default_name_is_never_empty() {
        assert!(!default_name().is_empty());
        assert!(!Profile::this_machine().name.is_empty());
    }
}
