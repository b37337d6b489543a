'use strict'
// The worker's side. The master's messages arrive on this worker's own
// event loop (a socket on fd 4, one JSON array per frame); tasks run one at a
// time through the taskMap; each reply is written to shared memory (the
// native `workerSend`) before the next task starts, so whatever ends this
// process, the master knows what finished. A task that throws or rejects
// becomes an error reply; it never ends the worker.

const net = require('net')
const binding = require('./binding')
const { decode, encode, encodeParts } = require('./codec')
const { encodeError, errorFrom } = require('./errors')
const { FRAME, ROW, RUN, TO_WORKER, addonBlobs, frames, textOf } = require('./wire')
const { FrameReader } = require('./frame-reader')
const identity = require('./identity')
const { runTraced } = require('./tracing')
const PendingRequests = require('./pending-requests')
const { runInMeteor, whenAppStarted } = require('./meteor')

/** The socket the master writes to (see src/channel). */
const LINK_FD = 4

let connected = false
let taskMap = null
/** Runs received and not started yet, from `head` on: `[run, taskRow]`. */
const queued = []
let head = 0
let running = false
/** The run whose task function runs now (0 between runs). */
let current = 0
const ipcHandlers = new Map()
const requests = new PendingRequests()
const reader = new FrameReader(onFrame)
/** Blobs of the master's next JSON frame (strings and Uint8Arrays). */
let blobs = []

/** A task's progress is sent at most this often (the latest value wins). */
const PROGRESS_EVERY = 100
/** The latest progress not sent yet: its run and value (or JSON). */
let progressRun = 0
let progressValue
let progressJson = null
let progressTimer = null
let progressSentAt = 0
/** Each run's AbortController, made when its signal is first asked for. */
const controllers = new Map()

/**
 * What a task function gets: the task's fields, as upstream's job, and
 * `progress(value)` and `signal` (an AbortSignal, aborted when the task is
 * cancelled or runs past its time limit).
 */
class Job {
  #run

  constructor (run, row) {
    const createdAt = row[ROW.CREATED_AT]
    this._id = row[ROW.ID]
    this.taskType = row[ROW.TYPE]
    this.priority = row[ROW.PRIORITY]
    this.createdAt = new Date(createdAt)
    this.dueDate = new Date(createdAt + row[ROW.DUE_OFFSET])
    this.data = row[ROW.DATA]
    this.onGoing = row[ROW.ON_GOING]
    const extra = row[ROW.EXTRA]
    if (extra !== undefined && extra.group !== undefined) this.group = extra.group
    this.#run = run
  }

  /**
   * Reports how far along the task is: a number from 0 to 100, or any
   * EJSON value. Cheap to call often: only the latest value is sent, at
   * most every 100 ms, and always before the task's outcome.
   */
  progress (value) {
    const run = this.#run
    if (run !== current) return
    // Objects are encoded now, so what cannot be carried throws here.
    progressJson = value !== null && typeof value === 'object' ? encode(value, 'the progress value') ?? 'null' : null
    progressValue = value
    progressRun = run
    if (progressTimer === null) {
      progressTimer = setTimeout(sendProgress, Math.max(0, progressSentAt + PROGRESS_EVERY - Date.now()))
    }
  }

  /** Aborted (with a TaskCancelledError or TaskTimeoutError) when the task is to stop. */
  get signal () {
    return controllerOf(this.#run).signal
  }

  /** The task's fields, as upstream's plain job (a task may return it, or put it in a value). */
  toJSON () {
    const { _id, taskType, priority, createdAt, dueDate, data, onGoing } = this
    return { _id, taskType, priority, createdAt, dueDate, data, onGoing }
  }
}

/** lib/abort.js, loaded when a task first asks for its signal (not at start). */
let Abort = null

function controllerOf (run) {
  let controller = controllers.get(run)
  if (controller === undefined) {
    if (Abort === null) Abort = require('./abort')
    controller = new Abort()
    controllers.set(run, controller)
  }
  return controller
}

/** Sends the latest progress not sent yet. */
function sendProgress () {
  if (progressTimer !== null) {
    clearTimeout(progressTimer)
    progressTimer = null
  }
  if (progressRun === 0) return
  const json = progressJson ?? encode(progressValue, 'the progress value') ?? 'null'
  send(frames.progress(progressRun, json))
  progressRun = 0
  progressValue = undefined
  progressJson = null
  progressSentAt = Date.now()
}

/**
 * The master stops run `run` (cancelled, or past its time limit): its
 * signal is aborted if it runs; if it waits here, it ends now, failed with
 * `reason`.
 */
function abort (run, reason) {
  const error = errorFrom(reason)
  if (run === current) {
    controllerOf(run).abort(error)
    return
  }
  for (let i = head; i < queued.length; i++) {
    if (queued[i][RUN.NUMBER] === run) {
      queued.splice(i, 1)
      binding.workerFailed(run, encodeError(error))
      return
    }
  }
}

function connect () {
  if (connected) return
  connected = true
  binding.workerConnect()
  // `onread`: the bytes land where the reader says (one reused buffer, or
  // a large frame's own) and go straight to it, without a Buffer per read
  // and the stream machinery.
  const socket = new net.Socket({ fd: LINK_FD, readable: true, writable: true, onread: { buffer: () => reader.next(), callback: onRead } })
  // The master is gone: a worker has nothing left to do. (A busy worker is
  // ended by the native watchdog instead.)
  socket.on('close', () => process.exit(0))
  socket.on('error', () => {})
}

/** Starts serving `map`: tells the master this worker is ready once the app has started. */
function serve (map) {
  taskMap = map
  connect()
  whenAppStarted(() => send(frames.ready()))
}

function send (frame) {
  binding.workerSend(frame)
}

/**
 * The master's frames: runs and messages, a JSON array each, after the
 * blobs its runs' data refers to.
 */
function onFrame (kind, bytes, start, end) {
  if (kind === FRAME.JSON) {
    const these = blobs
    if (these.length > 0) blobs = []
    onLine(textOf(bytes, start, end), these)
  } else if (kind === FRAME.TEXT) {
    blobs.push(textOf(bytes, start, end))
  } else {
    // A frame read on its own is its bytes; one in the reused buffer is copied.
    blobs.push(reader.isShared(bytes) ? new Uint8Array(bytes.subarray(start, end)) : bytes)
  }
}

function onRead (length, buffer) {
  reader.onRead(length, buffer)
  runQueued()
}

function onLine (line, blobs) {
  let messages
  try {
    messages = decode(line, blobs)
  } catch (error) {
    binding.logLine('error', `worker could not read a message from the master: ${error.stack}`)
    return
  }
  for (const msg of messages) {
    // A run is a bare array, [run, taskRow].
    if (Array.isArray(msg)) {
      queued.push(msg)
      continue
    }
    switch (msg.type) {
      case TO_WORKER.IPC_REPLY: {
        const handler = ipcHandlers.get(msg.run)
        if (handler) handler(msg.msg)
        break
      }
      case TO_WORKER.REPLY:
        requests.settle(msg)
        break
      case TO_WORKER.RECALL:
        recall(new Set(msg.runs))
        break
      case TO_WORKER.ABORT:
        abort(msg.run, msg.reason)
        break
      case TO_WORKER.STOP:
        process.exit(0)
    }
  }
}

/** Hands back the recalled runs still waiting here; started ones just finish. */
function recall (runs) {
  const kept = []
  const handed = []
  for (let i = head; i < queued.length; i++) {
    const number = queued[i][RUN.NUMBER]
    if (runs.has(number)) handed.push(number)
    else kept.push(queued[i])
  }
  queued.length = 0
  for (const msg of kept) queued.push(msg)
  head = 0
  send(frames.recalled(handed))
}

function invoke (run, row) {
  const job = new Job(run, row)
  const fn = taskMap === null ? undefined : taskMap[job.taskType]
  if (typeof fn !== 'function') {
    const error = new Error(`no task function for taskType "${job.taskType}" in this worker's taskMap`)
    error.code = 'ERR_UNKNOWN_TASK_TYPE'
    throw error
  }
  const ipc = toggleIPC(run)
  current = run
  return runTraced(row[ROW.EXTRA], job, identity.workerId, () => runInMeteor((job) => fn(job, ipc), job))
}

/**
 * Sends run `run`'s outcome, then records run `next` (if given) as started:
 * a run is recorded before it starts, so a death is blamed on it alone.
 */
function reply (run, ok, value, next) {
  // Its progress reaches the master before its outcome.
  if (progressRun === run) sendProgress()
  if (current === run) current = 0
  controllers.delete(run)
  ipcHandlers.delete(run)
  if (ok) {
    try {
      const { json, blobs } = encodeParts(value, 'the task result')
      // Runs still queued here: the master need not wake for this reply.
      const more = head < queued.length
      if (blobs.length === 0) {
        binding.workerDone(run, json, next, more)
      } else {
        const { bytes, kinds } = addonBlobs(blobs, Buffer.allocUnsafeSlow)
        binding.workerDone(run, json, next, more, bytes, kinds)
      }
      return
    } catch (error) {
      value = error
    }
  }
  binding.workerFailed(run, encodeError(value))
  if (next !== undefined) binding.workerBegin(next)
}

/** Runs queued tasks in order, one at a time; async ones are awaited. */
function runQueued () {
  if (running) return
  handBackLate()
  // The first run is recorded here; each next one with its predecessor's reply.
  if (head < queued.length) binding.workerBegin(queued[head][RUN.NUMBER])
  while (head < queued.length) {
    const run = queued[head][RUN.NUMBER]
    const row = queued[head][RUN.ROW]
    queued[head++] = undefined
    let result
    try {
      result = invoke(run, row)
    } catch (error) {
      reply(run, false, error, nextRun())
      continue
    }
    if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
      running = true
      Promise.resolve(result).then(
        (value) => reply(run, true, value),
        (error) => reply(run, false, error)
      ).then(() => {
        running = false
        runQueued()
      })
      return
    }
    reply(run, true, result, nextRun())
  }
  queued.length = 0
  head = 0
  // Out of runs: the next one often follows at once (a caller awaiting
  // each task); watching for it briefly saves waking this process up.
  binding.workerLinger()
}

/**
 * Hands back, unstarted, the runs at the front whose start deadline (a
 * rate's `startBy`, in the row's extra) has passed: the rate counted
 * their start when they were sent, and a later start could crowd a
 * window. A rate-limited run goes only to an idle worker, so it is first.
 */
function handBackLate () {
  let late = null
  while (head < queued.length) {
    const extra = queued[head][RUN.ROW][ROW.EXTRA]
    if (extra === undefined || extra.startBy === undefined || Date.now() <= extra.startBy) break
    if (late === null) late = []
    late.push(queued[head][RUN.NUMBER])
    queued[head++] = undefined
  }
  if (late !== null) send(frames.recalled(late))
}

/** The run after the one running now, when it is here already. */
function nextRun () {
  handBackLate()
  return head < queued.length ? queued[head][RUN.NUMBER] : undefined
}

/** The `toggleIPC(onMessage, initialize)` handed to the task of run `run`. */
function toggleIPC (run) {
  return (onMessage, initialize) => new Promise((resolve, reject) => {
    let settled = false
    const closeIPC = (value) => {
      if (settled) return
      settled = true
      if (ipcHandlers.get(run) === handler) ipcHandlers.delete(run)
      resolve(value)
    }
    const handler = (msg) => {
      try {
        const result = runInMeteor((m) => onMessage(m, closeIPC), msg)
        if (!settled) Promise.resolve(result).then(closeIPC, reject)
      } catch (error) {
        settled = true
        reject(error)
      }
    }
    ipcHandlers.set(run, handler)
    try {
      initialize((msg) => {
        const json = encode(msg, 'the IPC message') ?? 'null'
        // The task's frames keep the order of its calls.
        if (progressRun === run) sendProgress()
        send(frames.ipc(run, json))
      })
    } catch (error) {
      reject(error)
    }
  })
}

/** A request run by the master; resolves with its answer. */
function request (op, argsJson) {
  connect()
  return requests.start((req) => send(frames.request(req, op, argsJson)))
}

module.exports = { serve, request }
