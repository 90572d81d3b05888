//! The domain types every stage shares: what a source's entry becomes ([`Item`], [`Enclosure`]), what is
//! known of its feed ([`FeedInfo`]) and what a fetch remembers for the next one ([`Validators`]).
//! Ingest produces them, the store keeps them, the taggers and renderers read them; this module imports
//! nothing of the crate.

use chrono::{DateTime, Utc};

/// One entry of one source, in syndic's own model.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Stable per-source key (hex).
    pub key: String,
    /// The entry's own id, if it had one.
    pub guid: Option<String>,
    /// Canonical absolute http(s) URL of the article.
    pub url: Option<String>,
    /// Plain text: entities decoded, tags stripped, whitespace collapsed. Empty only for a thin entry.
    pub title: String,
    /// Plain-text summary (from the summary, else the content), possibly empty.
    pub summary: String,
    /// Sanitized HTML content with absolute links.
    pub content_html: Option<String>,
    pub author: Option<String>,
    pub categories: Vec<String>,
    /// Media attached to the entry (podcast audio, images, video), at most [`MAX_ENCLOSURES`].
    pub enclosures: Vec<Enclosure>,
    /// The entry's picture, for a thumbnail: Media RSS `media:thumbnail`, an image `media:content` or
    /// enclosure, or JSON Feed `image` (an absolute http(s) URL; never fetched from the article page).
    pub image: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
}

impl Item {
    /// An entry of a key (also its id), a headline, a link and a publication time, and nothing else:
    /// what tools and tests that feed items to the store directly write.
    pub fn headline(
        key: &str,
        title: &str,
        url: Option<String>,
        published: Option<DateTime<Utc>>,
    ) -> Item {
        Item {
            key: key.into(),
            guid: Some(key.into()),
            url,
            title: title.into(),
            summary: String::new(),
            content_html: None,
            author: None,
            categories: vec![],
            enclosures: vec![],
            image: None,
            published,
            updated: None,
        }
    }

    /// An entry with no title, link or text (only an id, a date, an author...): its fields are read, but
    /// there is nothing to show a reader, so it is neither stored nor republished.
    pub fn is_thin(&self) -> bool {
        self.title.is_empty() && self.url.is_none()
    }
}

/// A media file attached to an entry: RSS `<enclosure>`, Media RSS `media:content`, Atom
/// `link rel="enclosure"`, JSON Feed `attachments`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Enclosure {
    /// Absolute http(s) URL, without credentials (query kept: media hosts often need it).
    pub url: String,
    /// MIME type, as given or guessed from the file name.
    pub mime_type: String,
    /// Size in bytes, when the feed says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
}

/// Most enclosures kept per entry.
pub const MAX_ENCLOSURES: usize = 8;

/// Metadata of the source feed itself.
#[derive(Debug, Clone, Default)]
pub struct FeedInfo {
    pub title: Option<String>,
    pub site_url: Option<String>,
    /// When the feed says it last changed.
    pub updated: Option<DateTime<Utc>>,
}

/// Cache validators remembered per source, sent back as `If-None-Match` / `If-Modified-Since`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}
