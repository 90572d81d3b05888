//! RSS 0.90 and 1.0 (RDF) documents made readable by feed-rs.

use std::borrow::Cow;

use super::contains;

pub(super) const RSS_090: &str = "http://my.netscape.com/rdf/simple/0.9/";

pub(super) const RSS_10: &str = "http://purl.org/rss/1.0/";

/// The link given to RSS 1.0 items that have none (see [`rdf_fixes`]); not http, so normalize ignores it.
pub(super) const NO_LINK: &str = "urn:syndic:no-link";

/// RSS 0.90 and 1.0 (RDF) documents as feed-rs reads them: 0.90's namespace becomes 1.0's (feed-rs knows
/// only 1.0), and an `<item>` without `<link>` gets one (its `rdf:about`, else a placeholder), because
/// feed-rs drops linkless items whole. `None` when nothing changes.
pub(super) fn rdf_fixes(body: &[u8]) -> Option<Vec<u8>> {
    use std::sync::OnceLock;
    static ITEM: OnceLock<(regex::Regex, regex::Regex, regex::Regex)> = OnceLock::new();
    let has = |needle: &str| contains(body, needle.as_bytes());
    let rss090 = has(RSS_090);
    let rss10 = has(&format!("\"{RSS_10}\"")) || has(&format!("'{RSS_10}'"));
    if !(rss090 || rss10) || !has("22-rdf-syntax-ns#") {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    let text: Cow<'_, str> = if rss090 {
        Cow::Owned(text.replace(RSS_090, RSS_10))
    } else {
        Cow::Borrowed(text)
    };
    let (item, link, about) = ITEM.get_or_init(|| {
        (
            regex::Regex::new(r"(?s)<((?:[A-Za-z_][\w.-]*:)?)item(\s[^>]*)?>(.*?)</((?:[A-Za-z_][\w.-]*:)?)item\s*>")
                .expect("valid"),
            regex::Regex::new(r"<(?:[A-Za-z_][\w.-]*:)?link[\s>/]").expect("valid"),
            regex::Regex::new(r#"\s(?:[A-Za-z_][\w.-]*:)?about\s*=\s*(?:"([^"]*)"|'([^']*)')"#)
                .expect("valid"),
        )
    });
    let linkless = |c: &regex::Captures<'_>| c[1] == c[4] && !link.is_match(&c[3]);
    // Most RSS 1.0 documents have a link in every item: find that out without captures (an item's
    // tags cannot hold a `<link`, so the whole match has one exactly when its content does).
    if !rss090
        && !item
            .find_iter(&text)
            .filter(|m| !link.is_match(m.as_str()))
            .any(|m| item.captures(m.as_str()).is_some_and(|c| linkless(&c)))
    {
        return None;
    }
    let mut changed = rss090;
    let out = item.replace_all(&text, |c: &regex::Captures<'_>| {
        if !linkless(c) {
            return c[0].to_string();
        }
        changed = true;
        let attrs = c.get(2).map_or("", |m| m.as_str());
        let target = about
            .captures(attrs)
            .and_then(|a| a.get(1).or(a.get(2)))
            .map_or(NO_LINK.to_string(), |m| m.as_str().to_string());
        format!(
            "<{p}item{attrs}><{p}link>{target}</{p}link>{}</{p}item>",
            &c[3],
            p = &c[1]
        )
    });
    changed.then(|| out.into_owned().into_bytes())
}
