//! CacheConfig: a step whose evaluated arguments match those of a step that succeeded
//! in an earlier execution of the same pipeline, within ExpireAfter, is not run again;
//! it succeeds with that step's properties, and CacheHitResult names the execution.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde_json::Value;

/// A step that succeeded, as a later execution may reuse it.
#[derive(Clone, Debug, PartialEq)]
pub struct CachedStep {
    pub execution_arn: String,
    pub ended: SystemTime,
    pub properties: Value,
    pub metadata: Value,
}

#[derive(Debug)]
struct Entry {
    pipeline: String,
    step: String,
    /// The step type and its evaluated arguments, as canonical JSON (serde_json
    /// writes object keys in order).
    signature: String,
    cached: CachedStep,
}

/// Every cacheable step that succeeded, newest last.
#[derive(Debug, Default)]
pub struct StepCache {
    entries: Mutex<Vec<Entry>>,
}

/// What two runs of a step must share to be the same work.
pub fn signature(step_type: &str, inputs: &Value) -> String {
    format!("{step_type}:{inputs}")
}

impl StepCache {
    pub fn remember(&self, pipeline: &str, step: &str, signature: String, cached: CachedStep) {
        self.entries.lock().unwrap().push(Entry {
            pipeline: pipeline.to_owned(),
            step: step.to_owned(),
            signature,
            cached,
        });
    }

    /// The newest matching success still within `expire_after` (None: never expires).
    pub fn lookup(
        &self,
        pipeline: &str,
        step: &str,
        signature: &str,
        expire_after: Option<Duration>,
    ) -> Option<CachedStep> {
        let now = SystemTime::now();
        self.entries
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|e| e.pipeline == pipeline && e.step == step && e.signature == signature)
            .filter(|e| {
                expire_after.is_none_or(|limit| {
                    now.duration_since(e.cached.ended).unwrap_or_default() <= limit
                })
            })
            .map(|e| e.cached.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cached(ended: SystemTime) -> CachedStep {
        CachedStep {
            execution_arn: "arn:first".into(),
            ended,
            properties: json!({"Id": "s-1"}),
            metadata: json!({}),
        }
    }

    #[test]
    fn a_hit_needs_the_same_pipeline_step_and_arguments_within_expiry() {
        let cache = StepCache::default();
        let sig = signature("EMR", &json!({"ClusterId": "j-1"}));
        cache.remember("p", "Prepare", sig.clone(), cached(SystemTime::now()));
        let hour = Some(Duration::from_secs(3600));
        assert_eq!(
            cache
                .lookup("p", "Prepare", &sig, hour)
                .unwrap()
                .execution_arn,
            "arn:first"
        );
        assert!(cache.lookup("q", "Prepare", &sig, hour).is_none());
        assert!(cache.lookup("p", "Other", &sig, hour).is_none());
        let other = signature("EMR", &json!({"ClusterId": "j-2"}));
        assert!(cache.lookup("p", "Prepare", &other, hour).is_none());

        let old = StepCache::default();
        old.remember(
            "p",
            "Prepare",
            sig.clone(),
            cached(SystemTime::now() - Duration::from_secs(7200)),
        );
        assert!(old.lookup("p", "Prepare", &sig, hour).is_none(), "expired");
        assert!(
            old.lookup("p", "Prepare", &sig, None).is_some(),
            "no ExpireAfter"
        );
    }
}
