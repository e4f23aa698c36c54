//! Processes the stack starts (moto server, functions, EMR steps) end with it: killed
//! when it drops them, and also when the stack itself is killed outright (SIGKILL, a
//! crashed test), which runs no destructor.

use tokio::io::AsyncRead;
use tokio::process::{Child, Command};

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

/// One of a child's piped output streams, whichever it is.
pub type OutputStream = Box<dyn AsyncRead + Send + Unpin>;

/// The child's piped stdout and stderr, taken from it to be read.
pub fn take_output(child: &mut Child) -> Vec<OutputStream> {
    let stdout = child.stdout.take().map(|s| Box::new(s) as OutputStream);
    let stderr = child.stderr.take().map(|s| Box::new(s) as OutputStream);
    stdout.into_iter().chain(stderr).collect()
}
