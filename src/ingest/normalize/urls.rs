//! Canonical article URLs: absolute http(s), no credentials, no fragment, no tracking parameters.

use url::Url;

use super::URL_BYTES;

/// Query parameters that only track the reader; removed from canonical URLs.
pub(super) const TRACKING_PARAMS: &[&str] = &["fbclid", "gclid", "mc_cid", "mc_eid"];

/// `href` as an absolute http(s) URL (resolved against `base`), without credentials (a leak, never
/// part of an address) or fragment.
pub(super) fn http_url(href: &str, base: Option<&Url>) -> Option<Url> {
    let href = href.trim();
    if href.is_empty() {
        return None;
    }
    let mut url = match base {
        Some(b) => b.join(href).ok()?,
        None => Url::parse(href).ok()?,
    };
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_fragment(None);
    Some(url)
}

/// Canonical form of an article URL: absolute http(s), lower-case scheme and host (the `url` crate does
/// that and drops default ports), no fragment, no tracking parameters.
pub fn canonical_url(href: &str, base: Option<&Url>) -> Option<String> {
    let mut url = http_url(href, base)?;
    if url.query().is_some() {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| {
                let k = k.to_ascii_lowercase();
                !k.starts_with("utm_") && !TRACKING_PARAMS.contains(&k.as_str())
            })
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    Some(url.to_string()).filter(|u| u.len() <= URL_BYTES)
}
