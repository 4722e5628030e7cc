//! Text that came from outside keyfix (names, paths, models, log excerpts, API messages, run
//! titles), made safe to print for a person. Anyone who can push to a repository chooses such
//! text, and a terminal obeys the control characters in it: `ESC [2J` clears the screen, an OSC 52
//! sequence writes the clipboard. So every control character is printed as a visible escape
//! instead, as `gh` does with its ASCII sanitizer: `ESC` as `\e`, a newline, tab and carriage
//! return as `\n`, `\t`, `\r`, the other C0 controls, `DEL` and the C1 controls (U+0080–U+009F,
//! which some terminals obey like `ESC` sequences) as `\xNN`, and the bidirectional formatting
//! characters that reorder what a terminal shows (U+202A–U+202E, U+2066–U+2069) as `\u{NNNN}`.
//! Everything else, non-ASCII letters included, is printed as it is.

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with every control character made visible; borrowed when there is none.
pub fn shown(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push_visible(&mut out, c);
    }
    Cow::Owned(out)
}

/// Whether a terminal could act on `c` rather than print it.
pub fn needs_escape(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn push_visible(out: &mut String, c: char) {
    match c {
        '\u{1b}' => out.push_str("\\e"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        c if c.is_control() => {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        }
        c if is_bidi_control(c) => {
            let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_as_it_is() {
        assert!(matches!(
            shown("acme/app claude review ü.yml"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn escape_sequences_are_made_visible() {
        assert_eq!(shown("claude\u{1b}[31mRED"), "claude\\e[31mRED");
        assert_eq!(shown("claude-\u{1b}[2Jsonnet"), "claude-\\e[2Jsonnet");
        assert_eq!(
            shown("\u{1b}]52;c;aGk=\u{7}"),
            "\\e]52;c;aGk=\\x07",
            "OSC 52 would write the clipboard"
        );
    }

    #[test]
    fn every_c0_and_c1_control_and_del_is_escaped() {
        for c in ('\u{0}'..='\u{1f}').chain('\u{7f}'..='\u{9f}') {
            let text = shown(&c.to_string()).into_owned();
            assert!(text.starts_with('\\'), "{c:?} -> {text:?}");
            assert!(!text.chars().any(needs_escape), "{c:?} -> {text:?}");
        }
        assert_eq!(shown("\u{9b}31m"), "\\x9b31m");
        assert_eq!(shown("a\r\nb\tc\u{0}"), "a\\r\\nb\\tc\\x00");
        assert_eq!(shown("abc\u{202e}cba"), "abc\\u{202e}cba");
    }
}
