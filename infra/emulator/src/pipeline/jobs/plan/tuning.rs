//! A tuning job's search, run for real: the hyperparameters of each training job drawn
//! from the ranges by the strategy, each job's CreateTrainingJob request, and the
//! objective read from its metrics.

use serde_json::{json, Map, Value};

/// The strategies SageMaker offers, as the emulator runs them: Grid and Random as they
/// are; Bayesian and Hyperband draw at random (and the step says so).
pub fn strategy_note(config: &Value) -> Option<String> {
    match config["Strategy"].as_str().unwrap_or("Bayesian") {
        "Grid" | "Random" => None,
        other => Some(format!(
            "its {other} strategy runs as Random on the emulator"
        )),
    }
}

/// The hyperparameters of each training job: every combination of the categorical
/// values for Grid (which takes categorical ranges only), else `count` draws, each range
/// scaled by its ScalingType, from a generator seeded by the tuning job's name (a rerun
/// draws the same).
pub fn draws(
    config: &Value,
    ranges: &Value,
    count: usize,
    seed: u64,
) -> Result<Vec<Map<String, Value>>, String> {
    let categorical = ranges["CategoricalParameterRanges"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let numeric = ["IntegerParameterRanges", "ContinuousParameterRanges"]
        .iter()
        .any(|k| ranges[k].as_array().is_some_and(|l| !l.is_empty()));
    if config["Strategy"] == "Grid" {
        if numeric {
            return Err("a Grid strategy takes categorical parameter ranges only".into());
        }
        let mut combinations = vec![Map::new()];
        for range in &categorical {
            let name = range["Name"].as_str().unwrap_or_default();
            let values = range["Values"].as_array().cloned().unwrap_or_default();
            combinations = combinations
                .into_iter()
                .flat_map(|c| {
                    values.iter().map(move |v| {
                        let mut next = c.clone();
                        next.insert(name.to_owned(), v.clone());
                        next
                    })
                })
                .collect();
        }
        return Ok(combinations);
    }
    let mut random = Random(seed | 1);
    (0..count)
        .map(|_| {
            let mut drawn = Map::new();
            for range in &categorical {
                let values = range["Values"].as_array().cloned().unwrap_or_default();
                if let (Some(name), false) = (range["Name"].as_str(), values.is_empty()) {
                    let pick = (random.next() * values.len() as f64) as usize;
                    drawn.insert(name.to_owned(), values[pick.min(values.len() - 1)].clone());
                }
            }
            for (key, integer) in [
                ("IntegerParameterRanges", true),
                ("ContinuousParameterRanges", false),
            ] {
                for range in ranges[key].as_array().into_iter().flatten() {
                    let name = range["Name"].as_str().unwrap_or_default();
                    let number = |m: &str| match &range[m] {
                        Value::String(t) => t.parse::<f64>().ok(),
                        other => other.as_f64(),
                    };
                    let (Some(low), Some(high)) = (number("MinValue"), number("MaxValue")) else {
                        return Err(format!(
                            "the range of {name} has no numeric MinValue and MaxValue"
                        ));
                    };
                    let scaling = range["ScalingType"].as_str().unwrap_or("Auto");
                    let value = scaled(low, high, scaling, random.next())
                        .map_err(|why| format!("the range of {name}: {why}"))?;
                    let text = if integer {
                        format!("{}", value.round().clamp(low, high) as i64)
                    } else {
                        format!("{value}")
                    };
                    drawn.insert(name.to_owned(), json!(text));
                }
            }
            Ok(drawn)
        })
        .collect()
}

/// A point of [low, high] at `share` (0 to 1) along the range's scale.
fn scaled(low: f64, high: f64, scaling: &str, share: f64) -> Result<f64, String> {
    Ok(match scaling {
        "Logarithmic" => {
            if low <= 0.0 {
                return Err("Logarithmic scaling needs a MinValue above 0".into());
            }
            (low.ln() + (high.ln() - low.ln()) * share).exp()
        }
        "ReverseLogarithmic" => {
            if !(0.0..1.0).contains(&low) || high >= 1.0 {
                return Err("ReverseLogarithmic scaling needs 0 <= MinValue < MaxValue < 1".into());
            }
            1.0 - ((1.0 - high).ln() + ((1.0 - low).ln() - (1.0 - high).ln()) * (1.0 - share)).exp()
        }
        _ => low + (high - low) * share,
    })
}

/// A small generator (xorshift64*): enough for draws that must repeat, no more.
struct Random(u64);

impl Random {
    /// A number in [0, 1).
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The CreateTrainingJob request a tuning job makes of `definition` with `tuned`: the
/// static hyperparameters, the drawn ones, and `_tuning_objective_metric`, which
/// SageMaker passes to a built-in algorithm.
pub fn training_request(
    definition: &Value,
    tuned: &Map<String, Value>,
    metric: Option<&str>,
) -> Value {
    let mut hyperparameters = definition["StaticHyperParameters"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for (name, value) in tuned {
        let text = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned);
        hyperparameters.insert(name.clone(), json!(text));
    }
    let built_in = !hyperparameters.contains_key("sagemaker_program")
        && definition["AlgorithmSpecification"]["TrainingImage"]
            .as_str()
            .and_then(super::xgboost::image_version)
            .is_some();
    if let (Some(metric), true) = (metric, built_in) {
        hyperparameters
            .entry("_tuning_objective_metric")
            .or_insert_with(|| json!(metric));
    }
    let mut request = json!({"HyperParameters": hyperparameters});
    for member in [
        "AlgorithmSpecification",
        "InputDataConfig",
        "OutputDataConfig",
        "ResourceConfig",
        "StoppingCondition",
        "Environment",
        "RoleArn",
        "CheckpointConfig",
    ] {
        if !definition[member].is_null() {
            request[member] = definition[member].clone();
        }
    }
    request
}

/// The objective's value among a job's final metrics.
pub fn objective(final_metrics: &[Value], metric: &str) -> Option<f64> {
    final_metrics
        .iter()
        .find(|m| m["MetricName"] == metric)
        .and_then(|m| m["Value"].as_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_takes_every_combination_and_refuses_numeric_ranges() {
        let grid = json!({"Strategy": "Grid"});
        let ranges = json!({"CategoricalParameterRanges": [
            {"Name": "a", "Values": ["1", "2"]}, {"Name": "b", "Values": ["x", "y", "z"]}]});
        let drawn = draws(&grid, &ranges, 0, 1).unwrap();
        assert_eq!(drawn.len(), 6);
        assert_eq!(drawn[5]["a"], "2");
        assert_eq!(drawn[5]["b"], "z");
        let numeric =
            json!({"IntegerParameterRanges": [{"Name": "n", "MinValue": "1", "MaxValue": "3"}]});
        assert!(draws(&grid, &numeric, 0, 1).is_err());
    }

    #[test]
    fn random_draws_stay_in_range_on_their_scale_and_repeat_per_seed() {
        let random = json!({"Strategy": "Random"});
        let ranges = json!({
            "IntegerParameterRanges": [{"Name": "depth", "MinValue": "2", "MaxValue": "8"}],
            "ContinuousParameterRanges": [
                {"Name": "eta", "MinValue": "0.001", "MaxValue": "1", "ScalingType": "Logarithmic"},
                {"Name": "sub", "MinValue": "0.5", "MaxValue": "0.99", "ScalingType": "ReverseLogarithmic"}]});
        let drawn = draws(&random, &ranges, 200, 7).unwrap();
        assert_eq!(drawn, draws(&random, &ranges, 200, 7).unwrap());
        assert_ne!(drawn, draws(&random, &ranges, 200, 8).unwrap());
        let value =
            |d: &Map<String, Value>, k: &str| d[k].as_str().unwrap().parse::<f64>().unwrap();
        let mut below_tenth = 0;
        for d in &drawn {
            assert!((2.0..=8.0).contains(&value(d, "depth")));
            assert!((0.001..=1.0).contains(&value(d, "eta")));
            assert!((0.5..=0.99).contains(&value(d, "sub")));
            below_tenth += usize::from(value(d, "eta") < 0.1);
        }
        // On a log scale two thirds of [0.001, 1] lie below 0.1; linearly a tenth would.
        assert!(below_tenth > 100, "{below_tenth} of 200 below 0.1");
        let bad = json!({"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1", "ScalingType": "Logarithmic"}]});
        assert!(draws(&random, &bad, 1, 1)
            .unwrap_err()
            .contains("MinValue above 0"));
    }

    #[test]
    fn a_training_request_carries_static_and_tuned_values_and_the_objective_for_an_algorithm() {
        let definition = json!({"StaticHyperParameters": {"num_round": "10"},
            "AlgorithmSpecification": {"TrainingImage": "x/sagemaker-xgboost:1.7-1"},
            "OutputDataConfig": {"S3OutputPath": "s3://b/o"}});
        let tuned = json!({"eta": "0.3"}).as_object().unwrap().clone();
        let request = training_request(&definition, &tuned, Some("validation:rmse"));
        assert_eq!(
            request["HyperParameters"],
            json!({"num_round": "10", "eta": "0.3", "_tuning_objective_metric": "validation:rmse"})
        );
        assert_eq!(request["OutputDataConfig"], definition["OutputDataConfig"]);
        assert_eq!(
            strategy_note(&json!({"Strategy": "Bayesian"})).unwrap(),
            "its Bayesian strategy runs as Random on the emulator"
        );
    }
}
