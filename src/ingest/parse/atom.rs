//! Atom dialects feed-rs misreads, rewritten before parsing: Atom 0.3 as 1.0, and text constructs
//! it refuses (base64, odd or empty `type`).

use super::contains;

pub(super) const ATOM_03: &str = "http://purl.org/atom/ns#";

/// An Atom 0.3 document rewritten as Atom 1.0, which feed-rs reads (it ignores elements in the 0.3
/// namespace, so 0.3 feeds came out empty): the namespace, the renamed elements (`issued` →
/// `published`, `modified` → `updated`, `tagline` → `subtitle`, `copyright` → `rights`) and text
/// constructs' MIME types (`text/html` → `html`, `application/xhtml+xml` → `xhtml`, `text/plain` →
/// `text`; `mode="escaped"` is what 1.0's `html` means). `None` when it is not Atom 0.3.
pub(super) fn atom03_to_10(body: &[u8]) -> Option<Vec<u8>> {
    use std::sync::OnceLock;
    static TAGS: OnceLock<(regex::Regex, regex::Regex)> = OnceLock::new();
    let declared = contains(body, ATOM_03.as_bytes());
    let draft = contains(body, b"<feed") && contains(body, b"version=");
    if !(declared || draft) {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    // A `<feed version="0.x">` in some other namespace (pre-0.3 drafts called it echo, pie, necho) is
    // Atom 0.3 too: its namespace becomes 0.3's, then the rewrite below applies.
    let owned;
    let text = if declared {
        text
    } else {
        owned = draft_atom_namespace(text)?;
        owned.as_str()
    };
    let (renamed, text_constructs) =
        TAGS.get_or_init(|| {
            (
            regex::Regex::new(r"<(/?)((?:[A-Za-z_][\w.-]*:)?)(issued|modified|tagline|copyright)\b")
                .expect("valid"),
            regex::Regex::new(
                r"<((?:[A-Za-z_][\w.-]*:)?)(title|subtitle|summary|content|rights|info)(\s[^>]*)>",
            )
            .expect("valid"),
        )
        });
    let text = text.replace(ATOM_03, "http://www.w3.org/2005/Atom");
    let text = renamed.replace_all(&text, |c: &regex::Captures<'_>| {
        let new = match &c[3] {
            "issued" => "published",
            "modified" => "updated",
            "tagline" => "subtitle",
            _ => "rights",
        };
        format!("<{}{}{new}", &c[1], &c[2])
    });
    let text = text_constructs.replace_all(&text, |c: &regex::Captures<'_>| {
        let attrs = c[3]
            .replace("type=\"text/html\"", "type=\"html\"")
            .replace("type='text/html'", "type='html'")
            .replace("type=\"application/xhtml+xml\"", "type=\"xhtml\"")
            .replace("type='application/xhtml+xml'", "type='xhtml'")
            .replace("type=\"text/plain\"", "type=\"text\"")
            .replace("type='text/plain'", "type='text'")
            .replace("mode=\"escaped\"", "")
            .replace("mode='escaped'", "");
        format!("<{}{}{attrs}>", &c[1], &c[2])
    });
    Some(text.into_owned().into_bytes())
}

/// A document whose root is `<feed version="0.x" xmlns="...">` (not Atom 1.0) with its default
/// namespace replaced by Atom 0.3's; `None` for any other document.
pub(super) fn draft_atom_namespace(text: &str) -> Option<String> {
    use std::sync::OnceLock;
    static ROOT: OnceLock<regex::Regex> = OnceLock::new();
    let root = ROOT.get_or_init(|| {
        regex::Regex::new(
            r#"^(\s*(?:<!--(?s:.*?)-->\s*|<\?(?s:.*?)\?>\s*|<!DOCTYPE[^>]*>\s*)*)<feed(\s[^>]*)>"#,
        )
        .expect("valid")
    });
    let c = root.captures(text)?;
    let attrs = &c[2];
    static VERSION: OnceLock<(regex::Regex, regex::Regex)> = OnceLock::new();
    let (version, xmlns) = VERSION.get_or_init(|| {
        (
            regex::Regex::new(r#"\sversion\s*=\s*["']0\.\d["']"#).expect("valid"),
            regex::Regex::new(r#"\sxmlns\s*=\s*("[^"]*"|'[^']*')"#).expect("valid"),
        )
    });
    if !version.is_match(attrs) || attrs.contains("http://www.w3.org/2005/Atom") {
        return None;
    }
    let new_attrs = if xmlns.is_match(attrs) {
        xmlns
            .replace(attrs, format!(" xmlns=\"{ATOM_03}\""))
            .into_owned()
    } else {
        format!("{attrs} xmlns=\"{ATOM_03}\"")
    };
    let whole = c.get(0).expect("the match");
    Some(format!(
        "{}<feed{new_attrs}>{}",
        &c[1],
        &text[whole.end()..]
    ))
}

/// Atom text constructs feed-rs refuses or misreads, rewritten: base64 text (0.3 `mode="base64"`, or a
/// 1.0 `type` that is neither text, HTML nor XML, such as `application/octet-stream`) decoded into
/// escaped HTML; an empty `type` dropped; and in Atom 0.3, inline markup with no type (what 0.3 calls
/// `mode="xml"`) kept as HTML instead of being cut at its first tag. `None` when nothing changes.
pub(super) fn atom_text_fixes(body: &[u8], atom03: bool) -> Option<Vec<u8>> {
    use base64::Engine as _;
    use std::sync::OnceLock;
    static CONSTRUCT: OnceLock<(regex::Regex, regex::Regex)> = OnceLock::new();
    let suspect = [&b"base64"[..], b"type=\"\"", b"type=''", b"/octet-stream"]
        .iter()
        .any(|needle| contains(body, needle));
    if !suspect && !atom03 {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    let (construct, type_attr) = CONSTRUCT.get_or_init(|| {
        (
            regex::Regex::new(
                r"(?s)<((?:[A-Za-z_][\w.-]*:)?)(title|subtitle|summary|content|rights)(\s[^>]*)?>(.*?)</((?:[A-Za-z_][\w.-]*:)?)(title|subtitle|summary|content|rights)\s*>",
            )
            .expect("valid"),
            regex::Regex::new(r#"\stype\s*=\s*(?:"([^"]*)"|'([^']*)')"#).expect("valid"),
        )
    });
    let mut changed = false;
    let out = construct.replace_all(text, |c: &regex::Captures<'_>| {
        let whole = c[0].to_string();
        if c[1] != c[5] || c[2] != c[6] {
            return whole;
        }
        let (prefix, name) = (&c[1], &c[2]);
        let attrs = c.get(3).map_or("", |m| m.as_str());
        let inner = &c[4];
        let mime = type_attr.captures(attrs).map(|t| {
            t.get(1)
                .or(t.get(2))
                .map_or("", |m| m.as_str())
                .trim()
                .to_ascii_lowercase()
        });
        let base64_mode = attrs.contains("mode=\"base64\"") || attrs.contains("mode='base64'");
        let binary = mime.as_deref().is_some_and(|m| {
            !m.is_empty()
                && !matches!(m, "text" | "html" | "xhtml")
                && !m.starts_with("text/")
                && !m.ends_with("+xml")
                && !m.ends_with("/xml")
        });
        let element = |body: &str| {
            let escaped = body
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            format!("<{prefix}{name} type=\"html\">{escaped}</{prefix}{name}>")
        };
        if base64_mode || binary {
            let compact: String = inner.split_whitespace().collect();
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(compact.as_bytes())
                && let Ok(decoded) = String::from_utf8(bytes)
            {
                changed = true;
                return element(&decoded);
            }
            return whole;
        }
        if mime.as_deref() == Some("") {
            changed = true;
            let attrs = type_attr.replace(attrs, "");
            return format!("<{prefix}{name}{attrs}>{inner}</{prefix}{name}>");
        }
        if atom03
            && mime.is_none()
            && !attrs.contains("mode=")
            && inner.contains('<')
            && !inner.contains("<![CDATA[")
        {
            changed = true;
            return element(inner);
        }
        whole
    });
    changed.then(|| out.into_owned().into_bytes())
}
