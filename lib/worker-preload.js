'use strict'
// Loaded first in every worker (the master starts workers with `--require`
// this file), before the app's own code. Node's cluster code says "online"
// to the master while the worker boots; when the master has already exited
// that write fails, and the error, emitted where no app code can listen yet,
// would print a stack trace. A worker whose master is gone has nothing to
// do: it leaves quietly. Any other error of that channel is thrown, as
// Node would, unless the app listens for it.

const cluster = require('cluster')

const MASTER_GONE = new Set(['EPIPE', 'ECONNRESET', 'ERR_IPC_CHANNEL_CLOSED'])

if (cluster.worker) {
  cluster.worker.on('error', function onChannelError (error) {
    if (error && MASTER_GONE.has(error.code)) process.exit(0)
    if (cluster.worker.listenerCount('error') === 1) throw error
  })
}
