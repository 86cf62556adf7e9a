//! The dashboard page's response headers: a Content-Security-Policy that allows exactly its
//! own inline script and style, by hash.

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use super::{DASHBOARD_HTML, HttpResponse};

/// The policy for [`DASHBOARD_HTML`]: nothing loads or runs but the page's own `<script>` and
/// `<style>` (by their SHA-256), it talks only to its own origin, and no other site can frame
/// it (its buttons start a reconcile). An injected script, were one ever to get into the page,
/// would not run.
static POLICY: LazyLock<String> = LazyLock::new(|| {
    let script = inline_hash(DASHBOARD_HTML, "script");
    let style = inline_hash(DASHBOARD_HTML, "style");
    format!(
        "default-src 'none'; script-src {script}; style-src {style}; connect-src 'self'; \
         img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    )
});

/// `'sha256-<base64>'` of the text of the page's one inline `<tag>` element, as browsers hash
/// it (line breaks normalized to `\n` by the HTML parser); `'none'` when there is none.
pub(super) fn inline_hash(page: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let Some(start) = page.find(&open).map(|i| i + open.len()) else {
        return "'none'".to_owned();
    };
    let Some(len) = page[start..].find(&close) else {
        return "'none'".to_owned();
    };
    let text = page[start..start + len].replace("\r\n", "\n");
    format!(
        "'sha256-{}'",
        STANDARD.encode(Sha256::digest(text.as_bytes()))
    )
}

/// `GET /admin`.
pub(super) fn page() -> HttpResponse {
    HttpResponse::html(200, DASHBOARD_HTML)
        .with_header("content-security-policy", POLICY.as_str())
        .with_header("x-frame-options", "DENY")
        .with_header("x-content-type-options", "nosniff")
        .with_header("referrer-policy", "no-referrer")
}
