//! Entry text: HTML to plain text (entities decoded, tags stripped, whitespace collapsed), cuts at a
//! character, and sanitized HTML content with absolute links.

use std::sync::OnceLock;

use feed_rs::model::Text;
use url::Url;

use crate::text::{is_xml_illegal, strip_xml_illegal};

/// Text of a feed-rs `Text`: plain text stays as is, HTML is reduced to its text.
pub(super) fn text_of(t: &Text) -> String {
    html_to_text(&t.content)
}

/// HTML (or text that may carry entities and tags) → one line of plain text.
pub fn html_to_text(html: &str) -> String {
    // Without tags (and without NUL or a byte-order mark, which the HTML parser drops) the text needs
    // no parser.
    if !html.contains(['<', '&', '\0', '\u{feff}']) {
        return clean_text(html);
    }
    if !html.contains(['<', '\0', '\u{feff}'])
        && let Some(text) = decode_common_entities(html)
    {
        return clean_text(&text);
    }
    text_by_parser(html)
}

/// [`html_to_text`] through the HTML parser, which knows every entity and tag.
pub(super) fn text_by_parser(html: &str) -> String {
    static STRIPPER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    let stripper = STRIPPER.get_or_init(|| {
        let mut b = ammonia::Builder::empty();
        // Drop script/style bodies entirely instead of keeping their text.
        b.clean_content_tags(["script", "style", "template"].into_iter().collect());
        b
    });
    // ammonia parses with html5ever (every named entity decoded) and re-serializes the text escaped;
    // undo that escaping to get plain text.
    let escaped = stripper.clean(html).to_string();
    clean_text(
        &escaped
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&nbsp;", " ")
            .replace("&amp;", "&"),
    )
}

/// Text whose only markup is the XML entities and numeric character references, decoded; `None` when
/// it has any other entity (left to the HTML parser, which knows them all). An `&` not followed by a
/// letter, digit or `#` ("markets & banks", unlike "Q&A") cannot start a reference: it is text, as
/// HTML reads it.
pub(super) fn decode_common_entities(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 1..];
        if !tail
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'#')
        {
            out.push('&');
            rest = tail;
            continue;
        }
        let end = tail.find(';').filter(|e| *e <= 10)?;
        let name = &tail[..end];
        let c = match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            "nbsp" => ' ',
            _ => {
                let code = if let Some(hex) = name.strip_prefix("#x").or(name.strip_prefix("#X")) {
                    u32::from_str_radix(hex, 16).ok()?
                } else {
                    name.strip_prefix('#')?.parse().ok()?
                };
                // NUL and the C1 range (which HTML reads as Windows-1252: &#146; is ’) are left to
                // the parser.
                char::from_u32(code).filter(|c| *c != '\0' && !('\u{80}'..='\u{9f}').contains(c))?
            }
        };
        out.push(c);
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// The text of HTML as the sanitizer writes it (well-formed tags, only `&amp;`, `&lt;`, `&gt;`, `&quot;`
/// and `&nbsp;` escaped, no script or style): tags dropped, entities decoded, whitespace collapsed.
pub(super) fn text_of_clean_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        out.push_str(&rest[..at]);
        match rest[at..].find('>') {
            Some(end) => rest = &rest[at + end + 1..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    let text = if out.contains('&') {
        decode_common_entities(&out).unwrap_or_else(|| html_to_text(&out))
    } else {
        out
    };
    clean_text(&text)
}

/// Collapses whitespace and removes control characters.
pub fn clean_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split(|c: char| c.is_whitespace() || c.is_control()) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// At most `max` characters, cut at a word with an ellipsis.
pub fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((cut, _)) => {
            // Prefer a word boundary, then mark the cut.
            let head = &s[..cut];
            let head = head.rfind(' ').map_or(head, |sp| &head[..sp]);
            format!("{}…", head.trim_end())
        }
    }
}

/// Sanitizes HTML for republishing: ammonia's safe defaults, links made absolute against `base`.
pub fn sanitize_html(html: &str, base: &Url) -> String {
    // Plain text (no tag, no reference, none of the characters the parser rewrites: NUL, CR, a
    // byte-order mark) comes out of the sanitizer as itself with `>` and no-break spaces escaped.
    if !html.contains(['<', '&', '\0', '\r', '\u{feff}']) {
        let mut out = String::with_capacity(html.len() + 8);
        for c in html.chars() {
            match c {
                '>' => out.push_str("&gt;"),
                '\u{a0}' => out.push_str("&nbsp;"),
                c if is_xml_illegal(c) => {}
                c => out.push(c),
            }
        }
        return out;
    }
    sanitize_by_parser(html, base)
}

/// [`sanitize_html`] through ammonia.
pub(super) fn sanitize_by_parser(html: &str, base: &Url) -> String {
    thread_local! {
        // The document's base, read by the policy's URL rewriter during `clean`.
        static BASE: std::cell::RefCell<Option<Url>> = const { std::cell::RefCell::new(None) };
        // Building ammonia's default policy allocates its tag and attribute sets: once per thread.
        static CLEANER: ammonia::Builder<'static> = {
            let mut b = ammonia::Builder::default();
            b.url_relative(ammonia::UrlRelative::Custom(Box::new(absolute)));
            b.link_rel(Some("noopener noreferrer"));
            b
        };
    }
    /// A relative link made absolute against the document's base (`None` removes it).
    fn absolute(url: &str) -> Option<std::borrow::Cow<'_, str>> {
        BASE.with(|base| {
            base.borrow()
                .as_ref()
                .and_then(|b| b.join(url).ok())
                .map(|u| std::borrow::Cow::Owned(u.to_string()))
        })
    }
    BASE.with(|b| {
        let mut b = b.borrow_mut();
        if b.as_ref() != Some(base) {
            *b = Some(base.clone());
        }
    });
    CLEANER.with(|cleaner| strip_xml_illegal(&cleaner.clean(html).to_string()))
}
