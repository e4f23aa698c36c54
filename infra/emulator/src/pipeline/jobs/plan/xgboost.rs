//! Built-in XGBoost in algorithm mode (its image, no user script): the job runs the
//! project's own driver (`xgboost_algorithm.py`), written from the documented behaviour
//! of SageMaker's XGBoost container, with the xgboost of the job's interpreter.

use std::path::PathBuf;

/// The driver, shipped inside the emulator and written into each job's `/opt/ml/code`.
const DRIVER: &str = include_str!("xgboost_algorithm.py");
const DRIVER_FILE: &str = "code/pipelines_emulator_xgboost.py";

/// The container version of a built-in XGBoost image (`1.7-1` of
/// `683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1` or of a
/// `1.7-1-cpu-py3` tag); None for any other image.
pub fn image_version(image: &str) -> Option<String> {
    let (repository, tag) = image.rsplit_once(':')?;
    let name = repository.rsplit('/').next()?;
    if name != "sagemaker-xgboost" && name != "xgboost" {
        return None;
    }
    let version = tag
        .split("-cpu")
        .next()
        .and_then(|t| t.split("-gpu").next())
        .unwrap_or(tag);
    Some(version.to_owned())
}

/// The xgboost release a container version carries, as its image was built.
pub fn release_of(container: &str) -> Option<&'static str> {
    Some(match container {
        "0.90-1" | "0.90-2" => "0.90",
        "1.0-1" => "1.0",
        "1.2-1" | "1.2-2" => "1.2.0",
        "1.3-1" => "1.3.3",
        "1.5-1" => "1.5.2",
        "1.7-1" => "1.7.4",
        "3.0-5" => "3.0.5",
        _ => return None,
    })
}

/// How the job runs: its command, its environment, the driver file, and a note when the
/// interpreter's xgboost is not the image's. Refused, the step staying on its mock, when
/// the interpreter has no xgboost.
pub struct AlgorithmRun {
    /// The interpreter and the driver.
    pub command: Vec<String>,
    /// What the driver reads of the container's version.
    pub env: Vec<(String, String)>,
    /// The driver, written below `/opt/ml` before the job starts.
    pub file: (PathBuf, String),
    /// The installed xgboost against the image's, when they differ.
    pub note: Option<String>,
}

/// The algorithm-mode run of container `version`, with the interpreter's xgboost
/// `installed` (None: it has none).
pub fn algorithm_mode(version: &str, installed: Option<&str>) -> Result<AlgorithmRun, String> {
    let installed = installed.ok_or_else(|| {
        format!(
            "its image is built-in XGBoost {version}, and the job's interpreter (--python) has no xgboost: install it there (pip install xgboost{})",
            release_of(version).map(|r| format!("=={r}")).unwrap_or_default()
        )
    })?;
    let note = match release_of(version) {
        Some(release) if installed.starts_with(release) => None,
        Some(release) => Some(format!(
            "xgboost {installed} of --python in place of the image's {release}"
        )),
        None => Some(format!("xgboost {installed} of --python")),
    };
    Ok(AlgorithmRun {
        command: vec!["python".into(), format!("/opt/ml/{DRIVER_FILE}")],
        env: vec![(
            "PIPELINES_EMULATOR_XGBOOST_IMAGE".into(),
            version.to_owned(),
        )],
        file: (PathBuf::from(DRIVER_FILE), DRIVER.to_owned()),
        note,
    })
}

/// The metrics SageMaker defines for the algorithm, from its evaluation lines
/// (`[12]\ttrain-rmse:1.9\tvalidation-rmse:2.1`, the tab `#011` in CloudWatch): the last
/// value of each `train:<metric>` and `validation:<metric>`.
pub fn metrics(output: &str) -> Vec<(String, f64)> {
    let mut last: Vec<(String, f64)> = Vec::new();
    for line in output.lines() {
        let Some(rest) = line.trim_start().strip_prefix('[') else {
            continue;
        };
        let Some((round, fields)) = rest.split_once(']') else {
            continue;
        };
        if !round.chars().all(|c| c.is_ascii_digit()) || round.is_empty() {
            continue;
        }
        for field in fields.replace("#011", "\t").split('\t') {
            let Some((name, value)) = field.trim().split_once(':') else {
                continue;
            };
            let Some((channel, metric)) = name.split_once('-') else {
                continue;
            };
            let (Ok(value), true) = (
                value.trim().parse::<f64>(),
                matches!(channel, "train" | "validation"),
            ) else {
                continue;
            };
            let name = format!("{channel}:{metric}");
            match last.iter_mut().find(|(n, _)| *n == name) {
                Some(entry) => entry.1 = value,
                None => last.push((name, value)),
            }
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_xgboost_image_names_its_container_version() {
        let ecr = "683313688378.dkr.ecr.us-east-1.amazonaws.com";
        assert_eq!(
            image_version(&format!("{ecr}/sagemaker-xgboost:1.7-1")).as_deref(),
            Some("1.7-1")
        );
        assert_eq!(
            image_version(&format!("{ecr}/sagemaker-xgboost:1.0-1-cpu-py3")).as_deref(),
            Some("1.0-1")
        );
        assert_eq!(
            image_version(&format!("{ecr}/sagemaker-scikit-learn:1.2-1-cpu-py3")),
            None
        );
        assert_eq!(image_version("sklearn"), None);
    }

    #[test]
    fn no_xgboost_keeps_the_step_on_its_mock_and_another_release_is_said() {
        let refused = algorithm_mode("1.0-1", None).err().unwrap();
        assert!(refused.contains("pip install xgboost==1.0"), "{refused}");
        let run = algorithm_mode("1.0-1", Some("3.0.5")).unwrap();
        assert_eq!(
            run.note.unwrap(),
            "xgboost 3.0.5 of --python in place of the image's 1.0"
        );
        assert!(algorithm_mode("3.0-5", Some("3.0.5"))
            .unwrap()
            .note
            .is_none());
        assert_eq!(
            run.env,
            [(
                "PIPELINES_EMULATOR_XGBOOST_IMAGE".to_owned(),
                "1.0-1".to_owned()
            )]
        );
    }

    #[test]
    fn the_last_round_gives_each_channels_metrics() {
        let output =
            "pipelines-emulator: built-in XGBoost\n[0]\ttrain-rmse:9.5\tvalidation-rmse:9.7\n\
                      [1]#011train-rmse:4.25#011validation-rmse:4.5\n[2] not a round\n";
        assert_eq!(
            metrics(output),
            [
                ("train:rmse".to_owned(), 4.25),
                ("validation:rmse".to_owned(), 4.5)
            ]
        );
    }
}
