use std::fmt;

use crate::text::shorten;

/// `arn:<partition>:sagemaker:<region>:<account>:pipeline/<pipeline>/execution/<id>`,
/// kept whole for logs and split for the tasks that need its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipelineExecutionArn {
    arn: String,
    /// `aws`, `aws-cn`, ...
    pub partition: String,
    /// The execution's region, where reports must go.
    pub region: String,
    /// The account id.
    pub account: String,
    /// The pipeline's name, as the ARN spells it (lower case).
    pub pipeline_name: String,
    /// The execution's id, the ARN's last segment.
    pub execution_id: String,
}

impl PipelineExecutionArn {
    /// Reads `arn:<partition>:sagemaker:<region>:<account>:pipeline/<name>/execution/<id>`; the error says which part is wrong.
    pub fn parse(arn: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("pipelineExecutionArn '{}' {why}", shorten(arn, 80));
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [prefix, partition, service, region, account, resource] = parts[..] else {
            return Err(bad("is not an ARN"));
        };
        if prefix != "arn" || !partition.starts_with("aws") {
            return Err(bad("is not an ARN"));
        }
        if service != "sagemaker" {
            return Err(bad("is not a SageMaker ARN"));
        }
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(bad("has no valid region"));
        }
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("has no valid 12-digit account"));
        }
        let segments: Vec<&str> = resource.split('/').collect();
        let ["pipeline", pipeline_name, "execution", execution_id] = segments[..] else {
            return Err(bad("is not a pipeline execution ARN"));
        };
        if pipeline_name.is_empty() || execution_id.is_empty() {
            return Err(bad("is not a pipeline execution ARN"));
        }
        Ok(Self {
            arn: arn.to_owned(),
            partition: partition.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            pipeline_name: pipeline_name.to_owned(),
            execution_id: execution_id.to_owned(),
        })
    }

    /// The ARN as SageMaker wrote it.
    pub fn as_str(&self) -> &str {
        &self.arn
    }
}

impl fmt::Display for PipelineExecutionArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_a_pipeline_execution_arn() {
        let arn = PipelineExecutionArn::parse(
            "arn:aws:sagemaker:us-east-2:012345678901:pipeline/p/execution/7pinimwddh3a",
        )
        .unwrap();
        assert_eq!(arn.partition, "aws");
        assert_eq!(arn.region, "us-east-2");
        assert_eq!(arn.account, "012345678901");
        assert_eq!(arn.pipeline_name, "p");
        assert_eq!(arn.execution_id, "7pinimwddh3a");
    }

    #[test]
    fn rejects_other_arns_with_a_reason() {
        for (arn, why) in [
            ("nope", "is not an ARN"),
            (
                "arn:aws:s3:us-east-2:012345678901:pipeline/p/execution/x",
                "SageMaker",
            ),
            (
                "arn:aws:sagemaker:us-east-2:0123:pipeline/p/execution/x",
                "account",
            ),
            (
                "arn:aws:sagemaker:us-east-2:012345678901:pipeline/p",
                "pipeline execution",
            ),
        ] {
            let err = PipelineExecutionArn::parse(arn).unwrap_err();
            assert!(err.contains(why), "{arn}: {err}");
        }
    }

    #[test]
    fn quotes_only_the_start_of_a_huge_arn() {
        let err = PipelineExecutionArn::parse(&"x".repeat(100_000)).unwrap_err();
        assert!(err.len() < 200);
    }
}
