//! Turning on `--run-code`: the interpreter found and tried, the kernel's namespaces
//! tried, before any pipeline starts, so a run that cannot work is refused saying why.

use std::path::{Path, PathBuf};

use super::Emulator;
use crate::code_jobs::sandbox;
use crate::pipeline::CodeSettings;

impl Emulator {
    /// Job steps run their own code in `python` (a path, or a name looked up on PATH):
    /// every step that can when `every_step` (`--run-code`), else those the mock file
    /// names (`"Run": "code"`). Refused when the interpreter does not start or a job
    /// cannot have its own `/opt/ml` here.
    pub async fn enable_code(&self, python: &str, every_step: bool) -> Result<(), String> {
        let python = interpreter(python)?;
        // Its version, and xgboost's if it has one (built-in XGBoost runs on it).
        let version = tokio::process::Command::new(&python)
            .args(["-c", PROBE])
            .output()
            .await
            .map_err(|e| format!("--python {}: {e}", python.display()))?;
        if !version.status.success() {
            return Err(format!(
                "--python {}: it does not run Python ({}): {}",
                python.display(),
                version.status,
                String::from_utf8_lossy(&version.stderr).trim()
            ));
        }
        if let Some(why) = sandbox::check(self.work_dir()).await {
            return Err(format!("--run-code: {why}"));
        }
        let xgboost = String::from_utf8_lossy(&version.stdout)
            .lines()
            .nth(1)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        self.sagemaker.pipelines().jobs().set_code(CodeSettings {
            python,
            every_step,
            xgboost,
        });
        Ok(())
    }
}

/// Prints the interpreter's version, then xgboost's (an empty line when it has none).
const PROBE: &str = "import sys\nprint(sys.version.split()[0])\ntry:\n    import xgboost\n    print(xgboost.__version__)\nexcept Exception:\n    print()\n";

/// The interpreter as an absolute path, not resolved through symlinks: a venv's python
/// is a symlink, and finds its venv by the path it is started from.
fn interpreter(python: &str) -> Result<PathBuf, String> {
    if python.contains('/') {
        let path = Path::new(python);
        let path = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|e| e.to_string())?
                .join(path)
        };
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("--python {python}: no such file"))
        };
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(python))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| format!("--python {python}: not found on PATH"))
}
