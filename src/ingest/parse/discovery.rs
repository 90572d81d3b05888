//! What a document says beyond its entries: the polling hint (`<ttl>`, `sy:updatePeriod`), and for an
//! HTML page, whether it is one and which feeds it announces.

/// How often the feed asks to be polled: RSS `<ttl>` (minutes, from feed-rs), else the syndication
/// module's `<sy:updatePeriod>` (hourly, daily, weekly, monthly, yearly) divided by
/// `<sy:updateFrequency>` (any namespace prefix). `None` without either.
pub fn feed_hint(body: &[u8], ttl_minutes: Option<u32>) -> Option<std::time::Duration> {
    if let Some(ttl) = ttl_minutes.filter(|t| *t > 0) {
        return Some(std::time::Duration::from_secs(u64::from(ttl) * 60));
    }
    // The channel's hints come before its items; do not scan a whole large document.
    let head = &body[..body.len().min(64 * 1024)];
    let text = String::from_utf8_lossy(head);
    let period = element_text(&text, "updatePeriod")?;
    let secs: u64 = match period.trim().to_ascii_lowercase().as_str() {
        "hourly" => 3600,
        "daily" => 86_400,
        "weekly" => 7 * 86_400,
        "monthly" => 30 * 86_400,
        "yearly" => 365 * 86_400,
        _ => return None,
    };
    let frequency = element_text(&text, "updateFrequency")
        .and_then(|f| f.trim().parse::<u64>().ok())
        .filter(|f| *f > 0)
        .unwrap_or(1);
    Some(std::time::Duration::from_secs(secs / frequency))
}

/// The text of the first element with this local name (any prefix), e.g. `<sy:updatePeriod>`.
pub(super) fn element_text<'a>(doc: &'a str, local: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(at) = doc[from..].find(local) {
        let start = from + at;
        from = start + local.len();
        // Preceded by "<" or "<prefix:", followed by ">" (attributes are not expected here).
        let before = &doc[..start];
        let Some(lt) = before.rfind('<') else {
            continue;
        };
        let prefix = &before[lt + 1..];
        if !(prefix.is_empty() || prefix.ends_with(':') && !prefix.contains(char::is_whitespace)) {
            continue;
        }
        let rest = &doc[from..];
        let Some(body) = rest.strip_prefix('>') else {
            continue;
        };
        return body.find('<').map(|end| &body[..end]);
    }
    None
}

/// Whether a body that failed to parse is an HTML page.
pub fn looks_like_html(body: &[u8], content_type: Option<&str>) -> bool {
    if content_type.is_some_and(|c| c.to_ascii_lowercase().contains("text/html")) {
        return true;
    }
    let head = String::from_utf8_lossy(&body[..body.len().min(1024)]).to_ascii_lowercase();
    let head = head.trim_start_matches('\u{feff}').trim_start();
    head.starts_with("<!doctype html") || head.starts_with("<html") || head.contains("<head")
}

/// The feeds an HTML page announces: `<link rel="alternate" type="application/rss+xml">` (or Atom, or
/// JSON Feed) with an `href`, resolved against the page's URL, in page order, each once.
pub fn announced_feeds(html: &[u8], base: &url::Url) -> Vec<url::Url> {
    let text = String::from_utf8_lossy(html);
    let lower = text.to_ascii_lowercase();
    let mut out: Vec<url::Url> = Vec::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find("<link") {
        let start = from + at + "<link".len();
        let end = lower[start..].find('>').map_or(lower.len(), |e| start + e);
        from = end;
        let attrs = parse_attrs(&text[start..end]);
        let get = |name: &str| {
            attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let rel_alternate = get("rel").is_some_and(|r| {
            r.split_ascii_whitespace()
                .any(|w| w.eq_ignore_ascii_case("alternate"))
        });
        let feed_type = get("type").is_some_and(|t| {
            let t = t.trim().to_ascii_lowercase();
            t.starts_with("application/rss+xml")
                || t.starts_with("application/atom+xml")
                || t.starts_with("application/feed+json")
        });
        if !(rel_alternate && feed_type) {
            continue;
        }
        let Some(href) = get("href").map(|h| h.trim()).filter(|h| !h.is_empty()) else {
            continue;
        };
        if let Ok(u) = base.join(&decode_entities(href))
            && !out.contains(&u)
        {
            out.push(u);
        }
    }
    out
}

/// `name="value"`, `name='value'` and `name=value` pairs of a tag's attribute text.
pub(super) fn parse_attrs(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = tag;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        let Some(eq) = rest.find('=') else {
            break;
        };
        let name = rest[..eq].trim();
        let name = name.rsplit(char::is_whitespace).next().unwrap_or(name);
        let after = rest[eq + 1..].trim_start();
        let (value, next) = match after.chars().next() {
            Some(q @ ('"' | '\'')) => match after[1..].find(q) {
                Some(end) => (&after[1..1 + end], &after[end + 2..]),
                None => (&after[1..], ""),
            },
            _ => {
                let end = after.find(char::is_whitespace).unwrap_or(after.len());
                (&after[..end], &after[end..])
            }
        };
        out.push((name.to_string(), value.to_string()));
        rest = next;
    }
    out
}

pub(super) fn decode_entities(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&#38;", "&")
        .replace("&quot;", "\"")
}
