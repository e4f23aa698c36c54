//! Signature Version 4, checked as AWS checks it: the canonical request rebuilt from what
//! arrived, signed with the stack's secret, compared with the signature the client sent
//! (in the Authorization header, or in the query of a presigned URL).

use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, Method, Uri};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

use super::Credentials;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// What the signature was scoped to: the service the client meant (`s3`, `sqs`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    pub service: String,
}

/// Why a request is refused; each maps to the error code its service answers with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No signature at all (an anonymous request).
    Missing,
    /// Signed, but with another access key id.
    UnknownKey { scope: Option<Scope> },
    /// The stack's access key id, but not its secret (or the request was altered).
    BadSignature { scope: Option<Scope> },
    /// A session token: the stack's keys are long-term keys and take none, so a token
    /// here is the user's own, leaked from their environment.
    TokenNotAccepted { scope: Option<Scope> },
    /// A presigned URL past its expiry.
    Expired { scope: Option<Scope> },
    /// An Authorization header that is not SigV4's shape.
    Malformed(String),
}

impl Refusal {
    /// The service the client signed for, when it got that far.
    pub fn scope(&self) -> Option<&Scope> {
        match self {
            Refusal::UnknownKey { scope }
            | Refusal::BadSignature { scope }
            | Refusal::TokenNotAccepted { scope }
            | Refusal::Expired { scope } => scope.as_ref(),
            Refusal::Missing | Refusal::Malformed(_) => None,
        }
    }
}

/// The parts of a signature, from the header or from a presigned URL's query.
struct Presented {
    access_key_id: String,
    date: String,
    region: String,
    service: String,
    signed_headers: String,
    signature: String,
    amz_date: String,
    /// The query members that take part in the canonical request (a presigned URL's own
    /// signature does not).
    from_query: bool,
    expires: Option<u64>,
}

/// Checks a request's signature against `credentials`. `payload_hash` is the hex SHA-256
/// of the body as the caller computed it, or None to take `x-amz-content-sha256` (a
/// presigned URL's payload is `UNSIGNED-PAYLOAD`).
pub fn verify(
    credentials: &Credentials,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    payload_hash: Option<&str>,
) -> Result<Scope, Refusal> {
    let presented = presented(uri, headers)?;
    let scope = Some(Scope {
        service: presented.service.clone(),
    });
    if presented.access_key_id != credentials.access_key_id {
        return Err(Refusal::UnknownKey { scope });
    }
    let token_in_query = presented.from_query
        && query_pairs(uri.query()).any(|(k, _)| k.eq_ignore_ascii_case("X-Amz-Security-Token"));
    if headers.contains_key("x-amz-security-token") || token_in_query {
        return Err(Refusal::TokenNotAccepted { scope });
    }
    let payload = match header(headers, "x-amz-content-sha256") {
        Some(declared) => declared,
        None if presented.from_query => "UNSIGNED-PAYLOAD",
        None => payload_hash.unwrap_or("UNSIGNED-PAYLOAD"),
    };
    let Some(signing_time) = scope_date(&presented.date) else {
        return Err(Refusal::Malformed(format!(
            "the credential scope's date {} is not YYYYMMDD",
            presented.date
        )));
    };
    if let (Some(expires), Some(signed_at)) = (presented.expires, amz_time(&presented.amz_date)) {
        if signed_at + Duration::from_secs(expires) < SystemTime::now() {
            return Err(Refusal::Expired { scope });
        }
    }
    let key = aws_sigv4::sign::v4::generate_signing_key(
        &credentials.secret_access_key,
        signing_time,
        &presented.region,
        &presented.service,
    );
    let credential_scope = format!(
        "{}/{}/{}/aws4_request",
        presented.date, presented.region, presented.service
    );
    // S3 signs the path as sent; every other service encodes it once more. A client of
    // either kind is accepted when one of the two matches.
    let raw_path = if uri.path().is_empty() {
        "/"
    } else {
        uri.path()
    };
    let paths = [raw_path.to_owned(), encode(raw_path, PATH)];
    let matched = paths.iter().any(|path| {
        let canonical = canonical_request(method, path, uri, headers, &presented, payload);
        let string_to_sign = format!(
            "{ALGORITHM}\n{}\n{credential_scope}\n{}",
            presented.amz_date,
            hex(&Sha256::digest(canonical.as_bytes()))
        );
        let expected = aws_sigv4::sign::v4::calculate_signature(&key, string_to_sign.as_bytes());
        constant_time_eq(expected.as_bytes(), presented.signature.as_bytes())
    });
    if matched {
        Ok(Scope {
            service: presented.service,
        })
    } else {
        Err(Refusal::BadSignature { scope })
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn presented(uri: &Uri, headers: &HeaderMap) -> Result<Presented, Refusal> {
    if let Some(authorization) = header(headers, "authorization") {
        return from_header(authorization, headers);
    }
    let query: Vec<(String, String)> = query_pairs(uri.query()).collect();
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    match get("X-Amz-Algorithm") {
        None => Err(Refusal::Missing),
        Some(algorithm) if algorithm != ALGORITHM => Err(Refusal::Malformed(format!(
            "the algorithm {algorithm} is not {ALGORITHM}"
        ))),
        Some(_) => {
            let missing = |name: &str| Refusal::Malformed(format!("the query has no {name}"));
            let credential = get("X-Amz-Credential").ok_or_else(|| missing("X-Amz-Credential"))?;
            let (access_key_id, date, region, service) = split_credential(&credential)?;
            Ok(Presented {
                access_key_id,
                date,
                region,
                service,
                signed_headers: get("X-Amz-SignedHeaders")
                    .ok_or_else(|| missing("X-Amz-SignedHeaders"))?,
                signature: get("X-Amz-Signature").ok_or_else(|| missing("X-Amz-Signature"))?,
                amz_date: get("X-Amz-Date").ok_or_else(|| missing("X-Amz-Date"))?,
                from_query: true,
                expires: get("X-Amz-Expires").and_then(|e| e.parse().ok()),
            })
        }
    }
}

fn from_header(authorization: &str, headers: &HeaderMap) -> Result<Presented, Refusal> {
    let Some(rest) = authorization.strip_prefix(ALGORITHM) else {
        return Err(Refusal::Malformed(format!(
            "the Authorization header does not start with {ALGORITHM}"
        )));
    };
    let field = |name: &str| {
        rest.split(',')
            .map(str::trim)
            .find_map(|part| part.strip_prefix(name)?.strip_prefix('='))
            .map(str::to_owned)
            .ok_or_else(|| Refusal::Malformed(format!("the Authorization header has no {name}")))
    };
    let (access_key_id, date, region, service) = split_credential(&field("Credential")?)?;
    let amz_date = header(headers, "x-amz-date")
        .or_else(|| header(headers, "date"))
        .ok_or_else(|| Refusal::Malformed("the request has no X-Amz-Date".to_owned()))?
        .to_owned();
    Ok(Presented {
        access_key_id,
        date,
        region,
        service,
        signed_headers: field("SignedHeaders")?,
        signature: field("Signature")?,
        amz_date,
        from_query: false,
        expires: None,
    })
}

fn split_credential(credential: &str) -> Result<(String, String, String, String), Refusal> {
    let parts: Vec<&str> = credential.split('/').collect();
    match parts.as_slice() {
        [key, date, region, service, "aws4_request"] => Ok((
            key.to_string(),
            date.to_string(),
            region.to_string(),
            service.to_string(),
        )),
        _ => Err(Refusal::Malformed(format!(
            "the credential {credential} is not KEY/DATE/REGION/SERVICE/aws4_request"
        ))),
    }
}

fn canonical_request(
    method: &Method,
    path: &str,
    uri: &Uri,
    headers: &HeaderMap,
    presented: &Presented,
    payload: &str,
) -> String {
    let mut query: Vec<(String, String)> = query_pairs(uri.query())
        .filter(|(k, _)| !(presented.from_query && k == "X-Amz-Signature"))
        .map(|(k, v)| (encode(&k, UNRESERVED), encode(&v, UNRESERVED)))
        .collect();
    query.sort();
    let query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let canonical_headers: String = presented
        .signed_headers
        .split(';')
        .map(|name| {
            let values: Vec<String> = headers
                .get_all(name)
                .iter()
                .map(|v| {
                    String::from_utf8_lossy(v.as_bytes())
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            format!("{name}:{}\n", values.join(","))
        })
        .collect();
    format!(
        "{method}\n{path}\n{query}\n{canonical_headers}\n{}\n{payload}",
        presented.signed_headers
    )
}

/// A query's members, percent-decoded (`+` is a plus, as the SDKs encode a space as %20).
fn query_pairs(query: Option<&str>) -> impl Iterator<Item = (String, String)> + '_ {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            (decode(k), decode(v))
        })
}

/// RFC 3986's unreserved characters stay; everything else is percent-encoded.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
const PATH: &AsciiSet = &UNRESERVED.remove(b'/');

fn encode(text: &str, set: &'static AsciiSet) -> String {
    utf8_percent_encode(text, set).to_string()
}

/// The scope's day (`YYYYMMDD`) as a time within it, which is all the signing key takes.
fn scope_date(date: &str) -> Option<SystemTime> {
    let day = chrono::NaiveDate::parse_from_str(date, "%Y%m%d").ok()?;
    Some(day.and_hms_opt(12, 0, 0)?.and_utc().into())
}

fn amz_time(amz_date: &str) -> Option<SystemTime> {
    let time = chrono::NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ").ok()?;
    Some(time.and_utc().into())
}

/// Lower-case hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
#[path = "sigv4_tests.rs"]
mod tests;
