'use strict'
// Whether this process is a worker started by a meteor-cluster master. The
// master says so through an environment variable; it is read once and
// removed, so processes a worker starts are not mistaken for workers.

const key = Symbol.for('meteor-cluster.identity')

if (!globalThis[key]) {
  const id = process.env.METEOR_CLUSTER_WORKER
  delete process.env.METEOR_CLUSTER_WORKER
  globalThis[key] = Object.freeze({
    isWorker: id !== undefined,
    workerId: id === undefined ? null : Number(id)
  })
}

module.exports = globalThis[key]
