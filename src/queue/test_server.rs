//! The test database for Rust tests: a SecantusDB server started on a free
//! port with its own storage directory, stopped (SIGTERM) when dropped. The
//! same server the JS tests use (scripts/mongo-server.mjs installs it).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

const HOW_TO_INSTALL: &str = "apt-get install -y cmake && cargo install secantus-mdb --version 0.5.3-beta.196 --ignore-rust-version --locked (or run `npm test`, which installs it)";

pub(crate) struct TestServer {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl TestServer {
    /// Starts a server; panics, saying how to get it, when it is missing.
    pub(crate) fn start() -> TestServer {
        let binary = std::env::var("SECANTUSD").unwrap_or_else(|_| {
            let home = std::env::var("HOME").unwrap_or_default();
            format!("{home}/.cargo/bin/secantusd-rs")
        });
        let dir = std::env::temp_dir().join(format!(
            "meteor-cluster-rust-db-{}-{}",
            std::process::id(),
            crate::task::new_id()
        ));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let mut child = Command::new(&binary)
            .args(["--host", "127.0.0.1", "--port", "0", "--log-level", "WARNING"])
            .arg("--storage-path")
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("the test database {binary} could not start ({e}); install it: {HOW_TO_INSTALL}")
            });
        let stdout = child.stdout.take().expect("piped stdout");
        let mut port = None;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.split("listening on 127.0.0.1:").nth(1) {
                port = rest.trim().parse().ok();
                break;
            }
        }
        let port = port.expect("secantusd-rs did not say where it listens");
        TestServer { child, dir, port }
    }

    /// A URL to a database of its own on this server.
    pub(crate) fn url(&self, db: &str) -> String {
        format!("mongodb://127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child, which we wait for just after.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
