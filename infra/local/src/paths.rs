//! Where the stack finds the workspace's binaries and the Python tools it runs.

use std::path::PathBuf;

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = here.join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The folder holding the handler binaries: `LOCAL_STACK_BIN_DIR`, else the debug
/// profile of `CARGO_TARGET_DIR` or of the workspace's `target/`.
pub fn binary_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LOCAL_STACK_BIN_DIR") {
        return PathBuf::from(dir);
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
            "handler binary {} not found: run `cargo build --workspace --bins` first (or set LOCAL_STACK_BIN_DIR)",
            path.display()
        ))
    }
}

/// The moto server executable: `MOTO_SERVER`, else the workspace's `.venv`.
pub fn moto_server() -> Result<PathBuf, String> {
    let path = std::env::var_os("MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/moto_server"));
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "moto server not found at {}: run `scripts/setup` (it installs the pinned moto into .venv) or set MOTO_SERVER",
            path.display()
        ))
    }
}
