//! One step from its arguments to its end: a cache hit (CacheConfig), or attempts until
//! one succeeds or its RetryPolicies give up.

use std::time::{Instant, SystemTime};

use serde_json::json;

use super::attempts::retry_delay;
use super::cache::{signature, CachedStep};
use super::step_task::{StepEnd, StepTask};

/// One step from its arguments to its end: a cache hit, or attempts until one
/// succeeds or its RetryPolicies give up.
pub async fn run_step(mut task: StepTask, pipeline_name: &str) -> StepEnd {
    let inputs = match task.inputs().await {
        Ok(inputs) => inputs,
        Err(reason) => return StepEnd::failed(reason),
    };
    task.pipelines.update_step(&task.arn, &task.step.name, |r| {
        r.inputs = Some(inputs.clone());
    });
    let cache = task
        .step
        .cache
        .clone()
        .filter(|c| c.enabled && task.step.kind.caches());
    let step_signature = signature(task.step.kind.type_name(), &inputs);
    if let Some(cache) = &cache {
        if let Some(hit) = task.pipelines.cache().lookup(
            pipeline_name,
            &task.step.name,
            &step_signature,
            cache.expire_after,
        ) {
            task.pipelines.update_step(&task.arn, &task.step.name, |r| {
                r.metadata = hit.metadata.clone();
                r.cache_hit = Some(hit.execution_arn.clone());
            });
            return StepEnd::Succeeded {
                properties: hit.properties,
                outcome: None,
            };
        }
    }
    let first_started = Instant::now();
    let end = loop {
        let end = task.run(inputs.clone()).await;
        let StepEnd::Failed { fault, .. } = &end else {
            break end;
        };
        let Some(delay) = retry_delay(
            &task.step.retry_policies,
            *fault,
            task.attempt,
            first_started.elapsed(),
        ) else {
            break end;
        };
        let mut stop = task.stop.clone();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = async { drop(stop.wait_for(|stopping| *stopping).await) } => {
                break StepEnd::Stopped("pipeline execution stopped between attempts".to_owned());
            }
        }
        task.attempt += 1;
        let attempt = task.attempt;
        task.pipelines
            .update_step(&task.arn, &task.step.name, |r| r.attempts = attempt);
    };
    if let (Some(_), StepEnd::Succeeded { properties, .. }) = (&cache, &end) {
        let metadata = task
            .read_record(|s| s.metadata.clone())
            .unwrap_or_else(|| json!({}));
        task.pipelines.cache().remember(
            pipeline_name,
            &task.step.name,
            step_signature,
            CachedStep {
                execution_arn: task.arn.clone(),
                ended: SystemTime::now(),
                properties: properties.clone(),
                metadata,
            },
        );
    }
    end
}
