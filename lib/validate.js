'use strict'
// Argument checks with messages that name the field, what it got and what
// it expects. Everything here throws before anything is queued.

const { describe, encode } = require('./codec')

function got (value) {
  const type = describe(value)
  if (typeof value === 'string') return `${type} ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`
  if (typeof value === 'number' || typeof value === 'boolean') return `${type} ${value}`
  return type
}

function fail (where, field, value, expected) {
  return new TypeError(`${where}: ${field} must be ${expected}, got ${got(value)}`)
}

/**
 * Checks `addTask`'s argument and returns the task to queue, with `data`
 * already as JSON text.
 */
function newTask (args) {
  const where = 'TaskQueue.addTask'
  if (args === null || typeof args !== 'object' || Array.isArray(args)) {
    throw fail(where, 'its argument', args, 'an object like { taskType, data }')
  }
  const { taskType, data = {}, priority = 1, _id = null, dueDate, inMemory = false } = args
  if (typeof taskType !== 'string' || taskType.length === 0) {
    throw fail(where, 'taskType', taskType, 'a non-empty string')
  }
  if (data === null || typeof data !== 'object' || data instanceof Date) {
    throw fail(where, 'data', data, 'an object (it may be empty)')
  }
  if (!Number.isSafeInteger(priority)) {
    throw fail(where, 'priority', priority, 'an integer')
  }
  if (_id !== null && (typeof _id !== 'string' || _id.length === 0)) {
    throw fail(where, '_id', _id, 'a non-empty string or undefined')
  }
  const due = dueDate === undefined ? Date.now() : dueDate instanceof Date ? dueDate.getTime() : NaN
  if (Number.isNaN(due)) {
    throw fail(where, 'dueDate', dueDate, 'a valid Date')
  }
  if (typeof inMemory !== 'boolean') {
    throw fail(where, 'inMemory', inMemory, 'a boolean')
  }
  return { _id, taskType, priority, dueDate: due, data: encode(data, 'data'), inMemory }
}

const os = require('os')
/** The CPUs this process may use (`availableParallelism` is Node 18.14+). */
const cpus = () => typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length

/** Checks `new Cluster`'s arguments; returns the options with defaults filled in. */
function clusterArgs (taskMap, options, warn) {
  const where = 'new Cluster'
  if (taskMap === null || typeof taskMap !== 'object' || Array.isArray(taskMap)) {
    throw fail(where, 'taskMap', taskMap, 'an object of { [taskType]: function }')
  }
  for (const [taskType, fn] of Object.entries(taskMap)) {
    if (typeof fn !== 'function') throw fail(where, `taskMap[${JSON.stringify(taskType)}]`, fn, 'a function')
  }
  if (options === null || typeof options !== 'object') {
    throw fail(where, 'options', options, 'an object')
  }
  const {
    port = 3008,
    maxAvailableWorkers = cpus(),
    refreshRate = 1000,
    inMemoryOnly = false,
    messageBroker = null,
    logs = 'all',
    keepAlive = null,
    autoInitialize = true,
    prefetch = 64,
    workerStartTimeout = 60000,
    mongoUrl = process.env.MONGO_URL || null,
    collectionName = 'taskQueue',
    lease = 30000
  } = options
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw fail(where, 'port', port, 'an integer from 0 to 65535')
  if (!Number.isInteger(maxAvailableWorkers)) throw fail(where, 'maxAvailableWorkers', maxAvailableWorkers, 'an integer')
  if (!Number.isInteger(refreshRate) || refreshRate < 1) throw fail(where, 'refreshRate', refreshRate, 'a positive integer (ms)')
  if (typeof inMemoryOnly !== 'boolean') throw fail(where, 'inMemoryOnly', inMemoryOnly, 'a boolean')
  if (messageBroker !== null && typeof messageBroker !== 'function') throw fail(where, 'messageBroker', messageBroker, 'a function or null')
  if (logs !== 'all' && logs !== 'error') throw fail(where, 'logs', logs, '"all" or "error"')
  if (!Number.isInteger(prefetch) || prefetch < 1) throw fail(where, 'prefetch', prefetch, 'a positive integer')
  if (mongoUrl !== null && (typeof mongoUrl !== 'string' || !/^mongodb(\+srv)?:\/\//.test(mongoUrl))) {
    throw fail(where, 'mongoUrl', mongoUrl, 'a mongodb:// URL')
  }
  if (typeof collectionName !== 'string' || collectionName.length === 0) {
    throw fail(where, 'collectionName', collectionName, 'a non-empty string')
  }
  if (!Number.isInteger(lease) || lease < 100) throw fail(where, 'lease', lease, 'an integer number of ms, at least 100')
  if (!Number.isInteger(workerStartTimeout) || workerStartTimeout < 1) {
    throw fail(where, 'workerStartTimeout', workerStartTimeout, 'a positive integer (ms)')
  }

  // Upstream warns and falls back on these two rather than throwing; apps
  // that relied on that keep starting.
  let keep = keepAlive
  if (keep !== null && keep !== 'always' && !(Number.isInteger(keep) && keep > 0)) {
    warn(`keepAlive should be "always" or an integer number of ms greater than 0 (got ${got(keep)}); ignoring it`)
    keep = null
  }
  let auto = autoInitialize
  if (typeof auto !== 'boolean') {
    warn(`autoInitialize should be a boolean (got ${got(auto)}); using true`)
    auto = true
  }
  const max = cpus()
  let workers = maxAvailableWorkers
  if (workers > max) {
    warn(`cannot have ${workers} workers, setting max system available: ${max}`)
    workers = max
  } else if (workers <= 0) {
    warn(`cannot have ${workers} workers, setting initial value to 1`)
    workers = 1
  }
  return {
    port,
    maxAvailableWorkers: workers,
    refreshRate,
    inMemoryOnly,
    messageBroker,
    logs,
    keepAlive: keep,
    autoInitialize: auto,
    prefetch,
    workerStartTimeout,
    mongoUrl,
    mongoUrlFromEnv: options.mongoUrl === undefined,
    collectionName,
    lease
  }
}

module.exports = { newTask, clusterArgs, cpus, fail }
