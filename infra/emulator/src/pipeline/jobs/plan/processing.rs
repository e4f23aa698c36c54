//! A Processing step's job: its entrypoint in the user's interpreter, its inputs and
//! outputs between local S3 and the job's `/opt/ml/processing`.

use std::path::PathBuf;

use serde_json::Value;

use super::{below_opt_ml, environment, max_runtime, one_instance, runnable_program, strings};
use crate::code_jobs::{CodeJob, Download, Upload};

/// A CreateProcessingJob request (a Processing step's evaluated Arguments) as the job to
/// run: its entrypoint in the user's interpreter, its S3 inputs at their LocalPaths, its
/// outputs uploaded from theirs.
pub fn processing(request: &Value, job_name: &str) -> Result<CodeJob, String> {
    let app = &request["AppSpecification"];
    let entrypoint = strings(&app["ContainerEntrypoint"]);
    let Some(program) = entrypoint.first() else {
        return Err(format!(
            "its image {} runs its own entrypoint (no ContainerEntrypoint): no script to run",
            app["ImageUri"].as_str().unwrap_or("?")
        ));
    };
    if !runnable_program(program) {
        return Err(format!(
            "its entrypoint '{program}' is not a Python interpreter or a shell"
        ));
    }
    let mut command = entrypoint.clone();
    command.extend(strings(&app["ContainerArguments"]));
    one_instance(&request["ProcessingResources"]["ClusterConfig"]["InstanceCount"])?;

    let mut downloads = Vec::new();
    for input in request["ProcessingInputs"].as_array().into_iter().flatten() {
        let name = input["InputName"].as_str().unwrap_or("?");
        let s3 = &input["S3Input"];
        if s3.is_null() {
            return Err(format!(
                "its input '{name}' is a DatasetDefinition (Athena or Redshift), which the emulator has no data for"
            ));
        }
        let staging = super::staging_of(s3["S3DataType"].as_str(), &format!("its input '{name}'"))?;
        for (member, allowed) in [("S3InputMode", "File"), ("S3CompressionType", "None")] {
            if let Some(value) = s3[member].as_str().filter(|v| *v != allowed) {
                return Err(format!(
                    "its input '{name}' has {member} {value}; the emulator stages {member} {allowed} only"
                ));
            }
        }
        let uri = s3["S3Uri"]
            .as_str()
            .ok_or_else(|| format!("its input '{name}' has no S3Uri"))?;
        let local = s3["LocalPath"]
            .as_str()
            .ok_or_else(|| format!("its input '{name}' has no LocalPath"))?;
        downloads.push(Download {
            s3_uri: uri.to_owned(),
            local: below_opt_ml(local, &format!("the LocalPath of input '{name}'"))?,
            kind: staging,
        });
    }

    let mut uploads = Vec::new();
    for output in request["ProcessingOutputConfig"]["Outputs"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let name = output["OutputName"].as_str().unwrap_or("?");
        let s3 = &output["S3Output"];
        if s3.is_null() {
            return Err(format!(
                "its output '{name}' goes to the Feature Store, which the emulator does not have"
            ));
        }
        let uri = s3["S3Uri"]
            .as_str()
            .ok_or_else(|| format!("its output '{name}' has no S3Uri"))?;
        let local = s3["LocalPath"]
            .as_str()
            .ok_or_else(|| format!("its output '{name}' has no LocalPath"))?;
        uploads.push(Upload {
            local: below_opt_ml(local, &format!("the LocalPath of output '{name}'"))?,
            s3_uri: uri.to_owned(),
        });
    }

    Ok(CodeJob {
        name: job_name.to_owned(),
        command,
        env: environment(&request["Environment"]),
        cwd: PathBuf::from("/"),
        folders: uploads.iter().map(|u| u.local.clone()).collect(),
        downloads,
        uploads,
        files: Vec::new(),
        archives: Vec::new(),
        max_runtime: max_runtime(request),
        note: None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::refused;
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn request() -> Value {
        json!({
            "AppSpecification": {"ImageUri": "sklearn", "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/pre.py"],
                                 "ContainerArguments": ["--ratio", "0.2"]},
            "Environment": {"MODE": "local"},
            "ProcessingInputs": [{"InputName": "code", "S3Input": {"S3Uri": "s3://b/code/pre.py", "LocalPath": "/opt/ml/processing/input/code",
                                  "S3DataType": "S3Prefix", "S3InputMode": "File", "S3CompressionType": "None"}}],
            "ProcessingOutputConfig": {"Outputs": [{"OutputName": "train", "S3Output": {"S3Uri": "s3://b/out/train", "LocalPath": "/opt/ml/processing/train"}}]},
            "StoppingCondition": {"MaxRuntimeInSeconds": 60}
        })
    }

    #[test]
    fn channel_names_outside_the_models_pattern_are_refused() {
        for bad in ["..", ".", "../../etc", "a/b", "", &"c".repeat(65)] {
            let request = json!({"InputDataConfig": [{"ChannelName": bad}]});
            assert!(refused("Training", &request).is_err(), "{bad}");
        }
        let good = json!({"InputDataConfig": [{"ChannelName": "train-1.v_2"}]});
        assert!(refused("Training", &good).is_ok());
    }

    #[test]
    fn a_script_mode_request_is_its_command_inputs_and_outputs() {
        let job = processing(&request(), "pipelines-x-Pre").unwrap();
        assert_eq!(
            job.command,
            [
                "python3",
                "/opt/ml/processing/input/code/pre.py",
                "--ratio",
                "0.2"
            ]
        );
        assert_eq!(job.env, [("MODE".to_owned(), "local".to_owned())]);
        assert_eq!(
            job.downloads[0].local,
            PathBuf::from("processing/input/code")
        );
        assert_eq!(job.uploads[0].s3_uri, "s3://b/out/train");
        assert_eq!(job.max_runtime, Duration::from_secs(60));
    }

    #[test]
    fn what_cannot_run_says_why() {
        let mut built_in = request();
        built_in["AppSpecification"] = json!({"ImageUri": "model-monitor"});
        assert!(processing(&built_in, "j")
            .unwrap_err()
            .contains("own entrypoint"));
        let mut many = request();
        many["ProcessingResources"] = json!({"ClusterConfig": {"InstanceCount": 2}});
        assert!(processing(&many, "j").unwrap_err().contains("2 instances"));
        let mut java = request();
        java["AppSpecification"]["ContainerEntrypoint"] = json!(["java", "-jar", "x.jar"]);
        assert!(processing(&java, "j").unwrap_err().contains("'java'"));
        let mut pipe = request();
        pipe["ProcessingInputs"][0]["S3Input"]["S3InputMode"] = json!("Pipe");
        assert!(processing(&pipe, "j")
            .unwrap_err()
            .contains("S3InputMode Pipe"));
        let mut outside = request();
        outside["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["LocalPath"] =
            json!("/tmp/out");
        assert!(processing(&outside, "j")
            .unwrap_err()
            .contains("not a folder below /opt/ml"));
        assert!(refused("Processing", &outside).is_err());
        for trick in [
            "/opt/ml/../../etc",
            "/opt/ml//etc",
            "/opt/ml/./x",
            "/opt/ml/",
            "/opt/mlx/y",
        ] {
            let mut escape = request();
            escape["ProcessingInputs"][0]["S3Input"]["LocalPath"] = json!(trick);
            let refused = refused("Processing", &escape).unwrap_err();
            assert!(refused.contains(trick), "{refused}");
            assert!(processing(&escape, "j").is_err());
        }
        assert!(refused("Processing", &request()).is_ok());
        assert_eq!(
            below_opt_ml("/opt/ml/processing/output/", "x").unwrap(),
            PathBuf::from("processing/output")
        );
    }

    #[test]
    fn a_manifest_input_stages_what_it_lists_and_an_augmented_one_is_said() {
        let mut manifest = request();
        manifest["ProcessingInputs"][0]["S3Input"]["S3DataType"] = json!("ManifestFile");
        let job = processing(&manifest, "j").unwrap();
        assert_eq!(job.downloads[0].kind, crate::code_jobs::Staging::Manifest);
        manifest["ProcessingInputs"][0]["S3Input"]["S3DataType"] = json!("AugmentedManifestFile");
        assert!(processing(&manifest, "j")
            .unwrap_err()
            .contains("its input 'code' has S3DataType AugmentedManifestFile"));
    }
}
