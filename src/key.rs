//! The Anthropic credential: held as a secret, inspected for shape, fingerprinted.
//!
//! A [`Key`] can be neither printed nor logged: `Debug` and `Display` show only the display form
//! (`sk-ant-api03-…igAA`). The value leaves this type in exactly two ways: as the `x-api-key`
//! header of a request ([`Key::expose_for_request`]) and as the plaintext of a sealed box.

use std::fmt;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Every Anthropic credential starts with `sk-ant-`, then a kind and a version, then `-`.
const FAMILY_PREFIX: &str = "sk-ant-";

/// What kind of credential a value is, read from its prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// `sk-ant-api03-`: an API key, the only kind that belongs in `anthropic_api_key`.
    Api03,
    /// `sk-ant-admin01-`: an Admin API key; never a CI secret.
    Admin01,
    /// `sk-ant-oat01-`: a Claude Code OAuth token (`claude_code_oauth_token`).
    Oat01,
    /// `sk-ant-sid01-`: a claude.ai browser session cookie.
    Sid01,
    /// `sk-ant-ort01-`: an OAuth refresh token.
    Ort01,
    Unknown,
}

impl KeyKind {
    const KNOWN: [KeyKind; 5] = [
        KeyKind::Api03,
        KeyKind::Admin01,
        KeyKind::Oat01,
        KeyKind::Sid01,
        KeyKind::Ort01,
    ];

    pub fn prefix(self) -> Option<&'static str> {
        match self {
            KeyKind::Api03 => Some("sk-ant-api03-"),
            KeyKind::Admin01 => Some("sk-ant-admin01-"),
            KeyKind::Oat01 => Some("sk-ant-oat01-"),
            KeyKind::Sid01 => Some("sk-ant-sid01-"),
            KeyKind::Ort01 => Some("sk-ant-ort01-"),
            KeyKind::Unknown => None,
        }
    }

    /// The stable short name used in JSON and in the probe report.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Api03 => "api03",
            KeyKind::Admin01 => "admin01",
            KeyKind::Oat01 => "oat01",
            KeyKind::Sid01 => "sid01",
            KeyKind::Ort01 => "ort01",
            KeyKind::Unknown => "unknown",
        }
    }

    pub fn from_name(name: &str) -> KeyKind {
        Self::KNOWN
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .unwrap_or(KeyKind::Unknown)
    }

    /// The exact length of a well-formed credential of this kind, where the format fixes one.
    fn exact_length(self) -> Option<usize> {
        match self {
            KeyKind::Api03 => Some(108),
            KeyKind::Admin01 => Some(110),
            _ => None,
        }
    }

    /// What a person would call it.
    pub fn describe(self) -> &'static str {
        match self {
            KeyKind::Api03 => "an Anthropic API key",
            KeyKind::Admin01 => "an Anthropic Admin API key",
            KeyKind::Oat01 => "a Claude Code OAuth token",
            KeyKind::Sid01 => "a claude.ai browser session cookie",
            KeyKind::Ort01 => "an OAuth refresh token",
            KeyKind::Unknown => "a value that matches no known Anthropic credential format",
        }
    }

    fn of(value: &str) -> KeyKind {
        Self::KNOWN
            .into_iter()
            .find(|kind| kind.prefix().is_some_and(|p| value.starts_with(p)))
            .unwrap_or(KeyKind::Unknown)
    }
}

/// Something around or inside a value that does not belong to a key: what pasting from an editor,
/// a chat or `echo` leaves behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Defect {
    LeadingWhitespace,
    TrailingWhitespace,
    LeadingNewline,
    TrailingNewline,
    InnerWhitespace,
    SurroundingQuotes,
    ByteOrderMark,
    InvisibleSpace,
}

impl Defect {
    pub fn describe(self) -> &'static str {
        match self {
            Defect::LeadingWhitespace => "whitespace before the key",
            Defect::TrailingWhitespace => "whitespace after the key",
            Defect::LeadingNewline => "a newline before the key",
            Defect::TrailingNewline => "a newline after the key",
            Defect::InnerWhitespace => "whitespace or a newline inside the key",
            Defect::SurroundingQuotes => "quotes around the key",
            Defect::ByteOrderMark => "a byte-order mark",
            Defect::InvisibleSpace => "a non-breaking or zero-width space",
        }
    }

    pub fn from_name(name: &str) -> Option<Defect> {
        const ALL: [Defect; 8] = [
            Defect::LeadingWhitespace,
            Defect::TrailingWhitespace,
            Defect::LeadingNewline,
            Defect::TrailingNewline,
            Defect::InnerWhitespace,
            Defect::SurroundingQuotes,
            Defect::ByteOrderMark,
            Defect::InvisibleSpace,
        ];
        ALL.into_iter().find(|d| d.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Defect::LeadingWhitespace => "leading_whitespace",
            Defect::TrailingWhitespace => "trailing_whitespace",
            Defect::LeadingNewline => "leading_newline",
            Defect::TrailingNewline => "trailing_newline",
            Defect::InnerWhitespace => "inner_whitespace",
            Defect::SurroundingQuotes => "surrounding_quotes",
            Defect::ByteOrderMark => "byte_order_mark",
            Defect::InvisibleSpace => "invisible_space",
        }
    }
}

/// What can be said about a value without using it: enough to tell a malformed secret, a wrong
/// kind of credential and a well-formed API key apart. It holds no part of the value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Shape {
    pub present: bool,
    /// Length in characters of the value as stored, defects included.
    pub length: usize,
    /// The kind of the value once the defects are taken away.
    pub kind: KeyKind,
    pub defects: Vec<Defect>,
    /// Whether the value, defects taken away, has the exact format of its kind.
    pub well_formed: bool,
}

impl Shape {
    /// A well-formed API key with nothing around it: the only shape worth sending to the API.
    pub fn is_clean_api_key(&self) -> bool {
        self.present && self.kind == KeyKind::Api03 && self.well_formed && self.defects.is_empty()
    }

    pub fn of(value: &str) -> Shape {
        let (inner, defects) = strip_defects(value);
        let kind = KeyKind::of(inner);
        Shape {
            present: !value.is_empty(),
            length: value.chars().count(),
            kind,
            well_formed: is_well_formed(kind, inner),
            defects,
        }
    }
}

fn is_invisible_space(c: char) -> bool {
    matches!(
        c,
        '\u{a0}' | '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{202f}'
    )
}

fn is_quote(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | '`' | '\u{201c}' | '\u{201d}' | '\u{2018}' | '\u{2019}'
    )
}

/// Peels what does not belong to a key off both ends, noting each kind of defect once, then
/// looks inside for characters that cannot be part of any key.
fn strip_defects(value: &str) -> (&str, Vec<Defect>) {
    let mut defects = Vec::new();
    let mut note = |d: Defect| {
        if !defects.contains(&d) {
            defects.push(d);
        }
    };
    let mut inner = value;
    loop {
        let before = inner;
        if let Some(rest) = inner.strip_prefix('\u{feff}') {
            note(Defect::ByteOrderMark);
            inner = rest;
        }
        if let Some(c) = inner.chars().next() {
            if c == '\n' || c == '\r' {
                note(Defect::LeadingNewline);
            } else if is_invisible_space(c) {
                note(Defect::InvisibleSpace);
            } else if c.is_whitespace() {
                note(Defect::LeadingWhitespace);
            }
            if c.is_whitespace() || is_invisible_space(c) {
                inner = &inner[c.len_utf8()..];
            }
        }
        if let Some(c) = inner.chars().next_back() {
            if c == '\n' || c == '\r' {
                note(Defect::TrailingNewline);
            } else if is_invisible_space(c) {
                note(Defect::InvisibleSpace);
            } else if c == '\u{feff}' {
                note(Defect::ByteOrderMark);
            } else if c.is_whitespace() {
                note(Defect::TrailingWhitespace);
            }
            if c.is_whitespace() || is_invisible_space(c) || c == '\u{feff}' {
                inner = &inner[..inner.len() - c.len_utf8()];
            }
        }
        let mut chars = inner.chars();
        if let (Some(first), Some(last)) = (chars.next(), chars.next_back()) {
            if is_quote(first) && is_quote(last) {
                note(Defect::SurroundingQuotes);
                inner = &inner[first.len_utf8()..inner.len() - last.len_utf8()];
            }
        }
        if inner == before {
            break;
        }
    }
    for c in inner.chars() {
        if is_invisible_space(c) || c == '\u{feff}' {
            note(if c == '\u{feff}' {
                Defect::ByteOrderMark
            } else {
                Defect::InvisibleSpace
            });
        } else if c.is_whitespace() {
            note(Defect::InnerWhitespace);
        }
    }
    (inner, defects)
}

fn is_well_formed(kind: KeyKind, inner: &str) -> bool {
    let Some(prefix) = kind.prefix() else {
        return false;
    };
    let body = &inner[prefix.len()..];
    let charset_ok = !body.is_empty()
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let length_ok = kind
        .exact_length()
        .is_none_or(|len| inner.len() == len && inner.ends_with("AA"));
    charset_ok && length_ok
}

/// `HMAC-SHA256(nonce, value)` truncated to 16 hex characters: equal for equal keys under the
/// same nonce, and useless for recovering the key.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    pub fn of(nonce: &[u8], value: &[u8]) -> Fingerprint {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(nonce).expect("HMAC takes a key of any length");
        mac.update(value);
        let digest = mac.finalize().into_bytes();
        Fingerprint(hex::encode(&digest[..8]))
    }

    /// Parses a fingerprint as the probe writes it; `None` unless it is 16 lower-case hex digits.
    pub fn parse(text: &str) -> Option<Fingerprint> {
        let ok = text.len() == 16 && text.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'));
        ok.then(|| Fingerprint(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Constant-time equality: a fingerprint is compared against one derived from a secret.
    pub fn matches(&self, other: &Fingerprint) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.0)
    }
}

/// `bytes` random bytes as lower-case hex: nonces, salts, correlation ids.
pub fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

/// An Anthropic credential. The value is zeroized on drop and never printed.
#[derive(Clone)]
pub struct Key {
    value: SecretString,
}

impl Key {
    /// Takes a value as read from a prompt, stdin or the environment, trimming trailing CR/LF
    /// only, as `gh secret set` does; anything else around the key is kept for [`Shape`] to see.
    pub fn from_input(mut raw: String) -> Key {
        let trimmed_len = raw.trim_end_matches(['\r', '\n']).len();
        raw.truncate(trimmed_len);
        Key {
            value: SecretString::from(raw),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.value.expose_secret().is_empty()
    }

    pub fn shape(&self) -> Shape {
        Shape::of(self.value.expose_secret())
    }

    pub fn kind(&self) -> KeyKind {
        self.shape().kind
    }

    /// The display form: the kind's prefix and the last 4 characters, `sk-ant-api03-…igAA`.
    pub fn display_form(&self) -> String {
        let (inner, _) = strip_defects(self.value.expose_secret());
        let kind = KeyKind::of(inner);
        let tail_len = 4;
        let prefix = kind
            .prefix()
            .unwrap_or(if inner.starts_with(FAMILY_PREFIX) {
                FAMILY_PREFIX
            } else {
                ""
            });
        let body_len = inner.chars().count().saturating_sub(prefix.chars().count());
        // A short value would give too much of itself away through its tail.
        if body_len < 16 || !inner.is_char_boundary(inner.len() - tail_len) {
            return format!("{prefix}… ({} characters)", inner.chars().count());
        }
        format!("{prefix}…{}", &inner[inner.len() - tail_len..])
    }

    /// The Admin API's `partial_key_hint` for this key: prefix, 3 more characters, `...`, last 4.
    /// Only ever compared, never shown: it holds 7 characters of the secret part.
    pub fn admin_hint(&self) -> Option<String> {
        let value = self.value.expose_secret();
        let prefix = KeyKind::of(value).prefix()?;
        let body = value.get(prefix.len()..)?;
        if body.len() < 8 || !body.is_ascii() {
            return None;
        }
        Some(format!(
            "{prefix}{}...{}",
            &body[..3],
            &body[body.len() - 4..]
        ))
    }

    pub fn fingerprint(&self, nonce: &[u8]) -> Fingerprint {
        Fingerprint::of(nonce, self.value.expose_secret().as_bytes())
    }

    /// Constant-time comparison of two keys.
    pub fn same_as(&self, other: &Key) -> bool {
        let a = self.value.expose_secret().as_bytes();
        let b = other.value.expose_secret().as_bytes();
        a.ct_eq(b).into()
    }

    /// The value, for the one place that must send it: the request header or the sealed box.
    pub fn expose_for_request(&self) -> &str {
        self.value.expose_secret()
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({})", self.display_form())
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_form())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A well-formed API key made for tests: 13-character prefix, 93 characters, `AA`.
    pub fn sample_api_key(seed: char) -> String {
        let body: String = std::iter::repeat_n(seed, 89).collect();
        format!("sk-ant-api03-{body}Zx9_AA")
    }

    #[test]
    fn a_clean_api_key_has_a_clean_shape() {
        let shape = Shape::of(&sample_api_key('R'));
        assert_eq!(shape.length, 108);
        assert_eq!(shape.kind, KeyKind::Api03);
        assert!(shape.well_formed);
        assert!(shape.is_clean_api_key(), "{shape:?}");
    }

    #[test]
    fn defects_are_named_and_the_key_inside_still_recognised() {
        let key = sample_api_key('R');
        let cases: [(String, &[Defect]); 7] = [
            (format!("{key} "), &[Defect::TrailingWhitespace]),
            (format!("{key}\n"), &[Defect::TrailingNewline]),
            (format!(" \t{key}"), &[Defect::LeadingWhitespace]),
            (format!("\"{key}\""), &[Defect::SurroundingQuotes]),
            (format!("\u{feff}{key}"), &[Defect::ByteOrderMark]),
            (format!("{key}\u{200b}"), &[Defect::InvisibleSpace]),
            (
                format!("'{key}'\r\n"),
                &[Defect::TrailingNewline, Defect::SurroundingQuotes],
            ),
        ];
        for (value, expected) in cases {
            let shape = Shape::of(&value);
            assert_eq!(shape.defects, expected, "{value:?}");
            assert_eq!(shape.kind, KeyKind::Api03);
            assert!(shape.well_formed, "{value:?}");
            assert!(!shape.is_clean_api_key());
        }
    }

    #[test]
    fn a_space_inside_is_a_defect() {
        let key = sample_api_key('R');
        let broken = format!("{} {}", &key[..50], &key[50..]);
        assert_eq!(Shape::of(&broken).defects, [Defect::InnerWhitespace]);
    }

    #[test]
    fn kinds_are_read_from_the_prefix() {
        let body: String = std::iter::repeat_n('a', 93).collect();
        assert_eq!(
            Shape::of(&format!("sk-ant-oat01-{body}")).kind,
            KeyKind::Oat01
        );
        assert_eq!(
            Shape::of(&format!("sk-ant-admin01-{body}AA")).kind,
            KeyKind::Admin01
        );
        assert!(Shape::of(&format!("sk-ant-admin01-{body}AA")).well_formed);
        assert_eq!(
            Shape::of(&format!("sk-ant-sid01-{body}")).kind,
            KeyKind::Sid01
        );
        assert_eq!(
            Shape::of(&format!("sk-ant-ort01-{body}")).kind,
            KeyKind::Ort01
        );
        assert_eq!(Shape::of("sk-proj-abc").kind, KeyKind::Unknown);
        assert!(!Shape::of("sk-proj-abc").well_formed);
    }

    #[test]
    fn a_truncated_api_key_is_not_well_formed() {
        let key = sample_api_key('R');
        assert!(!Shape::of(&key[..100]).well_formed);
        assert!(!Shape::of(&key.replace('R', "!")).well_formed);
    }

    #[test]
    fn empty_is_absent() {
        let shape = Shape::of("");
        assert!(!shape.present);
        assert!(!shape.is_clean_api_key());
    }

    #[test]
    fn input_trims_trailing_cr_lf_only() {
        let key = sample_api_key('R');
        assert!(Key::from_input(format!("{key}\r\n\n"))
            .shape()
            .is_clean_api_key());
        let spaced = Key::from_input(format!("{key} \n"));
        assert_eq!(spaced.shape().defects, [Defect::TrailingWhitespace]);
    }

    #[test]
    fn debug_and_display_show_only_the_display_form() {
        let raw = sample_api_key('R');
        let key = Key::from_input(raw.clone());
        let shown = format!("{key:?} {key} {key:#?}");
        assert_eq!(key.display_form(), "sk-ant-api03-…9_AA");
        for start in 13..raw.len() - 12 {
            assert!(!shown.contains(&raw[start..start + 12]), "{shown}");
        }
    }

    #[test]
    fn short_values_show_no_tail() {
        assert_eq!(
            Key::from_input("sk-ant-api03-abc".into()).display_form(),
            "sk-ant-api03-… (16 characters)"
        );
        assert_eq!(
            Key::from_input("hunter2".into()).display_form(),
            "… (7 characters)"
        );
    }

    #[test]
    fn admin_hint_matches_the_admin_api_format() {
        let key = Key::from_input(sample_api_key('R'));
        assert_eq!(key.admin_hint().unwrap(), "sk-ant-api03-RRR...9_AA");
    }

    #[test]
    fn fingerprint_is_the_truncated_hmac() {
        // HMAC-SHA256(key = "nonce", message = "value"), checked with Python's hmac module.
        let fp = Fingerprint::of(b"nonce", b"value");
        assert_eq!(fp.as_str(), "a55c58b6662e502c");
        assert!(fp.matches(&Fingerprint::parse(fp.as_str()).unwrap()));
        assert!(Fingerprint::parse("XYZ").is_none());
    }

    #[test]
    fn same_as_compares_values() {
        let a = Key::from_input(sample_api_key('R'));
        let b = Key::from_input(sample_api_key('R'));
        let c = Key::from_input(sample_api_key('S'));
        assert!(a.same_as(&b));
        assert!(!a.same_as(&c));
    }
}
