//! Requests signed by the AWS SDK's own signer (aws-sigv4), checked by `verify`.

use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use axum::http::{HeaderMap, Method, Request, Uri};

use super::*;

fn credentials() -> Credentials {
    Credentials {
        access_key_id: "AKIAEXAMPLEEXAMPLE00".into(),
        secret_access_key: "s3cr3ts3cr3ts3cr3ts3cr3ts3cr3ts3cr3ts3cr".into(),
    }
}

fn signed(
    key: &str,
    secret: &str,
    token: Option<&str>,
    service: &str,
    url: &str,
    body: &[u8],
    presign: bool,
) -> Request<Vec<u8>> {
    let identity =
        aws_credential_types::Credentials::new(key, secret, token.map(str::to_owned), None, "t")
            .into();
    let mut settings = SigningSettings::default();
    if presign {
        settings.signature_location = aws_sigv4::http_request::SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(60));
    }
    if service == "s3" {
        settings.percent_encoding_mode = aws_sigv4::http_request::PercentEncodingMode::Single;
        settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let mut request = Request::builder()
        .method("POST")
        .uri(url)
        .header("host", "127.0.0.1:4566")
        .header("content-type", "application/x-amz-json-1.1")
        .body(body.to_vec())
        .unwrap();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    let signable = SignableRequest::new(
        "POST",
        url,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        if presign {
            SignableBody::UnsignedPayload
        } else {
            SignableBody::Bytes(body)
        },
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions.apply_to_request_http1x(&mut request);
    request
}

fn check(request: &Request<Vec<u8>>) -> Result<Scope, Refusal> {
    let hash = hex(&Sha256::digest(request.body()));
    // The server sees the path and query only.
    let uri: Uri = request
        .uri()
        .path_and_query()
        .unwrap()
        .as_str()
        .parse()
        .unwrap();
    verify(
        &credentials(),
        request.method(),
        &uri,
        request.headers(),
        Some(&hash),
    )
}

const URL: &str = "http://127.0.0.1:4566/";
const SECRET: &str = "s3cr3ts3cr3ts3cr3ts3cr3ts3cr3ts3cr3ts3cr";

#[test]
fn a_request_signed_with_the_stacks_keys_passes_with_its_service() {
    let request = signed(
        "AKIAEXAMPLEEXAMPLE00",
        SECRET,
        None,
        "sagemaker",
        URL,
        b"{}",
        false,
    );
    assert_eq!(check(&request).unwrap().service, "sagemaker");
}

#[test]
fn s3_paths_and_queries_are_signed_as_s3_signs_them() {
    let url = "http://127.0.0.1:4566/bucket/a%20b/c%2Bd.csv?list-type=2&prefix=a%20b&x=";
    let request = signed(
        "AKIAEXAMPLEEXAMPLE00",
        SECRET,
        None,
        "s3",
        url,
        b"data",
        false,
    );
    assert_eq!(check(&request).unwrap().service, "s3");
}

#[test]
fn another_key_a_wrong_secret_or_an_altered_body_are_refused() {
    let other = signed(
        "AKIAOTHEROTHEROTHER0",
        SECRET,
        None,
        "sagemaker",
        URL,
        b"{}",
        false,
    );
    assert!(matches!(check(&other), Err(Refusal::UnknownKey { .. })));
    let wrong = signed(
        "AKIAEXAMPLEEXAMPLE00",
        "guess",
        None,
        "sagemaker",
        URL,
        b"{}",
        false,
    );
    assert!(matches!(check(&wrong), Err(Refusal::BadSignature { .. })));
    let mut altered = signed(
        "AKIAEXAMPLEEXAMPLE00",
        SECRET,
        None,
        "sagemaker",
        URL,
        b"{}",
        false,
    );
    *altered.body_mut() = b"{\"PipelineName\": \"x\"}".to_vec();
    assert!(matches!(check(&altered), Err(Refusal::BadSignature { .. })));
}

#[test]
fn an_anonymous_request_or_a_session_token_is_refused() {
    let anonymous = Request::builder()
        .method(Method::POST)
        .uri("/")
        .body(Vec::new())
        .unwrap();
    assert_eq!(check(&anonymous), Err(Refusal::Missing));
    let with_token = signed(
        "AKIAEXAMPLEEXAMPLE00",
        SECRET,
        Some("the-users-real-token"),
        "sqs",
        URL,
        b"{}",
        false,
    );
    assert!(matches!(
        check(&with_token),
        Err(Refusal::TokenNotAccepted { .. })
    ));
    let mut headers = HeaderMap::new();
    headers.insert("authorization", "Basic dXNlcjpwYXNz".parse().unwrap());
    let basic = verify(
        &credentials(),
        &Method::GET,
        &"/".parse().unwrap(),
        &headers,
        None,
    );
    assert!(matches!(basic, Err(Refusal::Malformed(_))));
}

#[test]
fn a_presigned_url_passes_and_its_signature_is_checked() {
    let url = "http://127.0.0.1:4566/bucket/key.csv";
    let request = signed("AKIAEXAMPLEEXAMPLE00", SECRET, None, "s3", url, b"", true);
    assert_eq!(check(&request).unwrap().service, "s3");
    let forged = request
        .uri()
        .to_string()
        .replace("X-Amz-Signature=", "X-Amz-Signature=0");
    let forged = Request::builder()
        .uri(forged)
        .header("host", "127.0.0.1:4566")
        .body(Vec::new())
        .unwrap();
    assert!(matches!(check(&forged), Err(Refusal::BadSignature { .. })));
}
