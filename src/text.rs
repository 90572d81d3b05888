//! Text helpers several stages share (ground floor: imports nothing of syndic's): the word splitter,
//! lower-case folding for matching, hex encoding for keys and ETags, the characters XML 1.0 cannot carry, and an
//! error's cause chain as one line, and a URL without its password for messages.

/// Lower case for matching: Unicode lower-casing, plus the one common fold it misses ("ß" → "ss").
pub fn fold(s: &str) -> String {
    s.to_lowercase().replace('ß', "ss")
}

/// The one word splitter: runs of letters and digits (Unicode), everything else a separator. Headline
/// keys, section rules and the learned tagger's features all read words through it.
pub fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// Lower-case hex of bytes (keys, uids, ETags).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Characters XML 1.0 forbids even as character references.
pub fn is_xml_illegal(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// Removes characters XML 1.0 cannot carry at all.
pub fn strip_xml_illegal(s: &str) -> String {
    if !s.chars().any(is_xml_illegal) {
        return s.to_string();
    }
    s.chars().filter(|c| !is_xml_illegal(*c)).collect()
}

/// An error with its causes, `: `-separated: the cause chain carries the useful part ("connection
/// refused", "dns error").
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

/// A URL without its password, for messages ("postgres://syndic:***@db/news").
pub fn redacted_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_fold_encode_and_strip() {
        assert_eq!(fold("Straße ÉTÉ"), "strasse été");
        assert_eq!(hex(&[0, 15, 255]), "000fff");
        assert_eq!(strip_xml_illegal("a\u{1}b\u{fffe}c\td"), "abc\td");
        assert!(!is_xml_illegal('\n'));
    }
}
