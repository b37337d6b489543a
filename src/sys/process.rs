//! Waiting for worker processes and signalling them. A worker is waited for
//! without being reaped (`WNOWAIT`), and reaped only once the dispatcher is
//! done with it: until then its pid cannot be reused, so a signal the
//! dispatcher sends can never reach another process.

use std::io;

/// How a worker process ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Exit {
    pub(crate) code: Option<i32>,
    pub(crate) signal: Option<String>,
}

impl Exit {
    /// "exited with code 3" or "was killed by SIGKILL", for error messages.
    pub(crate) fn describe(&self) -> String {
        match (&self.code, &self.signal) {
            (Some(code), _) => format!("exited with code {code}"),
            (None, Some(signal)) => format!("was killed by {signal}"),
            (None, None) => "exited".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// Asks the process to end (a Node process ends at once, unless the
    /// app handles SIGTERM).
    Term,
    Kill,
}

/// The resident memory of process `pid`, read from `/proc` without asking
/// the process (a busy worker is measured too); `None` where there is no
/// `/proc` (macOS) or the process is gone.
pub(crate) fn rss_bytes(pid: u32) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
        let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        Some(pages * u64::try_from(page).ok()?)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        None
    }
}

/// Sends `signal` to `pid`, a child that has not been reaped.
pub(crate) fn signal(pid: u32, signal: Signal) {
    let sig = match signal {
        Signal::Term => libc::SIGTERM,
        Signal::Kill => libc::SIGKILL,
    };
    // SAFETY: kill(2) on a child of ours that is not reaped yet (callers
    // reap only after their last signal), so the pid is still ours.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// Blocks until the child `pid` has ended, and says how, leaving it
/// unreaped (a zombie) until `reap`.
pub(crate) fn wait_exit(pid: u32) -> io::Result<Exit> {
    loop {
        // SAFETY: a zeroed siginfo_t is a valid out-parameter for waitid.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid on a child of ours; WNOWAIT leaves it waitable.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 {
            return Ok(exit_of(&info));
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

fn exit_of(info: &libc::siginfo_t) -> Exit {
    let status = status_of(info);
    if info.si_code == libc::CLD_EXITED {
        Exit {
            code: Some(status),
            signal: None,
        }
    } else {
        Exit {
            code: None,
            signal: Some(signal_name(status)),
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn status_of(info: &libc::siginfo_t) -> i32 {
    // SAFETY: waitid filled a SIGCHLD siginfo, whose si_status is set.
    unsafe { info.si_status() }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn status_of(info: &libc::siginfo_t) -> i32 {
    info.si_status
}

/// Reaps `pid` once it has ended (see `wait_exit`); never blocks.
pub(crate) fn reap(pid: u32) {
    let mut status = 0;
    // SAFETY: waitpid on a child of ours; WNOHANG never blocks.
    unsafe {
        libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG);
    }
}

fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        _ => return format!("signal {signal}"),
    };
    name.to_owned()
}
