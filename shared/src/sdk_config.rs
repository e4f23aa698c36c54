//! The AWS SDK configuration every handler builds its clients from.
//!
//! AWS service endpoints present certificates that chain to Amazon Trust Services roots.
//! Trusting only those, compiled in, is stricter than the system store and skips what
//! dominated the cold start: reading and parsing every system root certificate (a
//! bundle of ~140 plus a scan of the certificate folder). `TLS_TRUST_STORE=system`
//! restores the system store, for a TLS-inspecting proxy or custom HTTPS endpoints.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};

use crate::settings::{text_or, SettingError};

/// Amazon Root CA 1 to 4 and Starfield Services Root Certificate Authority - G2.
const AMAZON_TRUST_SERVICES: &str = include_str!("certs/amazon-trust-services.pem");

/// The SDK configuration from the environment, with the trust store `TLS_TRUST_STORE` names.
pub async fn load() -> Result<SdkConfig, SettingError> {
    let loader = aws_config::defaults(BehaviorVersion::latest());
    let loader = match text_or("TLS_TRUST_STORE", "amazon").as_str() {
        "amazon" => {
            let trust = TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES);
            let context = TlsContext::builder()
                .with_trust_store(trust)
                .build()
                .map_err(|e| SettingError {
                    name: "TLS_TRUST_STORE",
                    problem: e.to_string(),
                })?;
            let client = aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
                .tls_context(context)
                .build_https();
            loader.http_client(client)
        }
        "system" => loader,
        other => {
            return Err(SettingError {
                name: "TLS_TRUST_STORE",
                problem: format!("'{other}' is not amazon or system"),
            })
        }
    };
    Ok(loader.load().await)
}

#[cfg(test)]
mod tests {
    use super::AMAZON_TRUST_SERVICES;

    #[test]
    fn the_compiled_in_roots_are_the_five_amazon_trust_services_roots() {
        assert_eq!(
            AMAZON_TRUST_SERVICES
                .matches("-----BEGIN CERTIFICATE-----")
                .count(),
            5
        );
    }
}
