//! The router in-process (`tower::ServiceExt::oneshot`, no socket): each route's status and headers,
//! conditional requests and gzip, beside the end-to-end tests that go through a real listener.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

use syndic::config::Config;
use syndic::ingest::refresh::refresh_all;
use syndic::publish::http::{AppState, app};
use syndic::service::startup::prepare;
use syndic::store::Store;

use crate::support::{Env, FixtureServer, Route, rss_feed, source};

async fn router_with_one_source() -> (axum::Router, Env, FixtureServer) {
    let server = FixtureServer::start();
    server.set(
        "/wire.xml",
        Route::rss(rss_feed(
            "Wire",
            &[(
                "w1",
                "Ceasefire talks resume in Geneva",
                "https://wire.example/geneva",
            )],
        )),
    );
    let env = Env::new(&source("Global Wire", &server.url("/wire.xml"), &["world"]));
    let config = Arc::new(Config::load(&env.config_path()).unwrap());
    let store = Store::open_with_window(&config.database, config.dedupe.window).unwrap();
    let ctx = prepare(config.clone(), store.clone()).await.unwrap().ctx;
    for report in refresh_all(&ctx, &config.sources).await {
        assert!(!report.is_error(), "{report}");
    }
    (app(AppState::new(config, store)), env, server)
}

async fn get(
    router: &axum::Router,
    path: &str,
    headers: &[(header::HeaderName, &str)],
) -> axum::response::Response {
    let mut req = Request::get(path);
    for (k, v) in headers {
        req = req.header(k, *v);
    }
    router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_in_process_with_its_status_and_headers() {
    let (router, _env, _server) = router_with_one_source().await;
    for (path, status, content_type) in [
        ("/", StatusCode::OK, "text/html"),
        ("/feeds/all.rss", StatusCode::OK, "application/rss+xml"),
        ("/feeds/world.atom", StatusCode::OK, "application/atom+xml"),
        ("/feeds/world.json", StatusCode::OK, "application/feed+json"),
        ("/world", StatusCode::OK, "text/html"),
        ("/sources.opml", StatusCode::OK, "opml"),
        ("/healthz", StatusCode::OK, ""),
        ("/feeds/nowhere.rss", StatusCode::NOT_FOUND, "text/plain"),
        ("/nowhere", StatusCode::NOT_FOUND, "text/plain"),
    ] {
        let res = get(&router, path, &[]).await;
        assert_eq!(res.status(), status, "{path}");
        let ct = res
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        assert!(ct.contains(content_type), "{path}: {ct}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_answer_conditional_requests_with_304_and_gzip_on_request() {
    let (router, _env, _server) = router_with_one_source().await;
    let first = get(&router, "/feeds/all.rss", &[]).await;
    assert_eq!(first.status(), StatusCode::OK);
    let etag = first.headers()[header::ETAG].to_str().unwrap().to_string();
    let modified = first.headers()[header::LAST_MODIFIED]
        .to_str()
        .unwrap()
        .to_string();
    let again = get(&router, "/feeds/all.rss", &[(header::IF_NONE_MATCH, &etag)]).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let again = get(
        &router,
        "/feeds/all.rss",
        &[(header::IF_MODIFIED_SINCE, &modified)],
    )
    .await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let gz = get(
        &router,
        "/feeds/all.rss",
        &[(header::ACCEPT_ENCODING, "gzip")],
    )
    .await;
    assert_eq!(gz.status(), StatusCode::OK);
    assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
    let body = axum::body::to_bytes(gz.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(&body[..2], &[0x1f, 0x8b], "a gzip stream");
}
