//! An AWS SDK client made when it is first used rather than when the handler starts.
//!
//! Making a client is not free: every SDK crate parses its own copy of the endpoint
//! partition table the first time one of its clients is made (about a seventh of a
//! handler's init time, profiled). A handler whose batches need only some of its
//! clients (a callback queue of `event` tasks never calls EMR) pays for the others at
//! their first use, or never.

use std::sync::OnceLock;

use aws_config::SdkConfig;

/// How a client is made from the SDK configuration (`aws_sdk_emr::Client::new`).
pub type MakeClient<C> = fn(&SdkConfig) -> C;

/// A client of type `C`, made from the SDK configuration on first use.
///
/// ```
/// use aws_config::{BehaviorVersion, Region, SdkConfig};
/// use sagemaker_custom_steps::sdk_client::ClientOnFirstUse;
///
/// let config = SdkConfig::builder()
///     .behavior_version(BehaviorVersion::latest())
///     .region(Region::new("eu-west-1"))
///     .build();
/// let emr = ClientOnFirstUse::new(&config, aws_sdk_emr::Client::new);
/// assert!(!emr.is_made());
/// assert_eq!(emr.get().config().region().unwrap().as_ref(), "eu-west-1");
/// assert!(emr.is_made());
/// ```
#[derive(Clone)]
pub struct ClientOnFirstUse<C> {
    /// The configuration and the function to make the client with; `None` when it was
    /// given made.
    source: Option<(SdkConfig, MakeClient<C>)>,
    client: OnceLock<C>,
}

impl<C> ClientOnFirstUse<C> {
    /// A client that `make` builds from `config` the first time [`get`](Self::get) is
    /// called.
    pub fn new(config: &SdkConfig, make: MakeClient<C>) -> Self {
        Self {
            source: Some((config.clone(), make)),
            client: OnceLock::new(),
        }
    }

    /// A client made already (tests, or a client configured by hand).
    pub fn made(client: C) -> Self {
        Self {
            source: None,
            client: OnceLock::from(client),
        }
    }

    /// The client, made now if it was not yet.
    pub fn get(&self) -> &C {
        self.client.get_or_init(|| {
            let (config, make) = self
                .source
                .as_ref()
                .expect("a client given without its configuration was given made");
            make(config)
        })
    }

    /// Whether the client has been made.
    pub fn is_made(&self) -> bool {
        self.client.get().is_some()
    }
}

impl<C> std::fmt::Debug for ClientOnFirstUse<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOnFirstUse")
            .field("made", &self.is_made())
            .finish()
    }
}
