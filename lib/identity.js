'use strict'
// Whether this process is a worker started by a meteor-cluster master. The
// master says so through two environment variables; they are read once and
// removed, so processes a worker starts are not mistaken for workers.

const key = Symbol.for('meteor-cluster.identity')

if (!globalThis[key]) {
  const id = process.env.METEOR_CLUSTER_WORKER_ID
  const fd = process.env.METEOR_CLUSTER_CHANNEL_FD
  delete process.env.METEOR_CLUSTER_WORKER_ID
  delete process.env.METEOR_CLUSTER_CHANNEL_FD
  globalThis[key] = Object.freeze({
    isWorker: id !== undefined,
    workerId: id === undefined ? null : Number(id),
    channelFd: fd === undefined ? null : Number(fd)
  })
}

module.exports = globalThis[key]
