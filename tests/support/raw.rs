//! Requests written by hand on a socket, as a careless client or an intruder sends them:
//! unsigned, or signed (by the SDK's own signer) with whatever keys the test gives.

use std::time::SystemTime;

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Keys to sign with: an access key id and its secret.
pub type Keys<'a> = (&'a str, &'a str);

/// The SigV4 headers for a request to `url` with `headers` and `body`, for `service`.
pub fn signature(
    keys: Keys<'_>,
    service: &str,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Vec<(String, String)> {
    let identity =
        aws_credential_types::Credentials::new(keys.0, keys.1, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        method,
        url,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions
        .headers()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// An HTTP/1.1 request on a fresh connection to `endpoint`; answers the status and the
/// body, or None when the server closed the connection without answering.
pub async fn exchange(
    endpoint: &str,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Option<(u16, String)> {
    let address = endpoint.strip_prefix("http://").unwrap();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head += &format!("{k}: {v}\r\n");
    }
    head += "\r\n";
    // The server may close or answer before it read everything; that is its right.
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// An AWS JSON 1.1 POST of `target` to `endpoint`, signed with `keys` (None: unsigned).
pub async fn post_json(
    endpoint: &str,
    service: &str,
    target: &str,
    body: &[u8],
    keys: Option<Keys<'_>>,
) -> (u16, String) {
    let host = endpoint.strip_prefix("http://").unwrap();
    let mut headers = vec![
        ("host".to_owned(), host.to_owned()),
        ("x-amz-target".to_owned(), target.to_owned()),
        (
            "content-type".to_owned(),
            "application/x-amz-json-1.1".to_owned(),
        ),
    ];
    if let Some(keys) = keys {
        let url = format!("{endpoint}/");
        let signed = signature(keys, service, "POST", &url, &headers, body);
        headers.extend(signed);
    }
    exchange(endpoint, "POST", "/", &headers, body)
        .await
        .expect("an HTTP answer")
}
