//! [`ClerkState`]: what the extractors and routers need, as one cheap-to-clone value. It is
//! core's, re-exported: the actix-web crate takes the same value.

/// The state behind every extractor and route of this crate (core's
/// [`ClerkState`](clerk_sync_core::http::ClerkState), re-exported).
///
/// Inside a larger application state, implement [`FromRef`](axum::extract::FromRef) so the
/// extractors find it:
///
/// ```
/// use axum::extract::FromRef;
/// use clerk_sync_axum::ClerkState;
///
/// #[derive(Clone)]
/// struct AppState {
///     clerk: ClerkState,
///     // your own pools, clients, ...
/// }
///
/// impl FromRef<AppState> for ClerkState {
///     fn from_ref(app: &AppState) -> ClerkState {
///         app.clerk.clone()
///     }
/// }
/// ```
#[doc(inline)]
pub use clerk_sync_core::http::ClerkState;
