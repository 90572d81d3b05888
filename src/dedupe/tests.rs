//! Unit tests of the dedupe stage (pure: no SQLite).
use super::*;
use chrono::{DateTime, Utc};

fn cand(story: i64, source: i64, url: Option<&str>, title: &str, age_h: i64) -> Candidate {
    let at = now() - chrono::Duration::hours(age_h);
    Candidate {
        item_id: story * 100 + source,
        story_id: story,
        source_id: source,
        url_key: url.map(url_key),
        title_fp: title_fingerprint(title),
        story_span: (at, at),
    }
}

fn now() -> DateTime<Utc> {
    "2026-11-27T12:00:00Z".parse().unwrap()
}

fn incoming<'a>(url_key: Option<&'a str>, title: &'a str, fp: &'a str) -> Incoming<'a> {
    Incoming {
        source_id: 1,
        url_key,
        title,
        title_fp: fp,
        tokens: &[],
        event: now(),
    }
}

fn policy() -> Policy {
    Policy {
        window: chrono::Duration::hours(72),
        threshold: 0.5,
        title_dedupe: true,
        similarity: true,
        veto: VetoRules::ALL,
    }
}

fn no_similar(_k: usize) -> Result<Vec<Similar>, ()> {
    Ok(Vec::new())
}

#[test]
fn url_keys_ignore_scheme_www_and_trailing_slash() {
    assert_eq!(url_key("https://www.x.com/a/"), url_key("http://x.com/a"));
    assert_eq!(url_key("https://x.com/a/?id=1"), "x.com/a?id=1");
    assert_ne!(url_key("https://x.com/a"), url_key("https://x.com/b"));
}

#[test]
fn fingerprints_ignore_case_and_punctuation() {
    assert_eq!(
        title_fingerprint("Japan's PM: 'No deal' — yet"),
        title_fingerprint("japan s pm no deal yet")
    );
    assert_eq!(title_fingerprint("Live updates"), "");
}

#[test]
fn url_match_beats_title_match_and_earliest_wins() {
    let title = "Quake hits northern Japan coast";
    let cands = vec![
        cand(7, 2, Some("https://b.com/x"), title, 1),
        cand(
            3,
            3,
            Some("https://a.com/x"),
            "Something else entirely here",
            5,
        ),
        cand(
            2,
            4,
            Some("https://a.com/x"),
            "Other words entirely here",
            9,
        ),
    ];
    let fp = title_fingerprint(title);
    let uk = url_key("https://a.com/x");
    let window = chrono::Duration::hours(72);
    assert_eq!(
        exact_match(&incoming(Some(&uk), title, &fp), &cands, window),
        Some((2, 204, MatchReason::Url))
    );
    assert_eq!(
        exact_match(&incoming(None, title, &fp), &cands, window),
        Some((7, 702, MatchReason::Title))
    );
}

#[test]
fn title_matches_need_another_source_and_the_window() {
    let title = "Quake hits northern Japan coast";
    let fp = title_fingerprint(title);
    let window = chrono::Duration::hours(72);
    let probe = incoming(None, title, &fp);
    assert_eq!(
        exact_match(&probe, &[cand(1, 1, None, title, 1)], window),
        None
    );
    assert_eq!(
        exact_match(&probe, &[cand(1, 2, None, title, 100)], window),
        None
    );
    // Within the window on either side of the item's event time: a backlog item meets a later story.
    assert!(exact_match(&probe, &[cand(1, 2, None, title, -30)], window).is_some());
    assert_eq!(
        exact_match(&probe, &[cand(1, 2, None, title, -100)], window),
        None
    );
    let short = incoming(None, "", "");
    assert_eq!(
        exact_match(&short, &[cand(1, 2, None, "", 1)], window),
        None
    );
}

#[test]
fn a_story_span_never_grows_past_the_window() {
    let w = chrono::Duration::hours(72);
    let span = (now() - chrono::Duration::hours(60), now());
    assert!(in_window(now() - chrono::Duration::hours(12), span, w));
    assert!(in_window(now() + chrono::Duration::hours(12), span, w));
    assert!(!in_window(now() + chrono::Duration::hours(13), span, w));
    assert!(!in_window(now() - chrono::Duration::hours(73), span, w));
}

#[test]
fn the_decision_is_typed_and_says_what_the_index_learns() {
    let ix = TitleIndex::new();
    let title = "Quake hits northern Japan coast";
    let fp = title_fingerprint(title);
    // Nothing matches: a new story, its title a representative.
    let v = decide(
        &incoming(None, title, &fp),
        None,
        &[],
        no_similar,
        &ix,
        &policy(),
    )
    .unwrap();
    assert_eq!(v.decision, Decision::New);
    assert_eq!(v.index, IndexUpdate::NewStory);
    assert!(v.title_rep);
    // Same title from another source: joins, no new representative, the span grows.
    let v = decide(
        &incoming(None, title, &fp),
        None,
        &[cand(4, 2, None, title, 3)],
        no_similar,
        &ix,
        &policy(),
    )
    .unwrap();
    assert_eq!(
        v.decision,
        Decision::Join {
            story_id: 4,
            item_id: 402,
            reason: MatchReason::Title
        }
    );
    assert_eq!(v.index, IndexUpdate::None);
    assert!(v.extend_span);
    // A known item: the same story, whatever the candidates say.
    let known = KnownItem {
        item_id: 9,
        story_id: 8,
        title_rep: false,
        title_changed: false,
    };
    let v = decide(
        &incoming(None, title, &fp),
        Some(known),
        &[cand(4, 2, None, title, 3)],
        no_similar,
        &ix,
        &policy(),
    )
    .unwrap();
    assert_eq!(v.decision, Decision::SameItem { story_id: 8 });
    // Similarity off: still a representative for later, but nothing for the index now.
    let off = Policy {
        similarity: false,
        ..policy()
    };
    let v = decide(
        &incoming(None, title, &fp),
        None,
        &[],
        no_similar,
        &ix,
        &off,
    )
    .unwrap();
    assert_eq!((v.title_rep, v.index), (true, IndexUpdate::None));
}

#[test]
fn a_vetoed_look_alike_is_refused_and_the_next_story_tried() {
    let ix = TitleIndex::new();
    let title = "Strong earthquake strikes off coast of Ecuador";
    let fp = title_fingerprint(title);
    let similar = |story: i64, t: &str, score: f64| Similar {
        found: SimilarMatch {
            story_id: story,
            item_id: story * 10,
            score,
        },
        title: t.to_string(),
        lead_title: t.to_string(),
    };
    let found = [
        similar(1, "Strong earthquake strikes off coast of Indonesia", 0.9),
        similar(2, "Strong earthquake strikes off Ecuador coast", 0.7),
    ];
    let v = decide(
        &incoming(None, title, &fp),
        None,
        &[],
        |k: usize| Ok::<_, ()>(found[..k.min(found.len())].to_vec()),
        &ix,
        &policy(),
    )
    .unwrap();
    assert_eq!(
        v.decision,
        Decision::Join {
            story_id: 2,
            item_id: 20,
            reason: MatchReason::Similar(0.7)
        }
    );
    let miss = v.near_miss.unwrap();
    assert_eq!((miss.story_id, miss.veto.kind), (1, VetoKind::Places));
    // With the veto off, the best score wins.
    let off = Policy {
        veto: VetoRules::NONE,
        ..policy()
    };
    let v = decide(
        &incoming(None, title, &fp),
        None,
        &[],
        |k: usize| Ok::<_, ()>(found[..k.min(found.len())].to_vec()),
        &ix,
        &off,
    )
    .unwrap();
    assert!(matches!(v.decision, Decision::Join { story_id: 1, .. }));
}

// ---- normalization ----

#[test]
fn normalization_strips_publisher_tags_and_decorations() {
    let n = normalize_title;
    assert_eq!(
        n("UPDATE 2-Mt. Gox files for bankruptcy - Reuters"),
        "mt. gox files for bankruptcy"
    );
    assert_eq!(n("VIDEO: Storm hits the coast"), "storm hits the coast");
    assert_eq!(n("LIVE: Election night results"), "election night results");
    assert_eq!(
        n("Election night results as they come in | BBC News"),
        "election night results as they come in"
    );
    assert_eq!(
        n("GLOBAL MARKETS-World stocks dip after weak China data"),
        "world stocks dip after weak china data"
    );
    assert_eq!(
        n("Bitcoin exchange files for bankruptcy (Update)"),
        "bitcoin exchange files for bankruptcy"
    );
    assert_eq!(
        n("Fed\u{2019}s Plosser sees \u{201C}high bar\u{201D} \u{2014} for now\u{2026}"),
        "fed's plosser sees \"high bar\" - for now"
    );
    // NFKC and case folding: full-width letters, ligatures, sharp s.
    assert_eq!(n("ＴＯＫＹＯ Stocks Rise"), "tokyo stocks rise");
    assert_eq!(n("Straße \u{FB01}nal"), "strasse final");
    // Content is not a decoration: a colon after a name stays, a lower-case tail stays.
    assert_eq!(
        n("NASA: Mars rover finds water"),
        "nasa: mars rover finds water"
    );
    assert_eq!(
        n("Stocks fall - but not for long"),
        "stocks fall - but not for long"
    );
}

#[test]
fn tokens_drop_stop_words_stem_and_keep_numbers() {
    assert_eq!(
        title_tokens("Sbarro files for Chapter 11, again"),
        vec!["sbarro", "file", "chapter", "11", "again"]
    );
    assert_eq!(
        title_tokens("U.S. stocks rise"),
        title_tokens("US stock rises")
    );
    // A truncated title loses its possibly cut last word.
    assert_eq!(
        title_tokens("Juan Pablo Galavis picks Nikki Ferrell; Was It  ..."),
        vec!["juan", "pablo", "galavi", "pick", "nikki", "ferrell"]
    );
}

// ---- similarity index ----

fn t0() -> DateTime<Utc> {
    "2014-03-10T12:00:00Z".parse().unwrap()
}

/// Real headlines of other stories of the same days (dev set), so that token weights are realistic.
const BACKGROUND: &[&str] = &[
    "Fed official says weak data caused by weather, should not slow taper",
    "US stocks dip on weak data from China, Japan",
    "Titanfall review roundup",
    "Cosmos: A Spacetime Odyssey premieres to big ratings",
    "GM forms recall probe team",
    "Snowden speaks at South By Southwest festival",
    "Bachelor finale: Juan Pablo makes his decision",
    "Crude prices slip as Libya port reopens",
    "Ukraine crisis weighs on European shares",
    "Malaysia Airlines search widens as families wait",
    "Herbalife shares jump after Ackman presentation",
    "Apple to release iOS 7.1 update with CarPlay",
];

fn background(ix: &mut TitleIndex) {
    for (i, t) in BACKGROUND.iter().enumerate() {
        let id = 1000 + i as i64;
        ix.insert_story(id, t0(), (t0(), t0()), id, id, &title_tokens(t));
    }
}

fn probe(source_id: i64, tokens: &[String]) -> TitleProbe<'_> {
    TitleProbe {
        source_id,
        tokens,
        event: t0() + chrono::Duration::hours(1),
    }
}

const T: f64 = crate::config::DEFAULT_TITLE_THRESHOLD;

fn window() -> chrono::Duration {
    chrono::Duration::hours(72)
}

/// Real same-story pairs from the dev set, each way round.
const SAME: &[(&str, &str)] = &[
    (
        "Mt. Gox files for US bankruptcy",
        "Mt Gox files US bankruptcy, opponents call it a ruse",
    ),
    (
        "Sbarro again files for Ch. 11 reorganization",
        "Sbarro Files For Chapter 11 Reorganization Again",
    ),
    (
        "Oil falls to around $101 after China data",
        "Oil falls to around $101 after China, Japan data",
    ),
    (
        "Bitcoin exchange Mt. Gox files for bankruptcy protection in US",
        "Mt. Gox files for U.S. bankruptcy protection",
    ),
];

/// Real pairs of different stories that share words (dev set).
const DIFFERENT: &[(&str, &str)] = &[
    (
        "Sbarro files for bankruptcy protection for the second time",
        "Bitcoin exchange Mt. Gox files for bankruptcy protection",
    ),
    (
        "Why the Five-Year Anniversary of the Stock Market Crash This Week Has  ...",
        "Happy 5th birthday, bull market",
    ),
    (
        "Asia stocks rise",
        "Stocks slip on discouraging news from Asia",
    ),
    (
        "Business Highlights",
        "Pershing Square presents information on Herbalife business",
    ),
];

fn pair_score(a: &str, b: &str) -> Option<SimilarMatch> {
    let mut ix = TitleIndex::new();
    background(&mut ix);
    ix.insert_story(1, t0(), (t0(), t0()), 1, 1, &title_tokens(a));
    let tokens = title_tokens(b);
    ix.best_match(&probe(2, &tokens), T, window())
}

#[test]
fn real_near_duplicates_match_both_ways() {
    for (a, b) in SAME {
        for (x, y) in [(a, b), (b, a)] {
            let m = pair_score(x, y);
            assert_eq!(m.map(|m| m.story_id), Some(1), "{x:?} ~ {y:?}: {m:?}");
        }
    }
}

#[test]
fn real_different_stories_do_not_match_either_way() {
    for (a, b) in DIFFERENT {
        for (x, y) in [(a, b), (b, a)] {
            let m = pair_score(x, y);
            assert_eq!(m, None, "{x:?} !~ {y:?}");
        }
    }
}

#[test]
fn rare_words_outweigh_common_ones() {
    let mut ix = TitleIndex::new();
    for i in 0..50 {
        let t = format!("stocks fall on word{i} worries today");
        ix.insert_story(i, t0(), (t0(), t0()), i, i, &title_tokens(&t));
    }
    let common = ix.similarity(
        &title_tokens("stocks fall worries"),
        &title_tokens("stocks fall worries word1"),
    );
    let rare = ix.similarity(
        &title_tokens("word1 word2 word3"),
        &title_tokens("word1 word2 word3 stocks"),
    );
    assert!(rare > common, "rare {rare} common {common}");
}

#[test]
fn chaining_is_bounded_by_the_first_title() {
    let mut ix = TitleIndex::new();
    background(&mut ix);
    let a = title_tokens("Iceland volcano: flights grounded");
    let b = title_tokens("Iceland volcano: flights grounded as ash cloud reaches Norway, Sweden");
    let c = title_tokens("Ash cloud reaches Norway, Sweden; volcano shuts airports");
    let d = title_tokens("Unions shut airports in Norway, Sweden");
    ix.insert_story(1, t0(), (t0(), t0()), 1, 1, &a);
    // D resembles C (a chain A~B~C~D), and nothing earlier.
    assert!(ix.similarity(&c, &d) >= T && ix.similarity(&b, &d) < T && ix.similarity(&a, &c) < T);
    // B resembles A: it joins and represents the story.
    let m = ix
        .best_match(&probe(2, &b), T, window())
        .expect("B joins A");
    assert_eq!(m.story_id, 1);
    assert!(ix.offer_rep(1, 2, 2, &b, T));
    // C resembles B, not A: it joins through B but does not become a representative.
    assert!(ix.similarity(&c, &a) < T);
    let m = ix
        .best_match(&probe(3, &c), T, window())
        .expect("C joins via B");
    assert_eq!((m.story_id, m.item_id), (1, 2));
    assert!(!ix.offer_rep(1, 3, 3, &c, T));
    // D resembles only C: no chain pulls it in.
    assert_eq!(ix.best_match(&probe(4, &d), T, window()), None);
    assert_eq!(ix.representatives(1), vec![1, 2]);
}

#[test]
fn an_item_never_matches_itself_or_its_own_source() {
    let mut ix = TitleIndex::new();
    background(&mut ix);
    let t = title_tokens("Daily business highlights for investors and markets");
    ix.insert_story(1, t0(), (t0(), t0()), 10, 7, &t);
    // The same title from the same source (the item itself, or a recurring column) matches nothing.
    assert_eq!(ix.best_match(&probe(7, &t), T, window()), None);
    // From another source it matches with the full score.
    let m = ix.best_match(&probe(8, &t), T, window()).unwrap();
    assert_eq!((m.story_id, m.item_id), (1, 10));
    assert!((m.score - 1.0).abs() < 1e-6);
}

#[test]
fn a_headline_repeated_verbatim_represents_a_story_at_most_twice() {
    let mut ix = TitleIndex::new();
    background(&mut ix);
    let t = title_tokens("Malaysia Airlines jet missing with 239 aboard");
    let reworded = title_tokens("Malaysia Airlines jet with 239 aboard goes missing over sea");
    ix.insert_story(1, t0(), (t0(), t0()), 1, 1, &t);
    // The same words from the same source add nothing.
    assert!(!ix.offer_rep(1, 2, 1, &t, T));
    // From a second source they are kept: a later title of source 1 can still match through them.
    assert!(ix.offer_rep(1, 3, 2, &t, T));
    // A third copy would match nothing the two do not.
    assert!(!ix.offer_rep(1, 4, 3, &t, T));
    // Other words still have room.
    assert!(ix.offer_rep(1, 5, 3, &reworded, T));
    assert_eq!(ix.representatives(1), vec![1, 3, 5]);
    let m = ix.best_match(&probe(1, &t), T, window()).unwrap();
    assert_eq!((m.story_id, m.item_id), (1, 3));
}

#[test]
fn an_edited_headline_neither_splits_nor_chains() {
    let mut ix = TitleIndex::new();
    background(&mut ix);
    let lead = title_tokens("Ferry sinks off Korean island, hundreds rescued");
    let member = title_tokens("Hundreds rescued as ferry sinks off Korean island");
    ix.insert_story(1, t0(), (t0(), t0()), 1, 1, &lead);
    assert!(ix.offer_rep(1, 2, 2, &member, T));
    // The lead's headline is refined: the story keeps following it.
    let refined = title_tokens("Ferry sinks off Korean island, 300 rescued, 12 missing");
    assert!(ix.edit_keeps(1, 1, &refined, T));
    assert!(ix.edit_rep(1, 1, &refined, T));
    let m = ix.best_match(&probe(3, &refined), T, window()).unwrap();
    assert_eq!(m.story_id, 1);
    // The member is rewritten into different news: it stops representing the story, so that news
    // cannot join this story through it.
    let other = title_tokens("Parliament passes budget after all-night session");
    assert!(!ix.edit_keeps(1, 2, &other, T));
    assert!(!ix.edit_rep(1, 2, &other, T));
    assert_eq!(ix.representatives(1), vec![1]);
    assert_eq!(ix.best_match(&probe(3, &other), T, window()), None);
}

#[test]
fn the_decay_table_never_understates_the_decay() {
    // Candidates are skipped by the table's bound; it must never be below the exact decay, or a
    // story that would match could be passed over.
    for hours in [0.5, 6.0, 24.0, 100.0] {
        let mut ix = TitleIndex::new();
        ix.set_decay_hours(hours);
        for idle in (0..(hours * 3600.0 * 12.0) as u32).step_by(37) {
            assert!(
                f64::from(ix.decay_bound(idle)) >= ix.decay(idle),
                "{hours} h, idle {idle} s"
            );
        }
        // The scan's cut-off skips only stories whose decay is below the threshold, and not many more
        // than that.
        let reach = ix.reach(0.5);
        assert!(ix.decay(reach + 1) < 0.5);
        assert!(ix.decay(reach - 2) >= 0.5);
    }
}

#[test]
fn stories_leave_with_the_window() {
    let mut ix = TitleIndex::new();
    let t = title_tokens("Quake shakes northern Japan coast");
    ix.insert_story(1, t0(), (t0(), t0()), 1, 1, &t);
    ix.insert_story(
        2,
        t0() + chrono::Duration::hours(10),
        (t0(), t0()),
        2,
        2,
        &title_tokens("Other news entirely here"),
    );
    let late = TitleProbe {
        source_id: 9,
        tokens: &t,
        event: t0() + chrono::Duration::hours(73),
    };
    // Outside the window even before pruning; and gone after it.
    assert_eq!(ix.best_match(&late, T, window()), None);
    ix.prune(t0() + chrono::Duration::hours(1));
    assert_eq!(ix.len(), 1);
    assert!(!ix.contains(1));
    assert!(ix.contains(2));
    ix.prune(t0() + chrono::Duration::hours(11));
    assert!(ix.is_empty());
    // Token ids were released and are reused.
    assert!(ix.ids.is_empty());
    let before = ix.tokens.len();
    ix.insert_story(3, t0(), (t0(), t0()), 3, 3, &t);
    assert_eq!(ix.tokens.len(), before);
}

#[test]
fn scores_decay_with_the_time_between_an_item_and_its_story() {
    let mut ix = TitleIndex::new();
    ix.set_decay_hours(24.0);
    background(&mut ix);
    let a = title_tokens("Mt. Gox files for US bankruptcy");
    let b = title_tokens("Mt Gox files US bankruptcy, opponents call it a ruse");
    ix.insert_story(1, t0(), (t0(), t0()), 1, 1, &a);
    let at = |h: i64| TitleProbe {
        source_id: 2,
        tokens: &b,
        event: t0() + chrono::Duration::hours(h),
    };
    let fresh = ix
        .best_match(&at(0), T, window())
        .expect("joins while fresh");
    // A day later the same words describe a new development more often than the same news.
    assert_eq!(ix.best_match(&at(24), T, window()), None);
    // ...and so is an item dated a day before it (a backlog polled out of order).
    assert_eq!(ix.best_match(&at(-24), T, window()), None);
    // A story that keeps being reported stays joinable: its span grows with each item's event time.
    ix.extend_span(1, t0() + chrono::Duration::hours(23));
    let later = ix.best_match(&at(24), T, window()).expect("fresh again");
    assert!(later.score < fresh.score && later.score >= T);
    assert_eq!(
        ix.best_match(&at(2), T, window()).map(|m| m.score),
        Some(fresh.score)
    );
    // Off, the idle time does not matter.
    ix.set_decay_hours(0.0);
    assert_eq!(
        ix.best_match(&at(60), T, window()).map(|m| m.score),
        Some(fresh.score)
    );
}
