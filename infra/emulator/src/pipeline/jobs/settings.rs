//! What job steps run with, set when the stack starts and read as each step starts:
//! the mock file, whether and with which interpreter code runs, and the versions of
//! model package groups that RegisterModel steps count.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use super::mocks::Mocks;

/// How job steps run their own code (`--run-code`, or `"Run": "code"` in the mock file).
#[derive(Clone, Debug, PartialEq)]
pub struct CodeSettings {
    /// The interpreter a job's `python` and `python3` are, an absolute path.
    pub python: PathBuf,
    /// Every job step whose code can run runs it (`--run-code`); otherwise only those
    /// the mock file names.
    pub every_step: bool,
    /// The interpreter's xgboost version, if it has one: built-in XGBoost runs on it.
    pub xgboost: Option<String>,
}

/// Job steps' settings, held beside the step cache by the pipelines' store; a step reads
/// them once, as it starts, so a change reaches the steps that start after it.
#[derive(Debug, Default)]
pub struct JobSettings {
    mocks: RwLock<Arc<Mocks>>,
    code: RwLock<Option<Arc<CodeSettings>>>,
    /// The last version of each model package group (by lower-case name) RegisterModel
    /// steps made.
    package_versions: Mutex<HashMap<String, u64>>,
}

impl JobSettings {
    /// How job steps behave from now on (`--mocks`).
    pub fn set_mocks(&self, mocks: Mocks) {
        *self.mocks.write().unwrap() = Arc::new(mocks);
    }

    /// The mock file's mocks, as loaded last.
    pub fn mocks(&self) -> Arc<Mocks> {
        self.mocks.read().unwrap().clone()
    }

    /// Job steps run their own code, as `settings` says.
    pub fn set_code(&self, settings: CodeSettings) {
        *self.code.write().unwrap() = Some(Arc::new(settings));
    }

    /// How job steps run their code, if they may.
    pub fn code(&self) -> Option<Arc<CodeSettings>> {
        self.code.read().unwrap().clone()
    }

    /// The next version of a model package group: 1 for its first package, as a
    /// group's versions count from 1 whichever execution registers them.
    pub fn next_package_version(&self, group: &str) -> u64 {
        let mut versions = self.package_versions.lock().unwrap();
        let version = versions.entry(group.to_lowercase()).or_default();
        *version += 1;
        *version
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_versions_count_per_group_whatever_its_case() {
        let settings = JobSettings::default();
        assert_eq!(settings.next_package_version("Abalone"), 1);
        assert_eq!(settings.next_package_version("abalone"), 2);
        assert_eq!(settings.next_package_version("churn"), 1);
    }

    #[test]
    fn code_runs_only_once_set() {
        let settings = JobSettings::default();
        assert!(settings.code().is_none());
        settings.set_code(CodeSettings {
            python: PathBuf::from("/usr/bin/python3"),
            every_step: true,
            xgboost: None,
        });
        assert!(settings.code().is_some_and(|c| c.every_step));
    }
}
