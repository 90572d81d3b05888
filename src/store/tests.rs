use super::*;

#[test]
fn a_background_thread_checkpoints_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let store = Store::open(&path).unwrap();
    {
        let conn = store.lock().unwrap();
        conn.execute_batch("CREATE TABLE filler (x TEXT)").unwrap();
        // About 3,000 pages in 30 commits: the log crosses CHECKPOINT_FRAMES several times.
        for _ in 0..30 {
            conn.execute_batch(
                "BEGIN; INSERT INTO filler SELECT printf('%.3000c', 'x') FROM
                   (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
                    SELECT i FROM n); COMMIT;",
            )
            .unwrap();
        }
    }
    // The thread runs on its own; give it ample time on a slow machine.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while store.background_checkpoints() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(store.background_checkpoints() > 0);
    // The copied pages are in the database file itself.
    let on_disk = std::fs::metadata(&path).unwrap().len();
    assert!(on_disk > 1000 * 4096, "database file is {on_disk} bytes");
    let rows: i64 = store
        .lock()
        .unwrap()
        .query_row("SELECT COUNT(*) FROM filler", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 3000);
}

#[test]
fn fingerprints_of_an_older_normalization_are_recomputed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fp.db");
    Store::open(&path).unwrap();
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "INSERT INTO sources (id, name, url) VALUES (1, 'a', 'http://a.invalid/');
             INSERT INTO stories (id, uid, first_seen, published, updated) VALUES (1, 'u', 0, 0, 0);
             INSERT INTO items (source_id, key, story_id, title, title_fp, summary, first_seen,
                 changed_at, fp_version)
             VALUES (1, 'k1', 1, 'UPDATE 2-Mt. Gox files for bankruptcy - Reuters', 'stale', '', 0, 0, 0),
                    (1, 'k2', 1, 'Quake hits northern Japan coast', '', '', 0, 0, 0);
             UPDATE meta SET value = 0 WHERE key = 'fingerprint_version';",
        )
        .unwrap();
    }
    Store::open(&path).unwrap();
    let conn = Connection::open(&path).unwrap();
    let rows: Vec<(String, i64)> = conn
        .prepare("SELECT title_fp, fp_version FROM items ORDER BY key")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let v = crate::dedupe::FINGERPRINT_VERSION;
    assert_eq!(
        rows,
        vec![
            (
                crate::dedupe::title_fingerprint("Mt. Gox files for bankruptcy"),
                v
            ),
            // Stored without a fingerprint (dedupe off, or too short): stays without one.
            (String::new(), v),
        ]
    );
}

#[test]
fn a_version_6_database_gains_event_spans_and_keeps_every_story() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v6.db");
    {
        let mut conn = Connection::open(&path).unwrap();
        for sql in &MIGRATIONS[..6] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 6).unwrap();
        let tx = conn.transaction().unwrap();
        // A story of two items (one dated, one with a date after it was first seen), and a story
        // stored with similarity off (no representative).
        tx.execute_batch(
            "INSERT INTO sources (id, name, url) VALUES (1, 'a', 'http://a.invalid/'),
                                                       (2, 'b', 'http://b.invalid/');
             INSERT INTO stories (id, uid, first_seen, published, updated)
                 VALUES (1, 'u1', 1700000000000, 1699990000000, 1700000000000),
                        (2, 'u2', 1700000500000, 1700000500000, 1700000500000);
             INSERT INTO items (source_id, key, story_id, title, title_fp, summary, published,
                 first_seen, changed_at, title_rep, match_reason)
             VALUES (1, 'k1', 1, 'Quake hits northern Japan coast',
                     'quake hits northern japan coast', '', 1699990000000, 1700000000000,
                     1700000000000, 1, 'new'),
                    (2, 'k2', 1, 'Quake shakes northern Japan coast', 'quake shakes northern japan coast',
                     '', 1800000000000, 1700000100000, 1700000100000, 0, 'similar'),
                    (2, 'k3', 2, 'Central bank holds rates steady', 'central bank holds rates steady',
                     '', NULL, 1700000500000, 1700000500000, 0, 'new');",
        )
        .unwrap();
        tx.commit().unwrap();
    }
    Store::open(&path).unwrap();
    let conn = Connection::open(&path).unwrap();
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, MIGRATIONS.len() as i64);
    let spans: Vec<(i64, i64, i64)> = conn
        .prepare("SELECT id, event_lo, event_hi FROM stories ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // The dated item counts at its date; one dated after it was first seen counts when first seen.
    assert_eq!(
        spans,
        vec![
            (1, 1699990000000, 1700000100000),
            (2, 1700000500000, 1700000500000)
        ]
    );
    let reps: i64 = conn
        .query_row("SELECT title_rep FROM items WHERE key = 'k3'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(
        reps, 1,
        "a story without a representative gets its first item"
    );
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

#[test]
fn an_unknown_stored_join_reason_is_a_clear_error_not_a_guess() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let store = Store::open(&path).unwrap();
    {
        let conn = store.lock().unwrap();
        conn.execute_batch(
            "INSERT INTO sources (id, name, url) VALUES (1, 'a', 'http://a.invalid/');
             INSERT INTO stories (id, uid, first_seen, published, updated) VALUES (1, 'u', 0, 0, 0);
             INSERT INTO items (source_id, key, story_id, title, title_fp, summary, first_seen,
                 changed_at, match_reason)
             VALUES (1, 'k1', 1, 'A', '', '', 0, 0, 'new'),
                    (1, 'k2', 1, 'B', '', '', 0, 0, 'url');",
        )
        .unwrap();
    }
    let stories = store.stories(None, 10).unwrap();
    assert_eq!(stories[0].items[0].joined, None);
    assert_eq!(
        stories[0].items[1].joined.as_ref().map(|j| j.reason),
        Some(JoinReason::Url)
    );
    store
        .lock()
        .unwrap()
        .execute_batch("UPDATE items SET match_reason = 'telepathy' WHERE key = 'k2'")
        .unwrap();
    let err = store.stories(None, 10).unwrap_err().to_string();
    assert!(
        err.contains("unknown value \"telepathy\" in items.match_reason"),
        "{err}"
    );
}

#[test]
fn section_origins_and_refusals_are_typed_and_an_unknown_one_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("o.db")).unwrap();
    store
        .lock()
        .unwrap()
        .execute_batch(
            "INSERT INTO sources (id, name, url) VALUES (1, 'a', 'http://a.invalid/');
             INSERT INTO stories (id, uid, first_seen, published, updated) VALUES (1, 'u', 0, 0, 0);
             INSERT INTO items (source_id, key, story_id, title, title_fp, summary, first_seen,
                 changed_at, match_reason, miss_reason)
             VALUES (1, 'k1', 1, 'A', '', '', 0, 0, 'new', 'different places: chile / japan');
             INSERT INTO story_sections (story_id, section, origin)
             VALUES (1, 'asia', 'keyword:tokyo'), (1, 'world', 'learned:0.93');",
        )
        .unwrap();
    let story = &store.stories(None, 10).unwrap()[0];
    assert_eq!(
        story.section_origins,
        vec![
            crate::tag::rules::Origin::Keyword("tokyo".into()),
            crate::tag::rules::Origin::Learned("0.93".into())
        ]
    );
    let refused = story.items[0].refused.as_ref().unwrap();
    assert_eq!(refused.reason.kind, crate::dedupe::VetoKind::Places);
    assert_eq!(
        refused.reason.to_string(),
        "different places: chile / japan"
    );
    let json = serde_json::to_value(story).unwrap();
    assert_eq!(json["section_origins"][0], "keyword:tokyo");
    assert_eq!(
        json["items"][0]["refused"]["reason"],
        "different places: chile / japan"
    );

    store
        .lock()
        .unwrap()
        .execute_batch("UPDATE story_sections SET origin = 'oracle:x' WHERE section = 'asia'")
        .unwrap();
    let err = store.stories(None, 10).unwrap_err().to_string();
    assert!(
        err.contains("unknown value \"oracle:x\" in story_sections.origin"),
        "{err}"
    );
    store
        .lock()
        .unwrap()
        .execute_batch(
            "UPDATE story_sections SET origin = 'keyword:tokyo' WHERE section = 'asia';
             UPDATE items SET miss_reason = 'bad vibes' WHERE key = 'k1'",
        )
        .unwrap();
    let err = store.stories(None, 10).unwrap_err().to_string();
    assert!(
        err.contains("unknown value \"bad vibes\" in items.miss_reason"),
        "{err}"
    );
}

#[test]
fn fetch_statuses_are_typed_and_an_unknown_one_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.db")).unwrap();
    store
        .lock()
        .unwrap()
        .execute_batch(
            "INSERT INTO sources (id, name, url, last_status) VALUES
                 (1, 'a', 'http://a.invalid/', 'not-modified'), (2, 'b', 'http://b.invalid/', NULL);",
        )
        .unwrap();
    let health = store.source_health().unwrap();
    assert_eq!(health[0].status, Some(FetchStatus::NotModified));
    assert_eq!(
        (health[1].status, health[1].state),
        (None, HealthState::New)
    );
    assert_eq!(
        serde_json::to_value(&health[0]).unwrap()["status"],
        "not-modified"
    );
    store
        .lock()
        .unwrap()
        .execute_batch("UPDATE sources SET last_status = 'sideways' WHERE id = 1")
        .unwrap();
    let err = store.source_health().unwrap_err().to_string();
    assert!(
        err.contains("unknown value \"sideways\" in sources.last_status"),
        "{err}"
    );
}

#[test]
fn migrates_once_and_refuses_newer_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/s.db");
    Store::open(&path).unwrap().ping().unwrap();
    // Reopening runs nothing twice.
    Store::open(&path).unwrap();
    let conn = Connection::open(&path).unwrap();
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, MIGRATIONS.len() as i64);
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = Store::open(&path).err().unwrap();
    assert!(err.to_string().contains("newer than this syndic"), "{err}");
}

/// The representatives' titles held with the index (what the look-alike veto reads instead of
/// querying) are the stored ones: after new stories, joins and an edited headline, and after a
/// rebuild from the store.
#[test]
fn the_titles_held_with_the_index_are_the_stored_representatives() {
    use crate::config::SourceConfig;
    use crate::model::Item;
    use crate::tag::rules::Tagger;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db")).unwrap();
    let sources: Vec<SourceConfig> = ["a", "b", "c"]
        .iter()
        .map(|n| {
            SourceConfig::at(
                n,
                url::Url::parse(&format!("http://{n}.invalid/feed.xml")).unwrap(),
            )
        })
        .collect();
    let ids = store.sync_sources(&sources).unwrap();
    let tagger = std::sync::Arc::new(Tagger::new(&[], &[]));
    let t0 = chrono::Utc::now();
    let refresh = |source: &str, key: &str, title: &str, minutes: i64| {
        let at = t0 + chrono::Duration::minutes(minutes);
        let item = Item::headline(
            key,
            title,
            Some(format!("https://{source}.example/{key}")),
            Some(at),
        );
        store
            .apply_refresh(&RefreshInput::for_test(
                ids[source],
                vec![item],
                at,
                tagger.clone(),
            ))
            .unwrap();
    };
    refresh(
        "a",
        "1",
        "Strong earthquake strikes off northern Japan coast",
        0,
    );
    refresh(
        "b",
        "1",
        "Strong earthquake strikes northern Japan coast, tsunami warning issued",
        5,
    );
    refresh(
        "c",
        "1",
        "Central bank raises interest rates by a quarter point",
        10,
    );
    refresh(
        "a",
        "1",
        "Powerful earthquake strikes off northern Japan coast",
        15,
    );
    let stored = || -> Vec<(i64, String)> {
        let conn = store.lock().unwrap();
        let mut s = conn
            .prepare("SELECT id, title FROM items WHERE title_rep = 1 ORDER BY id")
            .unwrap();
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let held = || -> Vec<(i64, String)> {
        let index = store.lock_index();
        let mut v: Vec<(i64, String)> = stored()
            .iter()
            .filter_map(|(id, _)| Some((*id, index.titles.get(*id)?.to_string())))
            .collect();
        v.sort();
        v
    };
    let expected = stored();
    assert!(expected.len() >= 2, "{expected:?}");
    assert!(
        expected.iter().any(|(_, t)| t.starts_with("Powerful")),
        "{expected:?}"
    );
    assert_eq!(held(), expected);
    store
        .rebuild_index(
            t0 + chrono::Duration::minutes(20),
            chrono::Duration::hours(48),
        )
        .unwrap();
    assert_eq!(held(), expected);
}

/// Registering the sources writes only what changed: a start or a reload with the same file writes
/// no row (on PostgreSQL it would otherwise hold every source row the other nodes are updating); a
/// source dropped from the file turns inactive, one put back is active again under its old id, and a
/// new host is recorded.
#[test]
fn registering_the_same_sources_again_writes_nothing() {
    use crate::config::SourceConfig;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("r.db")).unwrap();
    let at = |name: &str, url: &str| SourceConfig::at(name, url::Url::parse(url).unwrap());
    let both = [
        at("A", "http://a.example/feed"),
        at("B", "http://b.example/feed"),
    ];
    let ids = store.sync_sources(&both).unwrap();
    let writes = || store.lock().unwrap().total_changes();
    let before = writes();
    assert_eq!(store.sync_sources(&both).unwrap(), ids);
    assert_eq!(writes(), before, "the same sources again: nothing written");
    let active = || -> Vec<(String, i64, String)> {
        let conn = store.lock().unwrap();
        let mut stmt = conn
            .prepare("SELECT name, active, host FROM sources ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    store.sync_sources(&both[..1]).unwrap();
    assert_eq!(
        active(),
        [
            ("A".to_string(), 1, "a.example".to_string()),
            ("B".to_string(), 0, "b.example".to_string())
        ]
    );
    let before = writes();
    store.sync_sources(&both[..1]).unwrap();
    assert_eq!(
        writes(),
        before,
        "an inactive source stays so without a write"
    );
    let moved = [
        at("A", "http://a.example/feed"),
        at("B", "http://c.example/b"),
    ];
    assert_eq!(store.sync_sources(&moved).unwrap(), ids, "ids kept");
    assert_eq!(
        active(),
        [
            ("A".to_string(), 1, "a.example".to_string()),
            ("B".to_string(), 1, "c.example".to_string())
        ]
    );
}
