//! What the request's span and events record under `RequestId`: the route template and the
//! request id, never a query string, a key or a token (the same fields as the axum crate's,
//! since core's `request_span` makes both).

mod support;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::test::TestRequest;
use clerk_sync_testing::SessionTokenOptions;
use support::{ADMIN_KEY, TestApp, bearer};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Every span and event, as `name field=value ...` lines.
#[derive(Clone, Default)]
struct Recorder {
    lines: Arc<Mutex<Vec<String>>>,
    next: Arc<AtomicU64>,
}

struct Text(String);

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut text = Text(format!("span {}", span.metadata().name()));
        span.record(&mut text);
        self.lines.lock().unwrap().push(text.0);
        Id::from_u64(self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut text = Text("record".to_owned());
        values.record(&mut text);
        self.lines.lock().unwrap().push(text.0);
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut text = Text(format!("event {}", event.metadata().target()));
        event.record(&mut text);
        self.lines.lock().unwrap().push(text.0);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

#[actix_web::test]
async fn the_span_names_the_route_template_and_the_id_and_nothing_secret() {
    let app = TestApp::start().await;
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());

    let request = TestRequest::get()
        .uri("/api/admin/users/user_2SpanProbe?limit=5&cursor=9")
        .insert_header(("authorization", bearer(ADMIN_KEY)))
        .insert_header(("x-request-id", "span-req-1"));
    assert_eq!(app.send(request).await.status, 404);
    let token = app
        .fake
        .session_token(SessionTokenOptions::new("user_2SpanProbe").expired());
    let request = TestRequest::get()
        .uri("/api/me?email=probe%40example.com")
        .insert_header(("authorization", bearer(&token)));
    assert_eq!(app.send(request).await.status, 401);
    let request = TestRequest::get().uri("/nowhere?secret=probe");
    assert_eq!(app.send(request).await.status, 404);

    let lines = recorder.lines.lock().unwrap().join("\n");
    assert!(
        lines.contains(
            r#"span http method=GET route="/api/admin/users/{id}" request_id="span-req-1""#
        ),
        "{lines}"
    );
    assert!(lines.contains(r#"route="/api/me""#), "{lines}");
    assert!(lines.contains(r#"route="unmatched""#), "{lines}");
    for secret in [ADMIN_KEY, token.as_str(), "cursor", "probe", "email"] {
        assert!(
            !lines.contains(secret),
            "{secret} reached a log line:\n{lines}"
        );
    }
}
