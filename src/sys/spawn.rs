//! Starting a worker process with `posix_spawn`: glibc runs it as a vfork,
//! so the master's page tables are not copied (a `fork` of a large Node
//! master costs milliseconds, and more the bigger its heap), and no code of
//! ours runs in the child between fork and exec.

use crate::channel::{ENV_WORKER, IPC_FD, LINK_FD, RING_FD};
use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::ptr;

/// The descriptors the file actions copy from must lie above the standard
/// ones and the three the worker gets.
const LOWEST_SPARE_FD: RawFd = 10;

/// How to start a worker: the master's own Node binary, flags and script,
/// and what its environment adds to the master's (`workerEnv`).
#[derive(Debug, Clone, Default)]
pub(crate) struct SpawnSpec {
    pub(crate) exec_path: String,
    pub(crate) args: Vec<String>,
    pub(crate) port: u32,
    pub(crate) env: Vec<(String, String)>,
}

/// The worker's ends of its descriptors: its stderr, and the three placed
/// on fds 3, 4 and 5.
pub(crate) struct WorkerFds<'a> {
    /// Where its stderr goes (a pipe the master reads and forwards).
    pub(crate) stderr: &'a OwnedFd,
    /// Node's IPC channel (`NODE_CHANNEL_FD`), for the cluster handshake.
    pub(crate) ipc: &'a OwnedFd,
    /// The master <-> worker socket: runs in, wake-ups out.
    pub(crate) link: &'a OwnedFd,
    /// The shared memory the worker's replies are written to.
    pub(crate) ring: &'a OwnedFd,
}

fn c_string(bytes: Vec<u8>) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the worker's command line or environment holds a NUL byte",
        )
    })
}

/// `argv` and `envp` as C arrays: the strings and the null-terminated
/// pointer lists that point into them (valid while `self` lives).
struct CArgs {
    _strings: Vec<CString>,
    pointers: Vec<*mut libc::c_char>,
}

impl CArgs {
    fn new(strings: Vec<CString>) -> Self {
        let pointers = strings
            .iter()
            .map(|s| s.as_ptr() as *mut libc::c_char)
            .chain(std::iter::once(ptr::null_mut()))
            .collect();
        CArgs {
            _strings: strings,
            pointers,
        }
    }
}

/// The master's environment with the worker's identity, `PORT`, and what
/// makes Node start it as a `node:cluster` worker (`NODE_UNIQUE_ID` and an
/// IPC channel, whose far end the master serves).
fn environment(spec: &SpawnSpec, id: u32) -> io::Result<Vec<CString>> {
    let ours = [
        (ENV_WORKER, id.to_string()),
        ("NODE_UNIQUE_ID", id.to_string()),
        ("NODE_CHANNEL_FD", IPC_FD.to_string()),
        ("NODE_CHANNEL_SERIALIZATION_MODE", "json".to_owned()),
        ("PORT", spec.port.to_string()),
    ];
    let mut env = Vec::new();
    let set_here = |key: &OsStr| {
        ours.iter().any(|(name, _)| OsStr::new(name) == key)
            || spec.env.iter().any(|(name, _)| OsStr::new(name) == key)
    };
    for (key, value) in std::env::vars_os() {
        if set_here(&key) {
            continue;
        }
        let mut pair = key.into_vec();
        pair.push(b'=');
        pair.extend(value.into_vec());
        env.push(c_string(pair)?);
    }
    let given = spec.env.iter().map(|(k, v)| (k.as_str(), v.clone()));
    for (key, value) in given.chain(ours) {
        env.push(c_string(format!("{key}={value}").into_bytes())?);
    }
    Ok(env)
}

/// Fails with the errno a posix_spawn* call returned.
fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

/// Starts `spec` with `fds` on 3, 4 and 5, stdin on /dev/null, stdout
/// shared with the master, stderr on `fds.stderr`, an empty signal mask
/// and SIGPIPE back to its default. Returns the pid.
pub(crate) fn spawn(spec: &SpawnSpec, id: u32, fds: &WorkerFds) -> io::Result<u32> {
    let path = c_string(spec.exec_path.as_bytes().to_vec())?;
    let mut argv = vec![path.clone()];
    for arg in &spec.args {
        argv.push(c_string(arg.as_bytes().to_vec())?);
    }
    let argv = CArgs::new(argv);
    let envp = CArgs::new(environment(spec, id)?);
    // Copies above the numbers being set up, so no dup2 onto 2 to 5
    // overwrites a descriptor a later one copies from; and a spare one, the
    // stepping stone that clears close-on-exec on stdout (Node marks it
    // so): dup2 onto another number and back.
    let sources: Vec<(OwnedFd, RawFd)> = [
        (fds.stderr, libc::STDERR_FILENO),
        (fds.ipc, IPC_FD),
        (fds.link, LINK_FD),
        (fds.ring, RING_FD),
    ]
    .into_iter()
    .map(|(fd, target)| Ok((super::dup_above(fd.as_raw_fd(), LOWEST_SPARE_FD)?, target)))
    .collect::<io::Result<_>>()?;
    let spare = super::dup_above(fds.ipc.as_raw_fd(), LOWEST_SPARE_FD)?;
    let stepping = spare.as_raw_fd();
    let dev_null = c"/dev/null";

    // SAFETY: the file actions and attributes are initialized before use and
    // destroyed on every path; the argv/envp pointers stay valid until
    // posix_spawn returns; every descriptor named is open in this process.
    unsafe {
        let mut actions: libc::posix_spawn_file_actions_t = std::mem::zeroed();
        check(libc::posix_spawn_file_actions_init(&mut actions))?;
        let mut attr: libc::posix_spawnattr_t = std::mem::zeroed();
        if let Err(e) = check(libc::posix_spawnattr_init(&mut attr)) {
            libc::posix_spawn_file_actions_destroy(&mut actions);
            return Err(e);
        }
        let result = (|| {
            for (source, target) in &sources {
                check(libc::posix_spawn_file_actions_adddup2(
                    &mut actions,
                    source.as_raw_fd(),
                    *target,
                ))?;
            }
            check(libc::posix_spawn_file_actions_adddup2(
                &mut actions,
                libc::STDOUT_FILENO,
                stepping,
            ))?;
            check(libc::posix_spawn_file_actions_adddup2(
                &mut actions,
                stepping,
                libc::STDOUT_FILENO,
            ))?;
            check(libc::posix_spawn_file_actions_addclose(
                &mut actions,
                stepping,
            ))?;
            check(libc::posix_spawn_file_actions_addopen(
                &mut actions,
                libc::STDIN_FILENO,
                dev_null.as_ptr(),
                libc::O_RDONLY,
                0,
            ))?;
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            check(libc::posix_spawnattr_setsigmask(&mut attr, &none))?;
            let mut defaults: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut defaults);
            libc::sigaddset(&mut defaults, libc::SIGPIPE);
            check(libc::posix_spawnattr_setsigdefault(&mut attr, &defaults))?;
            check(libc::posix_spawnattr_setflags(
                &mut attr,
                (libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF) as libc::c_short,
            ))?;
            let mut pid: libc::pid_t = 0;
            check(libc::posix_spawn(
                &mut pid,
                path.as_ptr(),
                &actions,
                &attr,
                argv.pointers.as_ptr(),
                envp.pointers.as_ptr(),
            ))?;
            Ok(pid as u32)
        })();
        libc::posix_spawnattr_destroy(&mut attr);
        libc::posix_spawn_file_actions_destroy(&mut actions);
        result
    }
}
