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

/// `pid` and every process below it, as the kernel lists each thread's children.
pub fn family(pid: u32) -> Vec<u32> {
    let mut members = vec![pid];
    let mut next = 0;
    while next < members.len() {
        let member = members[next];
        next += 1;
        let tasks = std::fs::read_dir(format!("/proc/{member}/task"));
        for task in tasks.into_iter().flatten().flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            members.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
    }
    members
}

/// A child's text as it may reach a terminal or a failure reason: control characters
/// (an escape sequence that retitles the window, moves the cursor or colours the rest
/// of the screen; a carriage return that overwrites a line) written out as `\x{1b}`,
/// tabs and line feeds kept.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\t' && c != '\n')
    {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() && c != '\t' && c != '\n' {
            out.push_str(&c.escape_unicode().to_string().replace("\\u{", "\\x{"));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_written_out_and_text_kept() {
        assert_eq!(super::printable("plain\ttext é\n"), "plain\ttext é\n");
        assert_eq!(
            super::printable("\u{1b}]0;owned\u{7}red\u{1b}[31m\r"),
            "\\x{1b}]0;owned\\x{7}red\\x{1b}[31m\\x{d}"
        );
    }
}
