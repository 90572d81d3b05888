//! Transcoding to UTF-8: BOM, XML declaration, HTTP charset, UTF-8, else Windows-1252.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

/// The `charset` parameter of a `Content-Type` value.
pub fn charset_of(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches(['"', '\'']))
    })
}

/// The document as UTF-8 (an XML declaration, if any, rewritten to say so).
pub(super) fn to_utf8<'a>(body: &'a [u8], http_charset: Option<&str>) -> Cow<'a, [u8]> {
    if let Some((enc, bom_len)) = Encoding::for_bom(body) {
        return if enc == UTF_8 {
            Cow::Borrowed(&body[bom_len..])
        } else {
            Cow::Owned(decode_xml(&body[bom_len..], enc))
        };
    }
    // UTF-16 without a BOM still starts with "<?" in two-byte units.
    if body.starts_with(&[b'<', 0, b'?', 0]) {
        return Cow::Owned(decode_xml(body, UTF_16LE));
    }
    if body.starts_with(&[0, b'<', 0, b'?']) {
        return Cow::Owned(decode_xml(body, UTF_16BE));
    }
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    if body.get(start) != Some(&b'<') {
        return Cow::Borrowed(body); // JSON Feed (UTF-8 by spec) or not a feed at all
    }
    let declared = declared_encoding(&body[start..]);
    let label = declared.as_deref().or(http_charset);
    let enc = label.and_then(|l| Encoding::for_label(l.as_bytes()));
    match enc {
        Some(enc) if enc == UTF_8 || (enc == UTF_16LE || enc == UTF_16BE) => {
            // A UTF-16 label on an ASCII-looking document is a lie; read it as UTF-8 (or 1252 below).
            utf8_or_1252(body)
        }
        Some(enc) => Cow::Owned(decode_xml(body, enc)),
        None => utf8_or_1252(body),
    }
}

pub(super) fn utf8_or_1252(body: &[u8]) -> Cow<'_, [u8]> {
    if std::str::from_utf8(body).is_ok() {
        Cow::Borrowed(body)
    } else {
        Cow::Owned(decode_xml(body, WINDOWS_1252))
    }
}

/// Decodes with `enc` (invalid sequences become U+FFFD) and relabels the XML declaration as UTF-8.
pub(super) fn decode_xml(body: &[u8], enc: &'static Encoding) -> Vec<u8> {
    let (text, _) = enc.decode_without_bom_handling(body);
    relabel_utf8(&text).into_bytes()
}

/// The `encoding` of a leading `<?xml …?>` declaration.
pub(super) fn declared_encoding(doc: &[u8]) -> Option<String> {
    let head = &doc[..doc.len().min(512)];
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = String::from_utf8_lossy(&head[..end]);
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &rest[1..];
    Some(value[..value.find(quote)?].trim().to_string())
}

pub(super) fn relabel_utf8(text: &str) -> String {
    let trimmed = text.trim_start();
    if trimmed.starts_with("<?xml")
        && let Some(end) = trimmed.find("?>")
    {
        let decl = &trimmed[..end];
        if let Some(at) = decl.find("encoding") {
            let after = &decl[at..];
            // encoding = "label" → drop it: without one, XML means UTF-8.
            let len = after
                .char_indices()
                .filter(|(_, c)| *c == '"' || *c == '\'')
                .nth(1)
                .map_or(after.len(), |(i, _)| i + 1);
            let mut out = String::with_capacity(text.len());
            out.push_str(&trimmed[..at]);
            out.push_str(&trimmed[at + len..]);
            return out;
        }
    }
    text.to_string()
}
