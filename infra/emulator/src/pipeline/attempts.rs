//! RetryPolicies: whether a failed attempt is tried again, and after how long.

use std::time::Duration;

use super::definition::RetryPolicy;

/// The wait before the next attempt, or None when the step fails for good.
///
/// The first policy whose ExceptionType names the failure decides, as in SageMaker:
/// `MaxAttempts` counts the retries after the first attempt, `ExpireAfterMin` the time
/// since the first attempt started. Each wait is IntervalSeconds × BackoffRate^(n−1)
/// before retry n. A failure that is not transient (`fault` None) is never retried.
pub fn retry_delay(
    policies: &[RetryPolicy],
    fault: Option<&str>,
    attempts_made: u32,
    since_first: Duration,
) -> Option<Duration> {
    let fault = fault?;
    let policy = policies
        .iter()
        .find(|p| p.exception_types.iter().any(|t| t == fault))?;
    let retries_made = attempts_made.saturating_sub(1);
    let delay = policy
        .interval
        .mul_f64(policy.backoff_rate.powi(retries_made as i32));
    match (policy.max_attempts, policy.expire_after) {
        (Some(max), _) if retries_made < max => Some(delay),
        (None, Some(expire)) if since_first + delay <= expire => Some(delay),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max_attempts: Option<u32>, expire_after: Option<Duration>) -> RetryPolicy {
        RetryPolicy {
            exception_types: vec!["Step.THROTTLING".into()],
            interval: Duration::from_secs(1),
            backoff_rate: 2.0,
            max_attempts,
            expire_after,
        }
    }

    #[test]
    fn retries_matching_faults_with_backoff_up_to_max_attempts() {
        let policies = [policy(Some(2), None)];
        let delay =
            |attempts| retry_delay(&policies, Some("Step.THROTTLING"), attempts, Duration::ZERO);
        assert_eq!(delay(1), Some(Duration::from_secs(1)));
        assert_eq!(delay(2), Some(Duration::from_secs(2)));
        assert_eq!(delay(3), None, "two retries after the first attempt");
        assert_eq!(
            retry_delay(&policies, Some("Step.SERVICE_FAULT"), 1, Duration::ZERO),
            None
        );
        assert_eq!(retry_delay(&policies, None, 1, Duration::ZERO), None);
        assert_eq!(
            retry_delay(&[], Some("Step.THROTTLING"), 1, Duration::ZERO),
            None
        );
    }

    #[test]
    fn expire_after_bounds_the_time_spent_retrying() {
        let policies = [policy(None, Some(Duration::from_secs(60)))];
        assert_eq!(
            retry_delay(
                &policies,
                Some("Step.THROTTLING"),
                3,
                Duration::from_secs(50)
            ),
            Some(Duration::from_secs(4))
        );
        assert_eq!(
            retry_delay(
                &policies,
                Some("Step.THROTTLING"),
                3,
                Duration::from_secs(57)
            ),
            None
        );
    }
}
