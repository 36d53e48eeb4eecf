//! The authentication step, kept separate from dispatch so that signature verification
//! against configured keys can be plugged in without touching the API code.

use axum::http::HeaderMap;

use crate::engine::error::ApiResult;

/// Decides whether a request may proceed, before its body is parsed.
pub trait Authenticator: Send + Sync + std::fmt::Debug {
    /// `Ok` to serve the request; an error (AccessDenied, usually) to refuse it.
    fn check(&self, headers: &HeaderMap, body: &[u8]) -> ApiResult<()>;
}

/// The default: every request is served, whatever credentials (if any) signed it. Local
/// engines are reached by their own users, and SDKs insist on signing with some key.
#[derive(Debug, Clone, Copy, Default)]
pub struct AcceptAll;

impl Authenticator for AcceptAll {
    fn check(&self, _headers: &HeaderMap, _body: &[u8]) -> ApiResult<()> {
        Ok(())
    }
}
