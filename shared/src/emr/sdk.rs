use std::time::SystemTime;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_emr::config::http::HttpResponse;
use aws_sdk_emr::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_emr::primitives::DateTime;
use aws_sdk_emr::types as emr;
use aws_sdk_emr::Client;

use super::cluster_config::Configuration;
use super::{
    ClusterConfig, ClusterFilter, ClusterInfo, ClusterState, ClusterSummary, EmrError, EmrJobs,
    FailureDetails, StepInfo, StepRequest, StepState, CLUSTER_TAG,
};
use crate::sdk_client::ClientOnFirstUse;
use crate::sdk_error::describe_chain;

/// EMR through aws-sdk-emr.
#[derive(Clone, Debug)]
pub struct SdkEmr {
    client: ClientOnFirstUse<Client>,
}

impl SdkEmr {
    /// The adapter, calling EMR with `client`.
    pub fn new(client: Client) -> Self {
        Self {
            client: ClientOnFirstUse::made(client),
        }
    }

    /// The adapter, with a client made from `config` when EMR is first called: a
    /// handler that may never call EMR does not pay for the client at its start.
    pub fn on_first_use(config: &SdkConfig) -> Self {
        Self {
            client: ClientOnFirstUse::new(config, Client::new),
        }
    }
}

fn classify<E>(err: SdkError<E, HttpResponse>) -> EmrError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            let code = inner.code().unwrap_or("error");
            let message = inner.message().unwrap_or_default();
            let text = format!("{code}: {message}");
            let status = service.raw().status();
            if status.is_server_error() || code.contains("Throttl") || code == "InternalServerError"
            {
                EmrError::Transient(text)
            } else if message.contains("is not valid") || message.contains("does not exist") {
                EmrError::NotFound(text)
            } else {
                EmrError::Invalid(text)
            }
        }
        SdkError::ConstructionFailure(_) => EmrError::Invalid(describe_chain(&err)),
        _ => EmrError::Transient(describe_chain(&err)),
    }
}

fn step_info(
    cluster_id: &str,
    id: Option<&str>,
    name: Option<&str>,
    status: Option<&emr::StepStatus>,
) -> StepInfo {
    let failure = status
        .and_then(|s| s.failure_details())
        .map(|f| FailureDetails {
            reason: f.reason().map(str::to_owned),
            message: f.message().map(str::to_owned),
            log_file: f.log_file().map(str::to_owned),
        });
    StepInfo {
        id: id.unwrap_or_default().to_owned(),
        name: name.unwrap_or_default().to_owned(),
        cluster_id: cluster_id.to_owned(),
        state: StepState::parse(
            status
                .and_then(|s| s.state())
                .map(|s| s.as_str())
                .unwrap_or_default(),
        ),
        failure,
        created_at: status
            .and_then(|s| s.timeline())
            .and_then(|t| t.creation_date_time())
            .and_then(|t| SystemTime::try_from(*t).ok()),
        ended_at: status
            .and_then(|s| s.timeline())
            .and_then(|t| t.end_date_time())
            .and_then(|t| SystemTime::try_from(*t).ok()),
    }
}

fn step_config(step: &StepRequest) -> emr::StepConfig {
    let jar = emr::HadoopJarStepConfig::builder()
        .jar(&step.jar)
        .set_args(Some(step.args.clone()))
        .set_main_class(step.main_class.clone())
        .set_properties(Some(
            step.properties
                .iter()
                .map(|(k, v)| emr::KeyValue::builder().key(k).value(v).build())
                .collect(),
        ))
        .build();
    emr::StepConfig::builder()
        .name(&step.name)
        .action_on_failure(emr::ActionOnFailure::from(step.action_on_failure.as_str()))
        .hadoop_jar_step(jar)
        .build()
}

fn configuration(c: &Configuration) -> emr::Configuration {
    emr::Configuration::builder()
        .classification(&c.classification)
        .set_properties(Some(c.properties.clone().into_iter().collect()))
        .set_configurations(Some(c.configurations.iter().map(configuration).collect()))
        .build()
}

fn instances(config: &ClusterConfig) -> emr::JobFlowInstancesConfig {
    let i = &config.instances;
    emr::JobFlowInstancesConfig::builder()
        .set_master_instance_type(i.master_instance_type.clone())
        .set_slave_instance_type(i.slave_instance_type.clone())
        .set_instance_count(i.instance_count)
        .set_ec2_subnet_id(i.ec2_subnet_id.clone())
        .set_ec2_key_name(i.ec2_key_name.clone())
        .set_instance_groups(Some(
            i.instance_groups
                .iter()
                .map(|g| {
                    emr::InstanceGroupConfig::builder()
                        .set_name(g.name.clone())
                        .instance_role(emr::InstanceRoleType::from(g.instance_role.as_str()))
                        .instance_type(&g.instance_type)
                        .instance_count(g.instance_count)
                        .set_market(g.market.as_deref().map(emr::MarketType::from))
                        .build()
                })
                .collect(),
        ))
        // The cluster exists for its one step and ends with it.
        .keep_job_flow_alive_when_no_steps(false)
        .build()
}

#[async_trait]
impl EmrJobs for SdkEmr {
    async fn describe_cluster(&self, cluster_id: &str) -> Result<ClusterInfo, EmrError> {
        let answer = self
            .client
            .get()
            .describe_cluster()
            .cluster_id(cluster_id)
            .send()
            .await
            .map_err(classify)?;
        let cluster = answer
            .cluster()
            .ok_or_else(|| EmrError::NotFound(format!("no cluster {cluster_id}")))?;
        let status = cluster.status();
        Ok(ClusterInfo {
            id: cluster.id().unwrap_or(cluster_id).to_owned(),
            name: cluster.name().unwrap_or_default().to_owned(),
            state: ClusterState::parse(
                status
                    .and_then(|s| s.state())
                    .map(|s| s.as_str())
                    .unwrap_or_default(),
            ),
            log_uri: cluster.log_uri().map(str::to_owned),
            state_change_reason: status.and_then(|s| s.state_change_reason()).map(|r| {
                format!(
                    "{}: {}",
                    r.code().map(|c| c.as_str()).unwrap_or("UNKNOWN"),
                    r.message().unwrap_or_default()
                )
            }),
        })
    }

    async fn list_steps(
        &self,
        cluster_id: &str,
        states: &[StepState],
    ) -> Result<Vec<StepInfo>, EmrError> {
        let filter = (!states.is_empty()).then(|| {
            states
                .iter()
                .map(|s| emr::StepState::from(s.as_str()))
                .collect()
        });
        let mut pages = self
            .client
            .get()
            .list_steps()
            .cluster_id(cluster_id)
            .set_step_states(filter)
            .into_paginator()
            .send();
        let mut steps = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(classify)?;
            steps.extend(
                page.steps()
                    .iter()
                    .map(|s| step_info(cluster_id, s.id(), s.name(), s.status())),
            );
        }
        Ok(steps)
    }

    async fn describe_step(&self, cluster_id: &str, step_id: &str) -> Result<StepInfo, EmrError> {
        let answer = self
            .client
            .get()
            .describe_step()
            .cluster_id(cluster_id)
            .step_id(step_id)
            .send()
            .await
            .map_err(classify)?;
        let step = answer
            .step()
            .ok_or_else(|| EmrError::NotFound(format!("no step {step_id} on {cluster_id}")))?;
        Ok(step_info(cluster_id, step.id(), step.name(), step.status()))
    }

    async fn add_step(&self, cluster_id: &str, step: &StepRequest) -> Result<String, EmrError> {
        let answer = self
            .client
            .get()
            .add_job_flow_steps()
            .job_flow_id(cluster_id)
            .steps(step_config(step))
            .send()
            .await
            .map_err(classify)?;
        answer
            .step_ids()
            .first()
            .cloned()
            .ok_or_else(|| EmrError::Invalid("AddJobFlowSteps answered no step id".to_owned()))
    }

    async fn run_job_flow(
        &self,
        name: &str,
        config: &ClusterConfig,
        step: &StepRequest,
    ) -> Result<String, EmrError> {
        let mut tags: Vec<emr::Tag> = config
            .tags
            .iter()
            .map(|t| emr::Tag::builder().key(&t.key).value(&t.value).build())
            .collect();
        tags.push(
            emr::Tag::builder()
                .key(CLUSTER_TAG.0)
                .value(CLUSTER_TAG.1)
                .build(),
        );
        let answer = self
            .client
            .get()
            .run_job_flow()
            .name(name)
            .release_label(&config.release_label)
            .set_log_uri(config.log_uri.clone())
            .set_applications(Some(
                config
                    .applications
                    .iter()
                    .map(|a| emr::Application::builder().name(&a.name).build())
                    .collect(),
            ))
            .instances(instances(config))
            .set_service_role(config.service_role.clone())
            .set_job_flow_role(config.job_flow_role.clone())
            .set_configurations(Some(
                config.configurations.iter().map(configuration).collect(),
            ))
            .set_bootstrap_actions(Some(
                config
                    .bootstrap_actions
                    .iter()
                    .map(|b| {
                        emr::BootstrapActionConfig::builder()
                            .name(&b.name)
                            .script_bootstrap_action(
                                emr::ScriptBootstrapActionConfig::builder()
                                    .path(&b.script_bootstrap_action.path)
                                    .set_args(Some(b.script_bootstrap_action.args.clone()))
                                    .build(),
                            )
                            .build()
                    })
                    .collect(),
            ))
            .set_tags(Some(tags))
            .set_visible_to_all_users(config.visible_to_all_users)
            .set_security_configuration(config.security_configuration.clone())
            .steps(step_config(step))
            .send()
            .await
            .map_err(classify)?;
        answer
            .job_flow_id()
            .map(str::to_owned)
            .ok_or_else(|| EmrError::Invalid("RunJobFlow answered no cluster id".to_owned()))
    }

    async fn cancel_step(&self, cluster_id: &str, step_id: &str) -> Result<(), EmrError> {
        let answer = self
            .client
            .get()
            .cancel_steps()
            .cluster_id(cluster_id)
            .step_ids(step_id)
            .step_cancellation_option(emr::StepCancellationOption::SendInterrupt)
            .send()
            .await
            .map_err(classify)?;
        match answer.cancel_steps_info_list().first() {
            Some(info) if info.status() == Some(&emr::CancelStepsRequestStatus::Failed) => {
                Err(EmrError::Invalid(format!(
                    "CancelSteps refused {step_id}: {}",
                    info.reason().unwrap_or_default()
                )))
            }
            _ => Ok(()),
        }
    }

    async fn terminate_cluster(&self, cluster_id: &str) -> Result<(), EmrError> {
        self.client
            .get()
            .terminate_job_flows()
            .job_flow_ids(cluster_id)
            .send()
            .await
            .map(drop)
            .map_err(classify)
    }

    async fn list_clusters(&self, filter: &ClusterFilter) -> Result<Vec<ClusterSummary>, EmrError> {
        let states = (!filter.states.is_empty()).then(|| {
            filter
                .states
                .iter()
                .map(|s| emr::ClusterState::from(s.as_str()))
                .collect()
        });
        let mut pages = self
            .client
            .get()
            .list_clusters()
            .set_cluster_states(states)
            .set_created_after(filter.created_after.map(DateTime::from))
            .into_paginator()
            .send();
        let mut clusters = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(classify)?;
            clusters.extend(page.clusters().iter().map(|c| {
                ClusterSummary {
                    id: c.id().unwrap_or_default().to_owned(),
                    name: c.name().unwrap_or_default().to_owned(),
                    state: ClusterState::parse(
                        c.status()
                            .and_then(|s| s.state())
                            .map(|s| s.as_str())
                            .unwrap_or_default(),
                    ),
                    created_at: c
                        .status()
                        .and_then(|s| s.timeline())
                        .and_then(|t| t.creation_date_time())
                        .and_then(|t| SystemTime::try_from(*t).ok()),
                }
            }));
        }
        Ok(clusters)
    }
}
