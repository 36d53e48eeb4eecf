//! AWS Signature Version 4, checked as AWS JSON services check it: the `Authorization` header's
//! credential scope (key, date, region, service), the request time within 15 minutes of the
//! engine's clock, and the signature over the canonical request, compared in constant time.
//! The errors are the ones AWS answers with (`UnrecognizedClientException`,
//! `InvalidSignatureException`, `MissingAuthenticationTokenException`,
//! `IncompleteSignatureException`).

use std::time::{Duration, SystemTime};

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::{Authenticator, Keys, Principal, Request};
use crate::engine::error::{ApiError, ApiErrorKind, ApiResult, shown};

/// How far a request's time may be from the engine's clock, as AWS allows.
pub const SIGNATURE_MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// The service name in every credential scope.
const SERVICE: &str = "timestream";
const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Checks every request's SigV4 signature against [`Keys`]; the principal is the key's.
#[derive(Debug, Clone)]
pub struct SigV4 {
    keys: Keys,
}

impl SigV4 {
    /// Requests must be signed by one of `keys`.
    pub fn new(keys: Keys) -> Self {
        Self { keys }
    }

    /// The keys it accepts.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }
}

impl Authenticator for SigV4 {
    fn authenticate(&self, request: &Request<'_>) -> ApiResult<Principal> {
        self.verify(request, SystemTime::now())
    }
}

fn incomplete(message: impl Into<String>) -> ApiError {
    ApiError::new(ApiErrorKind::IncompleteSignature, message)
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ApiErrorKind::InvalidSignature, message)
}

/// The parts of an `Authorization` header.
struct Authorization<'a> {
    key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(header: &str) -> ApiResult<Authorization<'_>> {
    let (algorithm, rest) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
    if algorithm != ALGORITHM {
        return Err(incomplete(format!(
            "Unsupported AWS 'algorithm': '{}'. This engine accepts {ALGORITHM} (Signature Version 4).",
            shown(algorithm)
        )));
    }
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let Some((name, value)) = part.trim().split_once('=') else { continue };
        match name.trim() {
            "Credential" => credential = Some(value.trim()),
            "SignedHeaders" => signed = Some(value.trim()),
            "Signature" => signature = Some(value.trim()),
            _ => {}
        }
    }
    let missing: Vec<&str> = [("Credential", credential), ("Signature", signature), ("SignedHeaders", signed)]
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(n, _)| *n)
        .collect();
    if !missing.is_empty() {
        let each: Vec<String> =
            missing.iter().map(|n| format!("Authorization header requires '{n}' parameter.")).collect();
        return Err(incomplete(each.join(" ")));
    }
    let (credential, signed, signature) = (credential.unwrap_or(""), signed.unwrap_or(""), signature.unwrap_or(""));
    let scope: Vec<&str> = credential.split('/').collect();
    let [key_id, date, region, service, terminator] = scope.as_slice() else {
        return Err(incomplete(format!(
            "Credential should have the form <access key>/<date>/<region>/{SERVICE}/aws4_request, got '{}'.",
            shown(credential)
        )));
    };
    if *terminator != "aws4_request" {
        return Err(incomplete(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'.",
            shown(terminator)
        )));
    }
    Ok(Authorization { key_id, date, region, service, signed_headers: signed.split(';').collect(), signature })
}

/// `20150830T123600Z` as a time.
fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let t = chrono::NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%SZ").ok()?.and_utc();
    let secs = u64::try_from(t.timestamp()).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

fn amz_date(t: SystemTime) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    chrono::DateTime::from_timestamp(i64::try_from(secs).unwrap_or(0), 0)
        .map(|d| d.format("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_default()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn hmac(key: &[u8], data: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    mac
}

/// Percent-encodes `text` as SigV4 does (RFC 3986 unreserved characters kept; `/` kept in
/// paths).
fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Decodes `%XX` escapes (and leaves anything else as it is).
fn uri_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let pair = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], pair.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The canonical query string: parameters sorted by name, then value, each encoded.
fn canonical_query(query: &str) -> String {
    let mut params: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (uri_encode(&uri_decode(k), false), uri_encode(&uri_decode(v), false))
        })
        .collect();
    params.sort();
    params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// A header's values as SigV4 canonicalizes them: each trimmed, runs of spaces made one, and
/// several values joined by commas.
fn canonical_header_value(request: &Request<'_>, name: &str) -> Option<String> {
    let values: Vec<String> = request
        .headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// The canonical request: method, path, query, the signed headers and their names, and the
/// payload's hash, one per line.
fn canonical_request(request: &Request<'_>, signed_headers: &[&str], payload: &str) -> String {
    let mut canonical = String::with_capacity(256 + request.query.len());
    canonical.push_str(request.method);
    canonical.push('\n');
    canonical.push_str(&uri_encode(if request.path.is_empty() { "/" } else { request.path }, true));
    canonical.push('\n');
    canonical.push_str(&canonical_query(request.query));
    canonical.push('\n');
    for name in signed_headers {
        canonical.push_str(name);
        canonical.push(':');
        canonical.push_str(&canonical_header_value(request, name).unwrap_or_default());
        canonical.push('\n');
    }
    canonical.push('\n');
    canonical.push_str(&signed_headers.join(";"));
    canonical.push('\n');
    canonical.push_str(payload);
    canonical
}

fn string_to_sign(stamp: &str, date: &str, region: &str, service: &str, canonical: &str) -> String {
    format!(
        "{ALGORITHM}\n{stamp}\n{date}/{region}/{service}/aws4_request\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    )
}

/// The MAC of `to_sign` under the key derived from `secret` for the scope.
fn signing_mac(secret: &str, date: &str, region: &str, service: &str, to_sign: &str) -> Hmac<Sha256> {
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in [date, region, service, "aws4_request"] {
        key = hmac(&key, part.as_bytes()).finalize().into_bytes().to_vec();
    }
    hmac(&key, to_sign.as_bytes())
}

impl SigV4 {
    /// Verifies `request` as of `now`.
    pub(crate) fn verify(&self, request: &Request<'_>, now: SystemTime) -> ApiResult<Principal> {
        let header = match request.headers.get("authorization") {
            Some(v) => v.to_str().map_err(|_| incomplete("The Authorization header is not valid text."))?,
            None if request.query.contains("X-Amz-Signature=") => {
                return Err(incomplete(
                    "Signatures in the query string are not accepted here; sign the Authorization header.",
                ));
            }
            None => {
                return Err(ApiError::new(
                    ApiErrorKind::MissingAuthenticationToken,
                    "Request is missing Authentication Token",
                ));
            }
        };
        let auth = parse_authorization(header)?;
        let key = self.keys.get(auth.key_id).ok_or_else(|| {
            ApiError::new(ApiErrorKind::UnrecognizedClient, "The security token included in the request is invalid.")
        })?;
        if auth.service != SERVICE {
            return Err(invalid(format!(
                "Credential should be scoped to correct service: '{SERVICE}', not '{}'.",
                shown(auth.service)
            )));
        }
        if auth.region != request.region {
            return Err(invalid(format!(
                "Credential should be scoped to a valid region: this engine serves '{}', not '{}'.",
                request.region,
                shown(auth.region)
            )));
        }
        if !auth.signed_headers.contains(&"host") {
            return Err(incomplete("'Host' must be a 'SignedHeader' in the AWS Authorization."));
        }
        let stamp = canonical_header_value(request, "x-amz-date")
            .or_else(|| canonical_header_value(request, "date"))
            .ok_or_else(|| {
            incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        })?;
        let when = parse_amz_date(&stamp)
            .or_else(|| {
                let t = chrono::DateTime::parse_from_rfc2822(&stamp).ok()?;
                Some(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(t.timestamp()).ok()?))
            })
            .ok_or_else(|| {
                incomplete(format!("The request's date '{}' is not an ISO-8601 basic time.", shown(&stamp)))
            })?;
        let stamp = amz_date(when);
        if !stamp.starts_with(auth.date) || auth.date.len() != 8 {
            return Err(invalid(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != \
                 '{}', from '{stamp}'.",
                shown(auth.date),
                &stamp[..8.min(stamp.len())]
            )));
        }
        if when + SIGNATURE_MAX_SKEW < now {
            return Err(invalid(format!(
                "Signature expired: {stamp} is now earlier than {} ({} - 15 min.)",
                amz_date(now - SIGNATURE_MAX_SKEW),
                amz_date(now)
            )));
        }
        if when > now + SIGNATURE_MAX_SKEW {
            return Err(invalid(format!(
                "Signature not yet current: {stamp} is still later than {} ({} + 15 min.)",
                amz_date(now + SIGNATURE_MAX_SKEW),
                amz_date(now)
            )));
        }
        // The body is always part of what is signed: JSON services have no use for unsigned
        // payloads, and accepting one would let the body be changed on the way.
        let payload = hex(&Sha256::digest(request.body));
        if let Some(claimed) = canonical_header_value(request, "x-amz-content-sha256")
            && claimed != payload
        {
            return Err(invalid("The provided 'x-amz-content-sha256' header does not match the body's SHA-256."));
        }
        let canonical = canonical_request(request, &auth.signed_headers, &payload);
        let to_sign = string_to_sign(&stamp, auth.date, auth.region, SERVICE, &canonical);
        let given = crate::ruuvi::hex_to_bytes(auth.signature).unwrap_or_default();
        // Constant time: verify_slice compares without stopping at the first difference.
        if auth.signature.len() != 64
            || signing_mac(&key.secret, auth.date, auth.region, SERVICE, &to_sign).verify_slice(&given).is_err()
        {
            return Err(invalid(
                "The request signature we calculated does not match the signature you provided. Check your AWS \
                 Secret Access Key and signing method. Consult the service documentation for details.",
            ));
        }
        Ok(Principal { access_key_id: auth.key_id.to_string(), grants: key.grants.clone() })
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue};

    use super::*;
    use crate::engine::auth::Grants;

    /// AWS's published Signature Version 4 example ("get-vanilla" of the SigV4 test suite):
    /// these exact inputs sign to this exact signature.
    #[test]
    fn the_published_example_verifies() {
        let mut keys = Keys::default();
        keys.add("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", Grants::all()).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("example.amazonaws.com"));
        headers.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
        headers.insert(
            "authorization",
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                 SignedHeaders=host;x-amz-date, \
                 Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
        );
        let request =
            Request { method: "GET", path: "/", query: "", headers: &headers, body: b"", region: "us-east-1" };
        let at = parse_amz_date("20150830T123600Z").unwrap();
        // The example is scoped to the service "service": refused for that reason alone.
        let e = SigV4::new(keys).verify(&request, at).unwrap_err();
        assert!(e.message.contains("correct service: 'timestream'"), "{e}");
        // Computed as the engine computes it, with that scope, the signature matches.
        let payload = hex(&Sha256::digest(b""));
        let canonical = canonical_request(&request, &["host", "x-amz-date"], &payload);
        let to_sign = string_to_sign("20150830T123600Z", "20150830", "us-east-1", "service", &canonical);
        let mac = signing_mac("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "service", &to_sign);
        assert_eq!(
            hex(&mac.finalize().into_bytes()),
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn encodings_follow_the_signing_rules() {
        assert_eq!(uri_encode("a b/c~d", true), "a%20b/c~d");
        assert_eq!(uri_encode("a b/c", false), "a%20b%2Fc");
        assert_eq!(canonical_query("b=2&a=1&a=0&c"), "a=0&a=1&b=2&c=");
        assert_eq!(uri_decode("%41%2x+"), "A%2x+");
    }
}
