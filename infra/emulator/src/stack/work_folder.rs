//! The stack's work folder: every job's data and scripts, the functions' homes, moto's
//! socket. It is the user's alone (0700), carries the pid of the stack that made it, and
//! is removed when that stack ends; one left by a stack that was killed outright (no
//! destructor ran) is swept by the next start.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

const PREFIX: &str = "pipelines-emulator-";
const OWNER_FILE: &str = "owner.pid";

/// A new work folder in the temporary folder, mode 0700, after sweeping the folders of
/// this user's stacks that are gone.
pub fn create() -> std::io::Result<tempfile::TempDir> {
    sweep(&std::env::temp_dir());
    let dir = tempfile::Builder::new()
        .prefix(PREFIX)
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()?;
    std::fs::write(dir.path().join(OWNER_FILE), std::process::id().to_string())?;
    Ok(dir)
}

/// A folder `name` in `parent`, mode 0700.
pub fn private_dir(parent: &Path, name: &str) -> std::io::Result<PathBuf> {
    let dir = parent.join(name);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    Ok(dir)
}

/// Removes the work folders under `temp` whose stack has ended: folders of this user
/// (only those are readable at 0700) whose owner file names a process that is gone.
pub fn sweep(temp: &Path) {
    let Ok(entries) = std::fs::read_dir(temp) else {
        return;
    };
    // SAFETY: getuid cannot fail and touches no memory.
    let uid = unsafe { libc::getuid() };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(PREFIX) {
            continue;
        }
        let path = entry.path();
        // Another user's folder is never touched, whatever its owner file says.
        let ours = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir() && m.uid() == uid);
        if !ours {
            continue;
        }
        let Some(pid) = std::fs::read_to_string(path.join(OWNER_FILE))
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_folder_is_the_users_alone_and_a_dead_stacks_is_swept() {
        let temp = tempfile::tempdir().unwrap();
        let live = temp.path().join(format!("{PREFIX}live"));
        let dead = temp.path().join(format!("{PREFIX}dead"));
        let other = temp.path().join("someone-elses");
        for dir in [&live, &dead, &other] {
            std::fs::create_dir(dir).unwrap();
        }
        std::fs::write(live.join(OWNER_FILE), std::process::id().to_string()).unwrap();
        // A pid above the kernel's pid_max is never alive.
        std::fs::write(dead.join(OWNER_FILE), "4294967295").unwrap();
        std::fs::write(other.join(OWNER_FILE), "4294967295").unwrap();
        sweep(temp.path());
        assert!(live.exists() && other.exists());
        assert!(!dead.exists());

        let made = create().unwrap();
        let mode = std::fs::metadata(made.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let private = private_dir(made.path(), "moto").unwrap();
        assert_eq!(
            std::fs::metadata(private).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
}
