//! Who may do what: an [`Authenticator`] turns a request into a [`Principal`] (or refuses it)
//! before the body is parsed, and the principal's [`Grants`] say which databases it may read
//! and write. The default accepts everyone; [`Keys`] checks AWS Signature Version 4 against
//! configured access keys, as the service does.

mod grants;
mod keys;
mod sigv4;

pub use grants::{Access, Databases, Grants, Principal};
pub use keys::{Key, Keys};
pub use sigv4::{SIGNATURE_MAX_SKEW, SigV4};

use axum::http::HeaderMap;

use crate::engine::error::ApiResult;

/// A request as an authenticator sees it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `POST`, usually.
    pub method: &'a str,
    /// The path, as sent (`/`).
    pub path: &'a str,
    /// The query string, as sent (usually empty).
    pub query: &'a str,
    /// Every header.
    pub headers: &'a HeaderMap,
    /// The whole body.
    pub body: &'a [u8],
    /// The region the engine serves (credential scopes must name it).
    pub region: &'a str,
}

/// Decides who made a request, before its body is parsed.
pub trait Authenticator: Send + Sync + std::fmt::Debug {
    /// The principal to serve the request as, or the error to refuse it with.
    fn authenticate(&self, request: &Request<'_>) -> ApiResult<Principal>;

    /// Whether this authenticator lets anyone in (so that the engine can refuse to serve such
    /// an engine beyond the loopback interface unless told to).
    fn accepts_anyone(&self) -> bool {
        false
    }
}

/// The default: every request is served, with every grant, whatever credentials (if any)
/// signed it. Local engines are reached by their own users, and SDKs insist on signing with
/// some key.
#[derive(Debug, Clone, Copy, Default)]
pub struct AcceptAll;

impl Authenticator for AcceptAll {
    fn authenticate(&self, _request: &Request<'_>) -> ApiResult<Principal> {
        Ok(Principal::anyone())
    }

    fn accepts_anyone(&self) -> bool {
        true
    }
}
