//! What feed-rs leaves out of JSON Feed documents: each item's `image` (its main picture; `banner_image`
//! when it has none), added to the entry as a Media RSS thumbnail so normalize reads it with the rest.

use feed_rs::model::{Feed, FeedType, Image, MediaObject, MediaThumbnail};

/// Adds each JSON Feed item's picture to its entry. Items and entries are matched by document order;
/// when their counts differ (or the document does not parse as JSON here) nothing is added.
pub(super) fn with_json_images(mut feed: Feed, body: &[u8]) -> Feed {
    if feed.feed_type != FeedType::JSON || !super::contains(body, b"image") {
        return feed;
    }
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(body) else {
        return feed;
    };
    let Some(items) = doc.get("items").and_then(|v| v.as_array()) else {
        return feed;
    };
    if items.len() != feed.entries.len() {
        return feed;
    }
    for (item, entry) in items.iter().zip(&mut feed.entries) {
        let picture = ["image", "banner_image"]
            .into_iter()
            .find_map(|k| item.get(k).and_then(|v| v.as_str()))
            .map(str::trim)
            .filter(|u| !u.is_empty());
        if let Some(uri) = picture {
            let mut media = MediaObject::default();
            media.thumbnails.push(MediaThumbnail {
                image: Image {
                    uri: uri.to_string(),
                    title: None,
                    link: None,
                    width: None,
                    height: None,
                    description: None,
                },
                time: None,
            });
            entry.media.push(media);
        }
    }
    feed
}
