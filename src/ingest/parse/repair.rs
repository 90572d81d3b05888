//! The repair pass: a copy of a document feed-rs rejected (bare `&`, control characters, unknown
//! `<rss>` versions), and the pre-passes that keep quick-xml and feed-rs from panicking.

use std::borrow::Cow;

use crate::text::is_xml_illegal;

/// The document with a space between an e-mail address and a non-ASCII character touching it
/// ("山田taro@example.com"), or `None` when there is no such place. feed-rs splits a person's name from
/// their address by slicing one byte before or after the address, which panics inside a multi-byte
/// character (found by fuzzing); the space makes that byte a character boundary.
pub(super) fn emails_apart(body: &[u8]) -> Option<Vec<u8>> {
    use std::sync::OnceLock;
    static EMAIL: OnceLock<(regex::bytes::Regex, regex::bytes::Regex)> = OnceLock::new();
    if !body.contains(&b'@') || body.is_ascii() {
        return None;
    }
    let (before, after) = EMAIL.get_or_init(|| {
        let addr = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}";
        (
            regex::bytes::Regex::new(&format!(r"((?-u:[\x80-\xff]))((?:mailto:)?{addr})"))
                .expect("valid"),
            regex::bytes::Regex::new(&format!(r"({addr})((?-u:[\x80-\xff]))")).expect("valid"),
        )
    });
    if !before.is_match(body) && !after.is_match(body) {
        return None;
    }
    let spaced = before.replace_all(body, &b"$1 $2"[..]);
    Some(after.replace_all(&spaced, &b"$1 $2"[..]).into_owned())
}

/// The document without its XML declarations. It is UTF-8 by now (see `to_utf8`), so a declaration
/// has nothing left to say, and quick-xml panicked when a declaration after the start (or a broken
/// one at the start) switched encodings mid-stream: found by fuzzing. Borrowed when the only
/// declaration is the first thing in the document.
pub(super) fn without_declarations(body: &[u8]) -> Cow<'_, [u8]> {
    let is_decl = |at: usize| {
        body[at..].starts_with(b"<?xml")
            && body
                .get(at + 5)
                .is_some_and(|b| b.is_ascii_whitespace() || *b == b'?')
    };
    // Where a declaration starting at `at` ends: after its `?>`, or at the next `<` when it is cut
    // short by one, or at the end.
    let end_of = |at: usize| {
        let rest = &body[at + 2..];
        let close = rest.windows(2).position(|w| w == b"?>").map(|p| p + 2);
        let open = rest.iter().position(|b| *b == b'<');
        at + 2
            + match (close, open) {
                (Some(c), Some(o)) if o < c - 2 => o,
                (Some(c), _) => c,
                (None, Some(o)) => o,
                (None, None) => rest.len(),
            }
    };
    let mut head = 0;
    loop {
        let Some(start) = body[head..].iter().position(|b| !b.is_ascii_whitespace()) else {
            return Cow::Borrowed(&body[head..]);
        };
        if !is_decl(head + start) {
            break;
        }
        head = end_of(head + start);
    }
    let Some(first) = (head..body.len().saturating_sub(5)).find(|&i| body[i] == b'<' && is_decl(i))
    else {
        return Cow::Borrowed(&body[head..]);
    };
    let mut out = Vec::with_capacity(body.len() - head);
    out.extend_from_slice(&body[head..first]);
    let mut i = first;
    while i < body.len() {
        if body[i] == b'<' && is_decl(i) {
            i = end_of(i);
        } else {
            out.push(body[i]);
            i += 1;
        }
    }
    Cow::Owned(out)
}

/// Returns a repaired copy of an XML document, or `None` when nothing needed repair.
pub(super) fn repair(body: &[u8]) -> Option<Vec<u8>> {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if !trimmed.starts_with('<') {
        return None;
    }
    let mut out = String::with_capacity(trimmed.len() + 64);
    for (i, c) in trimmed.char_indices() {
        match c {
            // XML 1.0 forbids most C0 controls even as references.
            c if is_xml_illegal(c) => {}
            '&' if !starts_entity(&trimmed[i + 1..]) => out.push_str("&amp;"),
            _ => out.push(c),
        }
    }
    // An <rss> root with a version feed-rs does not list ("2.01", "0.94", none): treat it as 2.0.
    if let Some(start) = out.find("<rss")
        && let Some(end) = out[start..].find('>').map(|e| start + e)
    {
        let tag = &out[start..end];
        if !tag.contains("version=\"2.0\"") && !tag.contains("version='2.0'") {
            let mut fixed_tag = String::from("<rss version=\"2.0\"");
            let rest = strip_attr(&tag[4..], "version");
            fixed_tag.push_str(&rest);
            out.replace_range(start..end, &fixed_tag);
        }
    }
    (out.as_bytes() != body).then(|| out.into_bytes())
}

pub(super) fn starts_entity(s: &str) -> bool {
    let end = match s.find(';') {
        Some(e) if e > 0 && e <= 32 => e,
        _ => return false,
    };
    let name = &s[..end];
    if let Some(num) = name.strip_prefix('#') {
        if let Some(hex) = num.strip_prefix(['x', 'X']) {
            return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
        }
        return !num.is_empty() && num.chars().all(|c| c.is_ascii_digit());
    }
    name.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Removes ` name="…"` / ` name='…'` from an attribute list.
pub(super) fn strip_attr(attrs: &str, name: &str) -> String {
    let mut out = attrs.to_string();
    for q in ['"', '\''] {
        let needle = format!("{name}={q}");
        if let Some(s) = out.find(&needle)
            && let Some(e) = out[s + needle.len()..].find(q)
        {
            out.replace_range(s..s + needle.len() + e + 1, "");
        }
    }
    out
}
