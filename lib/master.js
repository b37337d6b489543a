'use strict'
// The master's side of the facade: the native Master (created on first use;
// its dispatcher runs on this thread), the listeners, the message broker,
// the workers' sockets (watched here for their wake-ups) and one timer.
// After every call into the native Master, `deliverEvents()` hands its
// events to the user's callbacks (one of them sets the timer).

const { join } = require('path')
const binding = require('./binding')
const { decode, encode } = require('./codec')
const { errorFrom } = require('./errors')
const { EVENT, addonBlobs, addRow, addRowWithBlobs, addBatch, partValue, readDoneBatch, setPartData, taskFromRow } = require('./wire')
const PendingRequests = require('./pending-requests')
const defaults = require('./defaults')
const { newId } = require('./ids')
const { traceAdd } = require('./tracing')
const { runInMeteor } = require('./meteor')

/** Node options every worker starts with first (see worker-preload.js). */
const WORKER_PRELOAD = ['--require', join(__dirname, 'worker-preload.js')]

const listeners = { done: null, error: null, retry: null, progress: null }
let broker = null
let native = null
let closing = null
let failed = null
const requests = new PendingRequests()
let delivering = false
/**
 * Batches of events taken and not yet delivered, in order: JSON arrays, or
 * `{ json, parts }` when events name large payloads (`Handover`).
 */
const backlog = []
/** Each worker's socket (our own copy of it), by worker id. */
const sockets = new Map()
/** Where the workers' wake-up bytes are read to (their content means nothing). */
const wakeBytes = Buffer.alloc(64)
let timer = null
/** The Cluster made in this process (the dashboard reads its queue). */
let current = null

function log (level, message) {
  binding.logLine(level, message)
}

/**
 * The native Master's settings (`MasterConfig`) from checked Cluster
 * options (`clusterArgs`) and the taskMap's types.
 */
function nativeConfig (opts, taskTypes) {
  return {
    maxWorkers: opts.maxAvailableWorkers,
    refreshRate: opts.refreshRate,
    keepAlive: opts.keepAlive === null ? 'never' : opts.keepAlive === 'always' ? 'always' : 'for',
    keepAliveMs: typeof opts.keepAlive === 'number' ? opts.keepAlive : 0,
    prefetch: opts.prefetch,
    workerStartTimeout: opts.workerStartTimeout,
    execPath: process.execPath,
    // Later flags win: the workers' own after the master's.
    execArgs: [...WORKER_PRELOAD, ...process.execArgv, ...opts.workerExecArgv, ...process.argv.slice(1)],
    port: opts.port,
    logs: opts.logs,
    inMemoryOnly: opts.inMemoryOnly,
    mongoUrl: opts.mongoUrl ?? undefined,
    collectionName: opts.collectionName,
    lease: opts.lease,
    taskTypes,
    retry: opts.retry,
    taskTimeout: opts.taskTimeout,
    cancelGrace: opts.cancelGrace,
    workerMaxTasks: opts.workerMaxTasks,
    workerMaxMemory: opts.workerMaxMemory,
    workerEnv: opts.workerEnv,
    limits: opts.limits
  }
}

/** Before any `new Cluster`: the defaults, no task types (nothing is claimed). */
function defaultConfig () {
  const opts = Object.assign({}, defaults.CLUSTER, { maxAvailableWorkers: defaults.cpus(), mongoUrl: defaults.mongoUrl() })
  return nativeConfig(opts, [])
}

/** The native Master, with every buffered add handed over (so any call sees them). */
function master () {
  if (native === null) native = new binding.Master(onWake, defaultConfig())
  if (adds.length > 0) flushAdds()
  return native
}

/** Calls `fn(native)`, then delivers what the dispatcher has to say. */
function withNative (fn) {
  const m = master()
  try {
    return fn(m)
  } finally {
    deliverEvents()
  }
}

/** As `withNative`, for the calls that return the events themselves. */
function withEvents (fn) {
  const m = master()
  let events
  try {
    events = fn(m)
  } catch (error) {
    deliverEvents()
    throw error
  }
  deliverEvents(events)
}

function onWake () {
  withEvents((m) => m.wake())
}

/** `new Cluster`'s settings for this master. */
function configure (opts, taskTypes) {
  withNative((m) => m.configure(nativeConfig(opts, taskTypes)))
}

function logThrown (what, error) {
  log('error', `${what} threw: ${(error && error.stack) || error}`)
}

/** Calls a user callback (inside Meteor's environment in a Meteor server); logs what it throws. */
function call (what, fn, arg) {
  try {
    const result = runInMeteor(fn, arg)
    if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
      result.then(undefined, (error) => logThrown(what, error))
    }
  } catch (error) {
    logThrown(what, error)
  }
}

/**
 * Delivers the dispatcher's events (`taken`, or what it holds now), in
 * order. A callback that calls back into the dispatcher gets its events
 * delivered after the ones already taken, never in between.
 */
function deliverEvents (taken) {
  if (native === null) return
  try {
    const events = taken === undefined ? native.takeEvents() : taken
    if (events !== '[]') backlog.push(events)
  } catch (error) {
    log('error', `could not take events from the dispatcher: ${(error && error.stack) || error}`)
  }
  // A callback that called back in: its events wait behind the ones
  // being delivered (the loop below picks them up).
  if (delivering) return
  delivering = true
  try {
    while (backlog.length > 0) {
      const events = backlog.shift()
      if (typeof events === 'string') {
        for (const event of decode(events)) onEvent(event, null)
      } else {
        for (const event of decode(events.json)) onEvent(event, events.parts)
      }
    }
  } catch (error) {
    log('error', `could not read events from the dispatcher: ${(error && error.stack) || error}`)
  } finally {
    delivering = false
  }
}

/** One event; `parts` are the large payloads its batch came with, if any. */
function onEvent (event, parts) {
  switch (event.type) {
    case EVENT.DONE:
    case EVENT.ERROR:
    case EVENT.RETRY:
    case EVENT.PROGRESS: {
      const listener = listeners[event.type]
      if (listener !== null) call(`the "${event.type}" listener`, listener, taskEvent(event, parts))
      break
    }
    case EVENT.DONE_BATCH:
      readDoneBatch(event, deliverDone)
      break
    case EVENT.IPC:
      onIpc(event)
      break
    case EVENT.REPLY:
      requests.settle(event)
      break
    case EVENT.SPAWNED:
      watch(event.worker, event.fd)
      break
    case EVENT.RETIRED:
      unwatch(event.worker)
      break
    case EVENT.CLOSED:
      if (closing !== null) {
        closing.resolve()
        closing = null
      }
      break
    case EVENT.FATAL:
      onFatal(event.message)
      break
    case EVENT.TIMER:
      setTimer(event.ms)
      break
  }
}

/**
 * What a `done`, `error`, `retry` or `progress` listener gets:
 * `{ value, task }`, as upstream's (`progress`: the value reported). The task is built at once: a lazy getter made per event gave
 * each event a hidden class of its own, which kept every event alive until
 * a full collection and made the master's scavenges 5 times slower. Only
 * large data, which comes as a part, is decoded when first read.
 */
function taskEvent ({ type, value, task, attempt, nextRunAt, dataPart, valuePart }, parts) {
  const event = { value: valuePart === undefined ? value : partValue(binding.openPart(parts[valuePart]), binding.releaseBuffer), task: taskFromRow(task) }
  if (dataPart !== undefined) setPartData(event.task, parts[dataPart], binding.openPart, binding.releaseBuffer)
  if (type === EVENT.RETRY) {
    event.attempt = attempt
    event.nextRunAt = nextRunAt
  }
  return event
}

/**
 * One task of a `doneBatch` (`done` events in a row, as columns): the
 * listener gets the `{ value, task }` a `done` event gives. A listener
 * removed meanwhile stops the batch.
 */
function deliverDone (value, task) {
  const listener = listeners.done
  if (listener === null) return false
  call('the "done" listener', listener, { value, task })
}

/** Watches a new worker's socket: each byte it sends means "read my frames". */
function watch (worker, fd) {
  // `onread`: the bytes land in one reused buffer and go straight to the
  // callback, without a Buffer per read and the stream machinery. `net` is
  // loaded here, once the first worker is spawned, not before the spawn.
  const net = require('net')
  const socket = new net.Socket({ fd, readable: true, writable: true, onread: { buffer: wakeBytes, callback: onWake } })
  socket.unref()
  socket.on('error', () => {})
  sockets.set(worker, socket)
}

function unwatch (worker) {
  const socket = sockets.get(worker)
  if (socket) {
    sockets.delete(worker)
    socket.destroy()
  }
}

/** The one timer: when the dispatcher must look again (earlier than before). */
function setTimer (ms) {
  if (timer !== null) clearTimeout(timer)
  timer = setTimeout(onTimer, Math.ceil(ms))
  timer.unref()
}

function onTimer () {
  timer = null
  withEvents((m) => m.timerFired())
}

function onFatal (message) {
  failed = errorFrom({ name: 'ClusterError', message: `the meteor-cluster dispatcher stopped: ${message}`, code: 'ERR_DISPATCHER_FAILED' })
  requests.rejectAll(failed)
  rejectAdds(pending, failed)
  pending = []
  adds = []
  if (closing !== null) {
    closing.resolve()
    closing = null
  }
  for (const worker of [...sockets.keys()]) unwatch(worker)
  if (timer !== null) clearTimeout(timer)
  timer = null
}

function onIpc ({ worker, run, msg }) {
  if (broker === null) {
    log('warn', `a task sent an IPC message but the Cluster has no messageBroker; message dropped: ${JSON.stringify(msg)}`)
    return
  }
  const respond = (reply) => withNative((m) => m.ipcReply(worker, run, encode(reply, 'the IPC response') ?? 'null'))
  // Upstream's messages carried the worker's id (in an array); it wins
  // over an `id` the task put in its message, as the README says.
  const message = Object.assign({}, msg, { id: [worker] })
  call('the messageBroker', (m) => broker(respond, m), message)
}

/**
 * A request (`op`, one of `OPS`) the dispatcher answers later; resolves
 * with its answer. Bad arguments throw at once. An add's tasks' data may
 * refer to `blobs` (strings and Uint8Arrays, handed over now).
 */
function request (op, argsJson, blobs) {
  if (failed !== null) return Promise.reject(failed)
  if (blobs === undefined || blobs.length === 0) {
    return requests.start((req) => withNative((m) => m.request(req, op, argsJson)))
  }
  const { bytes, kinds } = addonBlobs(blobs, binding.allocBlob)
  return requests.start((req) => withNative((m) => m.request(req, op, argsJson, bytes, kinds)))
}

/** In-memory adds not handed to the dispatcher yet, as JSON texts. */
let adds = []
/** The blobs their data refers to, in order (strings and Uint8Arrays). */
let addBlobs = []
let flushQueued = false
/**
 * The adds of the next hand-over, four entries each: id, resolve, reject,
 * promise. They settle together: a failed hand-over rejects them.
 */
let pending = []
/** A long burst is handed over in slices, so it starts running while JS still adds. */
const ADD_BATCH = 256
let lastType = null
let lastTypeJson = null

function noop () {}

// An add's promise is settled directly at its hand-over. (A `then` on one
// promise per hand-over cost each add a closure and a reaction job, which a
// burst keeps alive until its loop ends.) One shared executor hands out the
// resolving functions.
let resolveNext = null
let rejectNext = null
function capture (resolve, reject) {
  resolveNext = resolve
  rejectNext = reject
}

/**
 * Rejects a hand-over's adds. Its failure is logged once for the whole
 * batch, so an add nobody awaits must not become an unhandled rejection:
 * each gets a handler first (only now, which saves a promise per add on
 * the hot path). `await` still rejects.
 */
function rejectAdds (settlers, error) {
  for (let i = 0; i < settlers.length; i += 4) {
    settlers[i + 3].catch(noop)
    settlers[i + 2](error)
  }
}

function flushAdds () {
  const rows = adds
  const settlers = pending
  const blobs = addBlobs.length > 0 ? addonBlobs(addBlobs, binding.allocBlob) : undefined
  adds = []
  pending = []
  if (blobs !== undefined) addBlobs = []
  if (rows.length === 0) return
  try {
    withEvents((m) => blobs === undefined ? m.addTasks(addBatch(rows)) : m.addTasks(addBatch(rows), blobs.bytes, blobs.kinds))
  } catch (error) {
    log('error', `${rows.length} in-memory tasks could not be queued: ${error.message}`)
    rejectAdds(settlers, error)
    return
  }
  for (let i = 0; i < settlers.length; i += 4) settlers[i + 1](settlers[i])
}

function flushQueuedAdds () {
  flushQueued = false
  flushAdds()
}

/**
 * Queues an in-memory task without an `_id` or a policy of its own, in the
 * next hand-over; resolves with its id once the dispatcher has it. Throws
 * when the dispatcher has failed.
 */
function addInMemory (task) {
  if (failed !== null) throw failed
  if (native === null) master()
  if (task.taskType !== lastType) {
    lastType = task.taskType
    lastTypeJson = JSON.stringify(task.taskType)
  }
  const id = newId()
  const promise = new Promise(capture)
  pending.push(id, resolveNext, rejectNext, promise)
  const carrier = traceAdd(task.taskType, 'memory', id)
  const blobs = task.blobs
  if (blobs.length > 0) {
    adds.push(addRowWithBlobs(id, lastTypeJson, task.priority, task.createdAt, task.dueDate, task.data, carrier, blobs.length))
    for (const blob of blobs) addBlobs.push(blob)
    // At once: the addon copies the bytes before the caller can change them.
    flushAdds()
    return promise
  }
  adds.push(addRow(id, lastTypeJson, task.priority, task.createdAt, task.dueDate, task.data, carrier))
  if (adds.length >= ADD_BATCH) {
    flushAdds()
  } else if (!flushQueued) {
    flushQueued = true
    queueMicrotask(flushQueuedAdds)
  }
  return promise
}

/** The Cluster of this process, as `new Cluster` recorded it, or null. */
function cluster () {
  return current
}

function setCluster (instance) {
  current = instance
}

function setBroker (fn) {
  broker = fn
}

/** Tells the dispatcher which listeners exist (events nobody hears are not built). */
function setListener (type, callback) {
  listeners[type] = callback
  withNative((m) => m.setListening(listeners.done !== null, listeners.error !== null,
    listeners.retry !== null, listeners.progress !== null))
}

/**
 * Resolves once every worker has exited: what has not started is handed
 * back, running tasks finish (within `timeout` ms if given; then their
 * workers are stopped and they are handed back too).
 */
function close (timeout) {
  if (native === null || failed !== null) return Promise.resolve()
  if (closing !== null) return closing.promise
  let resolve
  const promise = new Promise((r) => { resolve = r })
  closing = { promise, resolve }
  // It may close at once (nothing running), resolving before this returns.
  withNative((m) => m.close(timeout))
  return promise
}

module.exports = { master, withNative, configure, listeners, setListener, setBroker, setCluster, cluster, addInMemory, request, close }
