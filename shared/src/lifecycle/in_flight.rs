//! The invocations a process has under way, counted from the moment the runtime hands
//! one over until its answer is posted, so a shutdown can wait for them.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use lambda_runtime::tower::Layer;
use lambda_runtime::{LambdaInvocation, Service};
use tokio::sync::Notify;

/// A count of invocations in flight, shared by the runtime's workers and the shutdown.
#[derive(Clone, Debug, Default)]
pub struct InFlight(Arc<Counter>);

#[derive(Debug, Default)]
struct Counter {
    count: AtomicUsize,
    idle: Notify,
}

impl InFlight {
    /// No invocation in flight yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one invocation until the returned guard is dropped.
    pub fn enter(&self) -> InFlightGuard {
        self.0.count.fetch_add(1, Ordering::SeqCst);
        InFlightGuard(self.0.clone())
    }

    /// The runtime layer that counts every invocation here ([`TrackInFlight`]).
    pub fn layer(&self) -> TrackInFlightLayer {
        TrackInFlightLayer(self.clone())
    }

    /// How many invocations are in flight now.
    pub fn count(&self) -> usize {
        self.0.count.load(Ordering::SeqCst)
    }

    /// Waits until none is in flight, for at most `grace`; whether none is.
    pub async fn drained(&self, grace: Duration) -> bool {
        let wait = async {
            loop {
                // Registered before the count is read, so a guard dropped in between
                // still wakes this wait.
                let idle = self.0.idle.notified();
                if self.count() == 0 {
                    return;
                }
                idle.await;
            }
        };
        tokio::time::timeout(grace, wait).await.is_ok()
    }
}

/// One invocation in flight; dropping it ends the count.
#[derive(Debug)]
pub struct InFlightGuard(Arc<Counter>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// A runtime layer counting every invocation in [`InFlight`]. Added outermost, so an
/// invocation counts until the runtime has posted its answer, not only until the
/// handler returned.
#[derive(Clone, Debug)]
pub struct TrackInFlight<S> {
    inner: S,
    in_flight: InFlight,
}

/// The layer that makes [`TrackInFlight`] services ([`InFlight::layer`]).
#[derive(Clone, Debug)]
pub struct TrackInFlightLayer(InFlight);

impl<S> Layer<S> for TrackInFlightLayer {
    type Service = TrackInFlight<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TrackInFlight {
            inner,
            in_flight: self.0.clone(),
        }
    }
}

impl<S> Service<LambdaInvocation> for TrackInFlight<S>
where
    S: Service<LambdaInvocation, Response = ()>,
    S::Future: Send + 'static,
{
    type Response = ();
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<(), S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, invocation: LambdaInvocation) -> Self::Future {
        let guard = self.in_flight.enter();
        let answered = self.inner.call(invocation);
        Box::pin(async move {
            let result = answered.await;
            drop(guard);
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drained_waits_for_the_last_guard() {
        let in_flight = InFlight::new();
        let first = in_flight.enter();
        let second = in_flight.enter();
        assert_eq!(in_flight.count(), 2);
        let waiting = tokio::spawn({
            let in_flight = in_flight.clone();
            async move { in_flight.drained(Duration::from_secs(10)).await }
        });
        drop(first);
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "one invocation is still in flight");
        drop(second);
        assert!(waiting.await.unwrap());
    }

    #[tokio::test]
    async fn drained_gives_up_after_the_grace() {
        let in_flight = InFlight::new();
        let _stuck = in_flight.enter();
        assert!(!in_flight.drained(Duration::from_millis(20)).await);
        assert_eq!(in_flight.count(), 1);
    }

    #[tokio::test]
    async fn nothing_in_flight_is_drained_at_once() {
        assert!(InFlight::new().drained(Duration::ZERO).await);
    }
}
