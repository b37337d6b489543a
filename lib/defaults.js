'use strict'
// Every default, in one place: the Cluster's options, a task's fields and a
// retry's. The core takes each value from here (it has no defaults of its
// own); docs and typings name the same values.

/** The CPUs this process may use (Node 18.14+ knows; before, every CPU). */
function cpus () {
  const os = require('os')
  if (typeof os.availableParallelism === 'function') return os.availableParallelism()
  const list = os.cpus()
  return Array.isArray(list) && list.length > 0 ? list.length : 1
}

/** `new Cluster(taskMap, options)`'s options (`maxAvailableWorkers` is `cpus()`). */
const CLUSTER = Object.freeze({
  port: 3008,
  refreshRate: 1000,
  inMemoryOnly: false,
  messageBroker: null,
  logs: 'all',
  keepAlive: null,
  autoInitialize: true,
  prefetch: 256,
  workerStartTimeout: 60000,
  collectionName: 'taskQueue',
  lease: 30000,
  cancelGrace: 5000,
  workerExecArgv: Object.freeze([]),
  workerEnv: Object.freeze({})
})

/** The MongoDB URL when the Cluster names none: Meteor's. */
function mongoUrl () {
  return process.env.MONGO_URL || null
}

/** `addTask`'s fields (`dueDate` is now). */
const TASK = Object.freeze({ data: Object.freeze({}), priority: 1, inMemory: false })

/** `retry`'s fields, when `limit` is given. */
const RETRY = Object.freeze({ delay: 1000, backoff: 'fixed' })

module.exports = { CLUSTER, TASK, RETRY, cpus, mongoUrl }
