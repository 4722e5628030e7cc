//! Names that go into a request's URL: repository file paths, workflow file names, environment
//! and branch names, model ids. Whoever named them chose every character, so each is
//! percent-encoded as one path segment (or query value) before it joins a URL: nothing in a name
//! can end the path (`?`, `#`), climb out of it (`/`, `..`), or make the URL unparseable
//! (a space, a control character, non-ASCII).

/// `text` as one path segment or query value: everything but RFC 3986's unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`) as `%XX` of its UTF-8 bytes. A segment of only dots is encoded too, so
/// that no server reads it as `.` or `..`.
pub fn segment(text: &str) -> String {
    let dots_only = !text.is_empty() && text.bytes().all(|b| b == b'.');
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let unreserved = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'~');
        if unreserved || (byte == b'.' && !dots_only) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A path inside a repository (`.github/workflows/claude review ü.yml`), each segment as
/// [`segment`] makes it, the `/` between them kept.
pub fn path(text: &str) -> String {
    text.split('/').map(segment).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reserved_or_odd_character_is_encoded() {
        assert_eq!(
            segment("claude review ü.yml"),
            "claude%20review%20%C3%BC.yml"
        );
        assert_eq!(segment("claude\u{1b}[2J.yml"), "claude%1B%5B2J.yml");
        assert_eq!(segment("a#b?c%d+e&f"), "a%23b%3Fc%25d%2Be%26f");
        assert_eq!(segment("release/1.0"), "release%2F1.0");
        assert_eq!(segment(".."), "%2E%2E");
        assert_eq!(segment("v1.0~rc_2-x"), "v1.0~rc_2-x");
    }

    #[test]
    fn a_path_keeps_its_slashes() {
        assert_eq!(
            path(".github/workflows/claude review.yml"),
            ".github/workflows/claude%20review.yml"
        );
    }
}
