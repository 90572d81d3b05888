//! Any bytes as a fetched feed document: parse, normalize (with the default entry cap), store-free
//! republishing in every format. Refusing a document is fine; a panic, or an output that does not
//! parse back with the same entries, is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use syndic::config::DEFAULT_MAX_ENTRIES;
use syndic::eval::corpus::republish;
use syndic::ingest::normalize::normalize_limited;
use syndic::ingest::parse::parse_feed;

fuzz_target!(|data: &[u8]| {
    let base = url::Url::parse("http://fuzz.test/feeds/feed.xml").unwrap();
    if let Ok(feed) = parse_feed(data, Some(base.as_str()), None) {
        let (_, mut items, _) = normalize_limited(&feed, &base, DEFAULT_MAX_ENTRIES);
        items.retain(|i| !i.is_thin());
        if let Err(e) = republish(&items) {
            panic!("{e}");
        }
    }
});
