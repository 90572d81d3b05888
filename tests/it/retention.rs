//! Retention over a simulated year of churn: stories older than keep_days go, their items' tombstones
//! keep a source that still lists them from bringing them back, and the database file stops growing.

use chrono::{DateTime, Duration, Utc};
use syndic::config::{SourceConfig, Tagging};
use syndic::model::Item;
use syndic::store::{FetchRecord, RefreshInput, Store};
use syndic::tag::rules::Tagger;

fn item(n: u64, at: DateTime<Utc>) -> Item {
    Item {
        key: format!("entry-{n}"),
        guid: Some(format!("entry-{n}")),
        url: Some(format!("https://churn.example/{n}")),
        title: format!("Churn story number {n} about district {}", n * 7919 % 1000),
        summary: format!("Summary of story {n}, with enough words to take some room in the pages."),
        content_html: Some(format!("<p>Body of story {n}. {}</p>", "Text. ".repeat(40))),
        author: None,
        categories: vec![],
        enclosures: vec![],
        image: None,
        published: Some(at),
        updated: None,
    }
}

#[test]
fn a_year_of_churn_keeps_the_file_flat_and_deleted_entries_gone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("churn.db")).unwrap();
    let source = SourceConfig {
        name: "Churn".into(),
        url: url::Url::parse("http://churn.example/feed").unwrap(),
        sections: vec![],
        schedule: None,
        dedupe: false,
        tagging: Tagging::Both,
    };
    let id = store.sync_sources(std::slice::from_ref(&source)).unwrap()["Churn"];
    let tagger = std::sync::Arc::new(Tagger::new(&[], std::slice::from_ref(&source)));
    let t0: DateTime<Utc> = "2026-01-01T06:00:00Z".parse().unwrap();
    let (keep, tombstones_for, per_day, listed) =
        (Duration::days(30), Duration::days(7), 40u64, 80u64);
    let mut sizes = Vec::new();
    for day in 0..365i64 {
        let now = t0 + Duration::days(day);
        // The feed lists its newest `listed` entries: each entry is listed for two days.
        let newest = (day as u64 + 1) * per_day;
        let mut items: Vec<Item> = (newest.saturating_sub(listed)..newest)
            .rev()
            .map(|n| item(n, now))
            .collect();
        if day == 200 {
            // The source lists again an entry deleted two days ago: its tombstone keeps it out.
            items.push(item((day as u64 - 33) * per_day, now));
        }
        store
            .apply_refresh(&RefreshInput {
                source_id: id,
                items: items.clone(),
                now,
                window: Duration::hours(72),
                threshold: 0.5,
                decay_hours: 24.0,
                title_dedupe: false,
                similarity: true,
                veto: Default::default(),
                tagger: tagger.clone(),
                fetch: FetchRecord::ok(now),
            })
            .unwrap();
        while store
            .prune(now - keep, now - tombstones_for, now, 500)
            .unwrap()
            .stories
            == 500
        {}
        if day == 200 {
            let (items_now, _) = store.counts().unwrap();
            assert!(
                store
                    .story_of_item(id, &format!("entry-{}", (day as u64 - 33) * per_day))
                    .unwrap()
                    .is_none(),
                "a tombstoned entry came back"
            );
            assert!(items_now > 0);
        }
        if day % 30 == 29 {
            sizes.push(store.file_bytes().unwrap());
        }
    }
    let (items, stories) = store.counts().unwrap();
    // About keep_days of entries remain: 30 days × 40, plus the day in progress.
    assert!(
        (30 * per_day as i64..=32 * per_day as i64).contains(&stories),
        "{stories} stories, {items} items"
    );
    let tombstones = store.tombstones().unwrap();
    assert!(tombstones <= 8 * per_day as i64, "{tombstones} tombstones");
    // Flat: after the first two months, the file grows by less than a tenth.
    let (early, late) = (sizes[2], *sizes.last().unwrap());
    eprintln!(
        "retention: file size by month {:?} KiB; {stories} stories, {items} items, {tombstones} tombstones",
        sizes.iter().map(|b| b / 1024).collect::<Vec<_>>()
    );
    assert!(
        late <= early + early / 10,
        "grew from {early} to {late} bytes"
    );
}
