//! Where the emulator finds its handler binaries, its template, moto server and its
//! state: beside itself when installed from the wheel, in the workspace when built in it.

use std::path::PathBuf;

/// The wheel's folder beside the installed command: `<prefix>/bin/pipelines-emulator`
/// with `<prefix>/share/sagemaker-pipelines-emulator/` holding the handler binaries
/// (`bin/`) and the SAM template.
pub fn installed_share() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let share = exe
        .parent()?
        .parent()?
        .join("share/sagemaker-pipelines-emulator");
    share.join("template.yaml").is_file().then_some(share)
}

/// The workspace root (two levels above this crate), where a build from the checkout
/// finds `target/`, `.venv` and `infra/template.yaml`.
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = here.join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The folder holding the handler binaries: `EMULATOR_BIN_DIR`; else the installed
/// wheel's; else the folder of the running command when the handlers are beside it (as
/// `cargo build` leaves them); else the debug profile of `CARGO_TARGET_DIR` or of the
/// workspace's `target/` (the tests, whose binaries live in `deps/`).
pub fn binary_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("EMULATOR_BIN_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(share) = installed_share() {
        return share.join("bin");
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(PathBuf::from))
        .filter(|dir| dir.join("callback-queue").is_file());
    if let Some(dir) = beside {
        return dir;
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("debug")
}

/// A handler binary by name, or a message saying how to build it.
pub fn handler_binary(name: &str) -> Result<PathBuf, String> {
    let path = binary_dir().join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "handler binary {} not found: run `cargo build --workspace --bins` first (or set EMULATOR_BIN_DIR)",
            path.display()
        ))
    }
}

/// The SAM template whose wiring the emulator deploys when none is named: the wheel's
/// copy when installed, else the workspace's `infra/template.yaml`.
pub fn template() -> PathBuf {
    installed_share()
        .map(|share| share.join("template.yaml"))
        .unwrap_or_else(|| workspace_root().join("infra/template.yaml"))
}

/// The moto server executable: `MOTO_SERVER`; else the one beside the running command
/// (pip puts the wheel's commands and moto's in the same venv `bin/`); else the
/// workspace's `.venv`.
pub fn moto_server() -> Result<PathBuf, String> {
    let beside = || {
        std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|dir| dir.join("moto_server")))
            .filter(|path| path.is_file())
    };
    let path = std::env::var_os("MOTO_SERVER")
        .map(PathBuf::from)
        .or_else(beside)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/moto_server"));
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "moto server not found at {}: install the wheel (moto comes with it), run `scripts/setup` in a checkout, or set MOTO_SERVER",
            path.display()
        ))
    }
}

/// Where `up` and `run` say where their endpoints are, for `stop`, `env` and `rerun`:
/// `EMULATOR_STATE_DIR`; else, installed, `$XDG_STATE_HOME/pipelines-emulator` (by
/// default `~/.local/state/`), so any shell of the user finds it; else
/// `.pipelines-emulator/` in the workspace.
pub fn state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("EMULATOR_STATE_DIR") {
        return PathBuf::from(dir);
    }
    if installed_share().is_some() {
        let state = std::env::var_os("XDG_STATE_HOME")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state"))
            })
            .unwrap_or_else(std::env::temp_dir);
        return state.join("pipelines-emulator");
    }
    workspace_root().join(".pipelines-emulator")
}
