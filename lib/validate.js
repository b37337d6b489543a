'use strict'
// Argument checks with messages that name the field, what it got and what
// it expects. Everything here throws before anything is queued, except
// what upstream accepted: `new Cluster`'s upstream options are read as
// upstream read them (numeric strings are numbers), and what upstream
// silently got wrong gets a warning and a sensible value instead.

const { describe, encodeChecked, encodeParts } = require('./codec')
const { codes, invalidArg } = require('./errors')
const defaults = require('./defaults')

/** A task's blobs when it has none. */
const NO_BLOBS = Object.freeze([])

function got (value) {
  const type = describe(value)
  if (typeof value === 'string') return `${type} ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`
  if (typeof value === 'number' || typeof value === 'boolean') return `${type} ${value}`
  return type
}

function fail (where, field, value, expected) {
  return invalidArg(`${where}: ${field} must be ${expected}, got ${got(value)}`)
}

/** A field's name as given (the default naming of `checkTask`'s fields). */
const sameName = (name) => name

/** Each distinct warning is given once per process. */
const warned = new Set()

/** `warn(message)` unless this message was given before. */
function warnOnce (warn, message) {
  if (warned.has(message)) return
  warned.add(message)
  warn(message)
}

/** The fields `addTask` reads; any other is warned about (a typo would be silently ignored). */
const TASK_FIELDS = new Set(['taskType', 'data', 'priority', '_id', 'dueDate', 'inMemory', 'retry', 'timeout', 'repeat', 'group'])

/** `new Cluster`'s options (upstream's and ours). */
const CLUSTER_OPTIONS = new Set(['port', 'maxAvailableWorkers', 'refreshRate', 'inMemoryOnly', 'messageBroker', 'logs',
  'keepAlive', 'autoInitialize', 'prefetch', 'workerStartTimeout', 'mongoUrl', 'collectionName', 'lease', 'retry',
  'taskTimeout', 'cancelGrace', 'workerMaxTasks', 'workerMaxMemory', 'workerExecArgv', 'workerEnv', 'limits'])

/** Warns once about each key of `object` not in `known`, naming the closest known one. */
function warnUnknown (object, known, what, warn) {
  for (const key in object) {
    if (!known.has(key)) {
      const near = closest(key, known)
      warnOnce(warn, `${what} ${JSON.stringify(key)} is not one meteor-cluster knows; it is ignored` +
        (near === null ? '' : ` (did you mean ${near}?)`))
    }
  }
}

/** The known name nearest to `name` by edit distance (case aside), when near enough to be a typo. */
function closest (name, known) {
  const lower = name.toLowerCase()
  let best = null
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1
  for (const candidate of known) {
    const d = editDistance(lower, candidate.toLowerCase())
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return best
}

/** Levenshtein distance, one row at a time. */
function editDistance (a, b) {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    row = next
  }
  return row[b.length]
}

/** Where `addTask` warnings go: stderr through the native logger (in workers too). */
function warnTask (message) {
  require('./binding').logLine('warn', message)
}

/**
 * Checks `addTask`'s argument and returns the task to queue, with `data`
 * already as JSON text and `createdAt` set (the one clock a task's dates
 * come from). With `withBlobs`, large strings and binaries of `data` are
 * left out of its text as `blobs` (see `encodeParts`), else `blobs` is
 * empty.
 */
function checkTask (args, where = 'TaskQueue.addTask', field = sameName, withBlobs = false) {
  if (args === null || typeof args !== 'object' || Array.isArray(args)) {
    throw fail(where, field('its argument'), args, 'an object like { taskType, data }')
  }
  warnUnknown(args, TASK_FIELDS, `${where}: the task field`, warnTask)
  const {
    taskType,
    data = defaults.TASK.data,
    priority = defaults.TASK.priority,
    _id = null,
    dueDate,
    inMemory = defaults.TASK.inMemory,
    retry,
    timeout,
    repeat,
    group
  } = args
  if (typeof taskType !== 'string' || taskType.length === 0) {
    throw fail(where, field('taskType'), taskType, 'a non-empty string')
  }
  if (data === null || typeof data !== 'object' || data instanceof Date) {
    throw fail(where, field('data'), data, 'an object (it may be empty)')
  }
  if (!Number.isSafeInteger(priority)) {
    throw fail(where, field('priority'), priority, 'an integer')
  }
  if (_id !== null && (typeof _id !== 'string' || _id.length === 0)) {
    throw fail(where, field('_id'), _id, 'a non-empty string or undefined')
  }
  // One clock read per task: it is both when the task was made and, by default, when it is due.
  const now = Date.now()
  const due = dueDate === undefined ? now : dueDate instanceof Date ? dueDate.getTime() : NaN
  if (Number.isNaN(due)) {
    throw fail(where, field('dueDate'), dueDate, 'a valid Date')
  }
  if (typeof inMemory !== 'boolean') {
    throw fail(where, field('inMemory'), inMemory, 'a boolean')
  }
  if (group !== undefined && typeof group !== 'string') {
    throw fail(where, field('group'), group, 'a string (a tenant, a customer...), or nothing')
  }
  const policy = retry == null && timeout == null && repeat == null
    ? undefined
    : policyJson({ retry, timeout, repeat }, where, field)
  let encoded
  try {
    encoded = withBlobs ? encodeParts(data, field('data')) : encodeChecked(data, field('data'))
  } catch (error) {
    // What cannot be carried to a worker: a bad argument too.
    error.code = codes.INVALID_ARG
    throw error
  }
  if (encoded.escaped && !inMemory) {
    // EJSON carries such an object to a worker, but MongoDB would give it
    // back as the tag it looks like (as Meteor's collections refuse it too).
    throw invalidArg(`${where}: ${encoded.escapedAt} has keys EJSON reserves for its types ($date, $binary, $type...), which a persistent task cannot store; rename them, or use inMemory: true`)
  }
  return { _id, taskType, priority, dueDate: due, createdAt: now, data: encoded.json, blobs: encoded.blobs || NO_BLOBS, inMemory, policy, group }
}

const LIMITS_FIELDS = new Set(['concurrency', 'rate', 'perGroup'])
const BOUNDS_FIELDS = new Set(['concurrency', 'rate'])
const RATE_FIELDS = new Set(['max', 'per'])
const MAX_U32 = 0xffffffff

/** Throws a TypeError for a key of `object` not in `known` (limits are strict: a typo would lift a limit). */
function refuseUnknown (object, known, where, path) {
  for (const key in object) {
    if (!known.has(key)) {
      const near = closest(key, known)
      throw invalidArg(`${where}: ${path} has no field ${JSON.stringify(key)}` +
        (near === null ? `; its fields are ${[...known].join(', ')}` : ` (did you mean ${near}?)`))
    }
  }
}

/** `{ concurrency?, rate?: { max, per } }` checked; the same object. */
function checkBounds (bounds, where, path, fields) {
  if (bounds === null || typeof bounds !== 'object' || Array.isArray(bounds)) {
    throw fail(where, path, bounds, 'an object like { concurrency: 2, rate: { max: 10, per: 1000 } }')
  }
  refuseUnknown(bounds, fields, where, path)
  const { concurrency, rate } = bounds
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_U32)) {
    throw fail(where, `${path}.concurrency`, concurrency, 'a positive whole number of runs at once')
  }
  if (rate !== undefined) {
    if (rate === null || typeof rate !== 'object' || Array.isArray(rate)) {
      throw fail(where, `${path}.rate`, rate, 'an object { max, per }: at most max starts per per ms')
    }
    refuseUnknown(rate, RATE_FIELDS, where, `${path}.rate`)
    if (!Number.isInteger(rate.max) || rate.max < 1 || rate.max > MAX_U32) {
      throw fail(where, `${path}.rate.max`, rate.max, 'a positive whole number of starts')
    }
    if (!Number.isInteger(rate.per) || rate.per < 1 || rate.per > MAX_U32) {
      throw fail(where, `${path}.rate.per`, rate.per, 'a positive whole number of ms')
    }
  }
  return bounds
}

/**
 * A type's limits, `{ concurrency?, rate?: { max, per }, perGroup?: {
 * concurrency?, rate? } }`, checked; as JSON text (`null` for null).
 */
function limitsJson (limits, where, path) {
  if (limits === null) return 'null'
  checkBounds(limits, where, path, LIMITS_FIELDS)
  const out = {}
  if (limits.concurrency !== undefined) out.concurrency = limits.concurrency
  if (limits.rate !== undefined) out.rate = { max: limits.rate.max, per: limits.rate.per }
  if (limits.perGroup !== undefined) {
    const g = checkBounds(limits.perGroup, where, `${path}.perGroup`, BOUNDS_FIELDS)
    out.perGroup = {}
    if (g.concurrency !== undefined) out.perGroup.concurrency = g.concurrency
    if (g.rate !== undefined) out.perGroup.rate = { max: g.rate.max, per: g.rate.per }
  }
  return JSON.stringify(out)
}

/**
 * `retry: { limit, delay, backoff }` (defaults in lib/defaults.js) as JSON text, or
 * undefined; `where` and `field` name it in errors.
 */
function retryJson (retry, where, field) {
  if (retry === undefined || retry === null) return undefined
  if (typeof retry !== 'object' || Array.isArray(retry)) {
    throw fail(where, field('retry'), retry, 'an object { limit, delay, backoff }')
  }
  const { limit, delay = defaults.RETRY.delay, backoff = defaults.RETRY.backoff } = retry
  if (!Number.isSafeInteger(limit) || limit < 0) throw fail(where, field('retry.limit'), limit, 'a whole number of retries (0 or more)')
  if (!Number.isSafeInteger(delay) || delay < 0) throw fail(where, field('retry.delay'), delay, 'a whole number of ms (0 or more)')
  if (backoff !== 'fixed' && backoff !== 'exponential') throw fail(where, field('retry.backoff'), backoff, '"fixed" or "exponential"')
  return `{"limit":${limit},"delay":${delay},"backoff":"${backoff}"}`
}

/** A task's retry, timeout and repeat as the JSON object the core reads, or undefined. */
function policyJson ({ retry, timeout, repeat }, where, field) {
  const parts = []
  const retryText = retryJson(retry, where, field)
  if (retryText !== undefined) parts.push(`"retry":${retryText}`)
  if (timeout !== undefined && timeout !== null) {
    if (!Number.isSafeInteger(timeout) || timeout < 1) throw fail(where, field('timeout'), timeout, 'a positive whole number of ms')
    parts.push(`"timeout":${timeout}`)
  }
  if (repeat !== undefined && repeat !== null) parts.push(`"repeat":${repeatJson(repeat, where, field)}`)
  return parts.length === 0 ? undefined : `{${parts.join(',')}}`
}

/**
 * `repeat: { every: ms }` or `{ cron, tz }`; the expression and the zone
 * are checked by the core, which parses them once, when the task is added
 * (its errors name `repeat.cron` or `repeat.tz`).
 */
function repeatJson (repeat, where, field) {
  if (typeof repeat !== 'object' || Array.isArray(repeat)) {
    throw fail(where, field('repeat'), repeat, 'an object { every: ms } or { cron, tz }')
  }
  let json
  if (repeat.every !== undefined) {
    if (!Number.isSafeInteger(repeat.every) || repeat.every < 1) throw fail(where, field('repeat.every'), repeat.every, 'a positive whole number of ms')
    json = `{"every":${repeat.every}}`
  } else if (typeof repeat.cron === 'string') {
    if (repeat.tz !== undefined && typeof repeat.tz !== 'string') throw fail(where, field('repeat.tz'), repeat.tz, 'an IANA time zone name, like "Europe/Paris"')
    json = JSON.stringify(repeat.tz === undefined ? { cron: repeat.cron } : { cron: repeat.cron, tz: repeat.tz })
  } else {
    throw fail(where, field('repeat'), repeat, 'an object { every: ms } or { cron, tz }')
  }
  return json
}

/** A number, as upstream's comparisons and timers read numbers and numeric strings; else NaN. */
function numeric (value) {
  if (typeof value === 'number') return value
  if (typeof value === 'string' && value.trim() !== '') return Number(value)
  return NaN
}

const WORKERS_TEXT = 'you should not use all the cpus, read more https://github.com/nathanschwarz/meteor-cluster/blob/main/README.md#cpus-allocation'

/** Checks `new Cluster`'s arguments; returns the options with defaults filled in. */
function clusterArgs (taskMap, options, warn) {
  const where = 'new Cluster'
  const once = (message) => warnOnce(warn, message)
  if (taskMap === null || typeof taskMap !== 'object' || Array.isArray(taskMap)) {
    throw fail(where, 'taskMap', taskMap, 'an object of { [taskType]: function }')
  }
  for (const [taskType, fn] of Object.entries(taskMap)) {
    if (typeof fn !== 'function') throw fail(where, `taskMap[${JSON.stringify(taskType)}]`, fn, 'a function')
  }
  if (options === null || typeof options !== 'object') {
    throw fail(where, 'options', options, 'an object')
  }
  warnUnknown(options, CLUSTER_OPTIONS, `${where}: the option`, warn)
  const max = defaults.cpus()
  const d = defaults.CLUSTER
  const {
    port = d.port,
    maxAvailableWorkers = max,
    refreshRate = d.refreshRate,
    inMemoryOnly = d.inMemoryOnly,
    messageBroker = d.messageBroker,
    logs = d.logs,
    keepAlive = d.keepAlive,
    autoInitialize = d.autoInitialize,
    prefetch = d.prefetch,
    workerStartTimeout = d.workerStartTimeout,
    mongoUrl = defaults.mongoUrl(),
    collectionName = d.collectionName,
    lease = d.lease,
    retry,
    taskTimeout,
    cancelGrace = d.cancelGrace,
    workerMaxTasks,
    workerMaxMemory,
    workerExecArgv = d.workerExecArgv,
    workerEnv = d.workerEnv,
    limits
  } = options

  // Options beyond upstream's: strict, nobody relies on leniency there.
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
  const retryText = retryJson(retry, where, sameName)
  if (!Number.isInteger(cancelGrace) || cancelGrace < 0 || cancelGrace > 0xffffffff) {
    throw fail(where, 'cancelGrace', cancelGrace, 'a whole number of ms (0 or more)')
  }
  if (workerMaxTasks !== undefined && workerMaxTasks !== null && (!Number.isInteger(workerMaxTasks) || workerMaxTasks < 1 || workerMaxTasks > 0xffffffff)) {
    throw fail(where, 'workerMaxTasks', workerMaxTasks, 'a positive whole number of runs, or nothing')
  }
  if (workerMaxMemory !== undefined && workerMaxMemory !== null && (!Number.isInteger(workerMaxMemory) || workerMaxMemory < 1 || workerMaxMemory > 0xffffffff)) {
    throw fail(where, 'workerMaxMemory', workerMaxMemory, 'a positive whole number of MiB, or nothing')
  }
  if (!Array.isArray(workerExecArgv) || !workerExecArgv.every((a) => typeof a === 'string')) {
    throw fail(where, 'workerExecArgv', workerExecArgv, 'an array of strings (Node options, like "--max-old-space-size=512")')
  }
  if (workerEnv === null || typeof workerEnv !== 'object' || Array.isArray(workerEnv) ||
    !Object.values(workerEnv).every((v) => typeof v === 'string')) {
    throw fail(where, 'workerEnv', workerEnv, 'an object of strings ({ NAME: "value" })')
  }
  if (taskTimeout !== undefined && taskTimeout !== null && (!Number.isSafeInteger(taskTimeout) || taskTimeout < 1 || taskTimeout > 0xffffffff)) {
    throw fail(where, 'taskTimeout', taskTimeout, 'a positive whole number of ms')
  }
  let limitsText
  if (limits !== undefined && limits !== null) {
    if (typeof limits !== 'object' || Array.isArray(limits)) {
      throw fail(where, 'limits', limits, 'an object { [taskType]: { concurrency, rate, perGroup } }')
    }
    limitsText = `{${Object.entries(limits).map(([taskType, l]) => {
      if (l === null) throw fail(where, `limits[${JSON.stringify(taskType)}]`, l, 'an object (TaskQueue.setLimits(taskType, null) clears limits)')
      return `${JSON.stringify(taskType)}:${limitsJson(l, where, `limits[${JSON.stringify(taskType)}]`)}`
    }).join(',')}}`
  }

  // Upstream's options: never a throw for what upstream accepted.
  let portNumber = numeric(port)
  if (!Number.isInteger(portNumber) || portNumber < 0 || portNumber > 65535) {
    once(`port should be an integer from 0 to 65535 (got ${got(port)}); using ${d.port}`)
    portNumber = d.port
  }
  const rate = refreshRateArg(refreshRate, d.refreshRate, once)
  let workers = numeric(maxAvailableWorkers)
  if (!Number.isFinite(workers)) {
    once(`maxAvailableWorkers should be an integer (got ${got(maxAvailableWorkers)}); using ${max}, the CPU count`)
    workers = max
  } else if (!Number.isInteger(workers)) {
    once(`maxAvailableWorkers should be an integer (got ${got(maxAvailableWorkers)}); using ${Math.floor(workers)}`)
    workers = Math.floor(workers)
  }
  // Upstream's warnings, in its words.
  if (workers > max) {
    once(`cannot have ${maxAvailableWorkers} workers, setting max system available: ${max}`)
    workers = max
  } else if (workers <= 0) {
    once(`cannot have ${maxAvailableWorkers} workers, setting initial value to 1`)
    workers = 1
  }
  if (workers === max) once(WORKERS_TEXT)

  let memoryOnly = inMemoryOnly
  if (typeof memoryOnly !== 'boolean') {
    // Upstream tested it for truth, so "false" meant true.
    memoryOnly = typeof memoryOnly === 'string'
      ? !/^\s*(false|no|off|0|)\s*$/i.test(memoryOnly)
      : Boolean(memoryOnly)
    once(`inMemoryOnly should be a boolean (got ${got(inMemoryOnly)}); using ${memoryOnly}`)
  }
  let broker = messageBroker
  if (broker !== null && typeof broker !== 'function') {
    once(`messageBroker should be a function (respond, msg) => ... (got ${got(broker)}); ignoring it, ` +
      'so IPC messages from tasks are dropped with a warning')
    broker = null
  }
  let level = logs
  if (level !== 'all' && level !== 'error' && level !== 'json') {
    once(`logs should be "all", "error" or "json" (got ${got(logs)}); logging only warnings and errors, as upstream did`)
    level = 'error'
  }
  let keep = keepAlive
  if (typeof keep === 'string' && keep !== 'always') keep = numeric(keep)
  if (keep !== null && keep !== 'always' && !(Number.isInteger(keep) && keep > 0)) {
    once(`keepAlive should be "always" or an integer number of ms greater than 0 (got ${got(keepAlive)}); ignoring it`)
    keep = null
  }
  let auto = autoInitialize
  if (typeof auto !== 'boolean') {
    once(`autoInitialize should be a boolean (got ${got(auto)}); using ${d.autoInitialize}`)
    auto = d.autoInitialize
  }
  return {
    port: portNumber,
    maxAvailableWorkers: workers,
    refreshRate: rate,
    inMemoryOnly: memoryOnly,
    messageBroker: broker,
    logs: level,
    keepAlive: keep,
    autoInitialize: auto,
    prefetch,
    workerStartTimeout,
    mongoUrl,
    mongoUrlFromEnv: options.mongoUrl === undefined,
    collectionName,
    lease,
    retry: retryText,
    taskTimeout: taskTimeout === null ? undefined : taskTimeout,
    cancelGrace,
    workerMaxTasks: workerMaxTasks ?? undefined,
    workerMaxMemory: workerMaxMemory ?? undefined,
    workerExecArgv: [...workerExecArgv],
    workerEnv: { ...workerEnv },
    limits: limitsText
  }
}

/**
 * A refresh rate in ms, from a number or a numeric string (upstream handed
 * it to setInterval, which reads both); anything else is warned about and
 * `fallback` is used. For `new Cluster` and `cluster.setRefreshRate`.
 */
function refreshRateArg (value, fallback, warn) {
  const ms = numeric(value)
  // setInterval's own bounds: below 1 or above 2^31 - 1 it polls every ms.
  if (Number.isFinite(ms) && ms >= 1 && ms <= 0x7fffffff) return Math.floor(ms)
  warn(`refreshRate should be a positive number of ms (got ${got(value)}); using ${fallback}`)
  return fallback
}

module.exports = { checkTask, clusterArgs, refreshRateArg, limitsJson, fail }
