//! The AWS SDK configuration every handler builds its clients from.
//!
//! AWS service endpoints present certificates that chain to Amazon Trust Services roots.
//! Trusting only those, compiled in, is stricter than the system store and skips what
//! dominated the cold start: reading and parsing every system root certificate (a
//! bundle of ~140 plus a scan of the certificate folder). `TLS_TRUST_STORE=system`
//! restores the system store, for a TLS-inspecting proxy or custom HTTPS endpoints.

use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

use crate::settings::{text_or, SettingError};

/// How long one attempt of a call may take, answer included. SageMaker's, EMR's and
/// EventBridge's calls answer within a second; a paginated EMR listing is one call a page.
const ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Amazon Root CA 1 to 4 and Starfield Services Root Certificate Authority - G2.
const AMAZON_TRUST_SERVICES: &str = include_str!("certs/amazon-trust-services.pem");

/// The SDK configuration from the environment, with the trust store `TLS_TRUST_STORE` names.
pub async fn load() -> Result<SdkConfig, SettingError> {
    let loader = aws_config::defaults(BehaviorVersion::latest());
    // Lambda gives a function its region and its role's credentials in the environment.
    // The default chains would first look for them in profile files, web identity,
    // containers and IMDS, and build an STS client (its partition table and regexes)
    // on the way: work Lambda's environment makes moot, about a tenth of the init.
    // Stalled-stream protection accounts for a body's throughput on every poll, with
    // timers; the handlers' requests and answers are a few hundred bytes of JSON, never
    // a stream. A call that hangs is bounded by an attempt timeout instead (one timer per
    // attempt), then retried as the SDK retries.
    let loader = loader
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                // The SDK's default, which setting a timeout config replaces.
                .connect_timeout(std::time::Duration::from_millis(3100))
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .build(),
        );
    let loader = match lambda_environment() {
        Some(region) => loader
            .region(Region::new(region))
            .credentials_provider(EnvironmentVariableCredentialsProvider::new()),
        None => loader,
    };
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
            loader.http_client(ConnectorAtFirstCall::shared(client))
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

/// The SDK's HTTPS client, whose connector (a rustls configuration with its trust
/// store) is built once, at the first call.
///
/// The SDK's client also builds one when each service client is made, to validate the
/// configuration early, and drops it: the first call builds its own (the connectors are
/// cached by timeout settings, which that early one lacks). That early connector is a
/// tenth of callback-queue's cold start over the floor for nothing.
#[derive(Debug)]
struct ConnectorAtFirstCall(SharedHttpClient);

impl ConnectorAtFirstCall {
    fn shared(client: SharedHttpClient) -> SharedHttpClient {
        SharedHttpClient::new(Self(client))
    }
}

impl HttpClient for ConnectorAtFirstCall {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

/// The region, when this process runs in a Lambda environment that holds its
/// credentials (`AWS_LAMBDA_FUNCTION_NAME`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`).
fn lambda_environment() -> Option<String> {
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    set("AWS_LAMBDA_FUNCTION_NAME")?;
    set("AWS_ACCESS_KEY_ID")?;
    set("AWS_REGION")
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorFuture};
    use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
    use aws_smithy_types::config_bag::ConfigBag;

    use super::*;

    /// An HTTP client that counts the connectors built to validate a configuration.
    #[derive(Debug, Default, Clone)]
    struct CountingClient(Arc<AtomicUsize>);

    impl HttpClient for CountingClient {
        fn http_connector(
            &self,
            _: &HttpConnectorSettings,
            _: &RuntimeComponents,
        ) -> SharedHttpConnector {
            SharedHttpConnector::new(Offline)
        }

        fn validate_base_client_config(
            &self,
            _: &RuntimeComponentsBuilder,
            _: &ConfigBag,
        ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    #[derive(Debug)]
    struct Offline;

    impl HttpConnector for Offline {
        fn call(&self, _: HttpRequest) -> HttpConnectorFuture {
            HttpConnectorFuture::ready(Err(ConnectorError::other("offline".into(), None)))
        }
    }

    fn connectors_built_making_a_client(client: SharedHttpClient) {
        let config = aws_sdk_sagemaker::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .http_client(client)
            .build();
        aws_sdk_sagemaker::Client::from_conf(config);
    }

    #[test]
    fn making_a_service_client_builds_no_connector_it_would_drop() {
        let plain = CountingClient::default();
        connectors_built_making_a_client(SharedHttpClient::new(plain.clone()));
        assert_eq!(
            plain.0.load(Ordering::SeqCst),
            1,
            "the SDK's own validation"
        );

        let wrapped = CountingClient::default();
        connectors_built_making_a_client(ConnectorAtFirstCall::shared(SharedHttpClient::new(
            wrapped.clone(),
        )));
        assert_eq!(wrapped.0.load(Ordering::SeqCst), 0);
    }

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
