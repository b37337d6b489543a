//! The master <-> worker transport: the descriptors a worker inherits and
//! the shared ring its frames travel through. What travels is `wire::frames`.
//!
//! - Master to worker: lines on the worker's socket (fd 4), read by the
//!   worker's own event loop.
//! - Worker to master: length-prefixed frames in the shared ring (fd 5, see
//!   `ring`), with a one-byte wake-up on the socket.
//! - Node's own IPC channel (fd 3) carries only Node's cluster handshake.

pub(crate) mod ring;

/// The environment variable through which a master tells a worker its id.
pub(crate) const ENV_WORKER: &str = "METEOR_CLUSTER_WORKER";
/// Where a worker finds Node's IPC channel, its socket and its ring.
pub(crate) const IPC_FD: i32 = 3;
pub(crate) const LINK_FD: i32 = 4;
pub(crate) const RING_FD: i32 = 5;
