//! A job's own `/opt/ml`. Scripts name `/opt/ml/...` literally, and parallel jobs must not
//! see each other's, so each job process starts in a mount namespace of its own, inside
//! an unprivileged user namespace (no root, no Docker), where `/opt/ml` is the job's
//! folder. Nothing else under `/opt` is hidden: when the machine has no `/opt/ml` to
//! mount over, `/opt` becomes a tmpfs that carries every entry of the real `/opt` (bind
//! mounts, symlinks as they are) beside the new `ml`.
//!
//! The job runs as uid 0 of its namespace, as SageMaker's containers run as root; on the
//! machine its files belong to the user who runs the emulator.
//!
//! Everything the child does between fork and exec is a raw system call on strings made
//! before the fork: no allocation, no lock.

use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use tokio::process::Command;

/// What the child makes of `/opt` before it runs the job.
struct Layout {
    uid_map: CString,
    gid_map: CString,
    /// The job's folder, mounted at `/opt/ml`.
    job_root: CString,
    /// `/opt/ml` exists: mount over it, and nothing else changes.
    over_existing: bool,
    /// Where the real `/opt` stays reachable while a tmpfs covers it.
    saved_opt: CString,
    /// The job's working folder, inside the namespace (`/opt/ml/...`): the process
    /// changes to it after the mounts, which a chdir before them would not see.
    cwd: CString,
    /// The real `/opt`'s entries: (path under the saved `/opt`, path under the new
    /// `/opt`, kind).
    entries: Vec<(CString, CString, Entry)>,
}

enum Entry {
    Dir,
    File,
    Symlink(CString),
}

fn c(path: &Path) -> std::io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(std::io::Error::other)
}

/// Why a job cannot have its own `/opt/ml` on this machine, in words a user can act on;
/// None when it can. Runs a no-op in a sandbox, as every job will be run.
pub async fn check(work: &Path) -> Option<String> {
    let root = work.join("sandbox-check");
    let result = async {
        std::fs::create_dir_all(&root)?;
        let mut command = Command::new("/bin/sh");
        command.args(["-c", "test -d /opt/ml && touch /opt/ml/seen"]);
        confine(&mut command, &root, work, Path::new("/opt/ml"))?;
        command.status().await
    }
    .await;
    let seen = root.join("seen").exists();
    let _ = std::fs::remove_dir_all(&root);
    match result {
        Ok(status) if status.success() && seen => None,
        Ok(status) => Some(format!(
            "a job's /opt/ml could not be made its own folder (a test job ended {status})"
        )),
        Err(e) => Some(refusal(&e)),
    }
}

/// What to change when the kernel refuses the namespaces.
fn refusal(error: &std::io::Error) -> String {
    let hint = match error.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            "the kernel refuses unprivileged user namespaces here: allow them (sysctl kernel.unprivileged_userns_clone=1 on Debian kernels, kernel.apparmor_restrict_unprivileged_userns=0 on Ubuntu 23.10 and later) or run outside a container that forbids them"
        }
        Some(libc::ENOSPC) => "user namespaces are exhausted or disabled: raise user.max_user_namespaces",
        Some(libc::ENOENT) => "this machine has no /opt to mount a job's /opt/ml under: create it (sudo mkdir /opt)",
        _ => "the kernel refused a mount namespace for the job",
    };
    format!("a job's code cannot run with its own /opt/ml ({error}): {hint}")
}

/// Has `command` start in its own user and mount namespaces with `/opt/ml` = `job_root`.
/// `work` is a folder of the emulator's where the real `/opt` is kept reachable; `cwd`
/// the folder inside the namespace the process starts in.
pub fn confine(
    command: &mut Command,
    job_root: &Path,
    work: &Path,
    cwd: &Path,
) -> std::io::Result<()> {
    let mut layout = layout(job_root, work)?;
    layout.cwd = c(cwd)?;
    // SAFETY: the closure makes only system calls, on strings built above; it allocates
    // nothing and takes no lock, as the time between fork and exec requires.
    unsafe {
        command.pre_exec(move || enter(&layout));
    }
    Ok(())
}

fn layout(job_root: &Path, work: &Path) -> std::io::Result<Layout> {
    let opt = Path::new("/opt");
    if !opt.is_dir() {
        return Err(std::io::Error::from_raw_os_error(libc::ENOENT));
    }
    // SAFETY: getuid and getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let over_existing = opt.join("ml").is_dir();
    let saved: PathBuf = work.join("real-opt");
    let mut entries = Vec::new();
    if !over_existing {
        std::fs::create_dir_all(&saved)?;
        for entry in std::fs::read_dir(opt)? {
            let entry = entry?;
            let name = entry.file_name();
            if name == "ml" {
                continue;
            }
            let kind = entry.file_type()?;
            let kind = if kind.is_symlink() {
                Entry::Symlink(c(&std::fs::read_link(entry.path())?)?)
            } else if kind.is_dir() {
                Entry::Dir
            } else {
                Entry::File
            };
            entries.push((c(&saved.join(&name))?, c(&opt.join(&name))?, kind));
        }
    }
    Ok(Layout {
        uid_map: CString::new(format!("0 {uid} 1")).map_err(std::io::Error::other)?,
        gid_map: CString::new(format!("0 {gid} 1")).map_err(std::io::Error::other)?,
        job_root: c(job_root)?,
        over_existing,
        saved_opt: c(&saved)?,
        cwd: c(Path::new("/"))?,
        entries,
    })
}

fn check_os(result: libc::c_int) -> std::io::Result<()> {
    if result == -1 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn write_file(path: &CStr, text: &CStr) -> std::io::Result<()> {
    // SAFETY: open/write/close on NUL-terminated strings that outlive the calls.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        check_os(fd)?;
        let bytes = text.to_bytes();
        let written = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
        libc::close(fd);
        if written != bytes.len() as isize {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn bind(source: &CStr, target: &CStr) -> std::io::Result<()> {
    // SAFETY: mount(2) on NUL-terminated strings that outlive the call.
    check_os(unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND | libc::MS_REC,
            std::ptr::null(),
        )
    })
}

/// In the child, between fork and exec.
fn enter(layout: &Layout) -> std::io::Result<()> {
    // SAFETY: each call is a system call on strings of `layout`, alive for the child's
    // life; none allocates.
    unsafe {
        check_os(libc::unshare(
            libc::CLONE_NEWUSER | libc::CLONE_NEWNS | libc::CLONE_NEWPID,
        ))?;
        write_file(c"/proc/self/setgroups", c"deny")?;
        write_file(c"/proc/self/uid_map", &layout.uid_map)?;
        write_file(c"/proc/self/gid_map", &layout.gid_map)?;
        // Nothing mounted here propagates back to the machine.
        check_os(libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ))?;
        if !layout.over_existing {
            bind(c"/opt", &layout.saved_opt)?;
            check_os(libc::mount(
                c"tmpfs".as_ptr(),
                c"/opt".as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                c"mode=0755".as_ptr().cast(),
            ))?;
            for (saved, target, kind) in &layout.entries {
                match kind {
                    Entry::Dir => {
                        check_os(libc::mkdir(target.as_ptr(), 0o755))?;
                        bind(saved, target)?;
                    }
                    Entry::File => {
                        let fd = libc::open(
                            target.as_ptr(),
                            libc::O_WRONLY | libc::O_CREAT | libc::O_CLOEXEC,
                            0o644,
                        );
                        check_os(fd)?;
                        libc::close(fd);
                        bind(saved, target)?;
                    }
                    Entry::Symlink(to) => check_os(libc::symlink(to.as_ptr(), target.as_ptr()))?,
                }
            }
            check_os(libc::mkdir(c"/opt/ml".as_ptr(), 0o755))?;
        }
        bind(&layout.job_root, c"/opt/ml")?;
        check_os(libc::chdir(layout.cwd.as_ptr()))?;
    }
    contain()
}

/// The job's processes live in a PID namespace of their own, which the kernel empties
/// (SIGKILL to every member) when its first process ends: so nothing the job starts, a
/// `setsid` daemon or a double fork included, outlives it. The process the stack
/// spawned (A) stays outside and waits; its child (B) is the namespace's init, a reaper
/// that waits for the job; B's child (C) returns from here and becomes the job. A and
/// B ignore SIGTERM, so the stack's SIGTERM to the job's process group reaches the job
/// alone, and its grace runs as SageMaker's does; A ends as the job ended.
fn contain() -> std::io::Result<()> {
    // SAFETY: fork, sigaction, waitpid, prctl, kill and _exit are async-signal-safe; the
    // branches that do not return run nothing else.
    unsafe {
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
        let init = libc::fork();
        check_os(init)?;
        if init > 0 {
            close_inherited();
            report_as_own(wait_for(init));
        }
        // B: init of the namespace. It dies with A.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        let job = libc::fork();
        if job < 0 {
            libc::_exit(127);
        }
        if job > 0 {
            close_inherited();
            // Reaps whatever the job leaves orphaned until the job itself ends.
            libc::_exit(exit_code(wait_for(job)));
        }
        // C: the job. It dies with B, and takes SIGTERM as a process does by default.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        libc::signal(libc::SIGTERM, libc::SIG_DFL);
    }
    Ok(())
}

/// Waits for `pid`, reaping any other child on the way; answers its wait status.
unsafe fn wait_for(pid: libc::pid_t) -> libc::c_int {
    loop {
        let mut status = 0;
        let ended = libc::waitpid(-1, &mut status, 0);
        if ended == pid {
            return status;
        }
        if ended == -1 && *libc::__errno_location() == libc::ECHILD {
            return 127 << 8;
        }
    }
}

/// A wait status as an exit code, a signal as 128 + its number (as shells report it).
fn exit_code(status: libc::c_int) -> libc::c_int {
    if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        libc::WEXITSTATUS(status)
    }
}

/// Ends A as the job ended: by the same signal when B reported one, so the stack sees
/// a job killed by SIGKILL as killed, not as exit code 137.
unsafe fn report_as_own(status: libc::c_int) -> ! {
    let code = exit_code(status);
    if (129..128 + 32).contains(&code) {
        let signal = code - 128;
        libc::signal(signal, libc::SIG_DFL);
        libc::kill(libc::getpid(), signal);
    }
    libc::_exit(code)
}

/// Closes every descriptor but the standard three in a process that will not exec: the
/// one through which the stack learns that the job's exec succeeded must be left to
/// the job alone, or the stack's spawn would wait for the whole job.
unsafe fn close_inherited() {
    if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) == -1 {
        for fd in 3..4096 {
            libc::close(fd);
        }
    }
}
