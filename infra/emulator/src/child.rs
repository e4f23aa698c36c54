//! Processes the stack starts (moto server, functions, EMR steps) end with it: killed
//! when it drops them, and also when the stack itself is killed outright (SIGKILL, a
//! crashed test), which runs no destructor.

use tokio::process::Command;

/// Has the kernel kill the child when the thread that started it ends (the stack's
/// runtime threads live as long as the stack).
pub fn dies_with_parent(command: &mut Command) -> &mut Command {
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}
