//! An entry's media (enclosures, Media RSS, Atom enclosure links, JSON Feed attachments) with MIME types.

use feed_rs::model::Entry;
use url::Url;

use crate::model::{Enclosure, MAX_ENCLOSURES};

use super::URL_BYTES;
use super::html::clean_text;
use super::urls::http_url;

/// The entry's media: Media RSS objects (which is how feed-rs reads RSS `<enclosure>`, `media:content`
/// and JSON Feed attachments), their thumbnails when an object has no content, and Atom
/// `link rel="enclosure"`; each URL once.
pub(super) fn enclosures(entry: &Entry, base: &Url) -> Vec<Enclosure> {
    let mut out: Vec<Enclosure> = Vec::new();
    let mut add = |href: &str, mime: Option<String>, length: Option<u64>| {
        if out.len() >= MAX_ENCLOSURES {
            return;
        }
        let Some(url) = media_url(href, base) else {
            return;
        };
        let length = length.filter(|n| *n > 0);
        if let Some(known) = out.iter_mut().find(|e| e.url == url) {
            // The same file twice (an enclosure and its media:content): keep what either says.
            known.length = known.length.or(length);
            return;
        }
        let mime_type = mime
            .map(|m| clean_text(&m).to_ascii_lowercase())
            .filter(|m| is_mime(m))
            .unwrap_or_else(|| guess_mime(&url).to_string());
        out.push(Enclosure {
            url,
            mime_type,
            length,
        });
    };
    for m in &entry.media {
        for c in &m.content {
            if let Some(u) = &c.url {
                add(
                    u.as_str(),
                    c.content_type.as_ref().map(|t| t.to_string()),
                    c.size,
                );
            }
        }
        if m.content.is_empty() {
            for t in &m.thumbnails {
                add(&t.image.uri, None, None);
            }
        }
    }
    for l in &entry.links {
        if l.rel.as_deref() == Some("enclosure") {
            add(&l.href, l.media_type.clone(), l.length);
        }
    }
    // Audio and video first: RSS carries one enclosure, and a podcast's is its episode, not an image.
    out.sort_by_key(|e| !(e.mime_type.starts_with("audio/") || e.mime_type.starts_with("video/")));
    out
}

/// The entry's picture, for a thumbnail: its first Media RSS thumbnail (of any media object; JSON Feed
/// `image` arrives as one, see `parse::json`), else its first image among `enclosures` (an image
/// `media:content` or enclosure).
pub(super) fn image(entry: &Entry, base: &Url, enclosures: &[Enclosure]) -> Option<String> {
    entry
        .media
        .iter()
        .flat_map(|m| &m.thumbnails)
        .find_map(|t| media_url(&t.image.uri, base))
        .or_else(|| {
            enclosures
                .iter()
                .find(|e| e.mime_type.starts_with("image/"))
                .map(|e| e.url.clone())
        })
}

/// An absolute http(s) media URL without credentials or fragment (its query kept: media hosts often
/// need it).
pub(super) fn media_url(href: &str, base: &Url) -> Option<String> {
    Some(http_url(href, Some(base))?.to_string()).filter(|u| u.len() <= URL_BYTES)
}

/// `type/subtype`, in the characters MIME allows.
pub(super) fn is_mime(m: &str) -> bool {
    let ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 127
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    matches!(m.split_once('/'), Some((a, b)) if ok(a) && ok(b))
}

/// A MIME type from a media URL's file extension (what podcast apps need when a feed leaves it out).
pub(super) fn guess_mime(url: &str) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let ext = path
        .rsplit('/')
        .next()
        .and_then(|f| f.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "mp3" => "audio/mpeg",
        "m4a" | "aac" => "audio/mp4",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "wav" => "audio/wav",
        "mp4" | "m4v" => "video/mp4",
        "webm" => "video/webm",
        "mov" => "video/quicktime",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}
