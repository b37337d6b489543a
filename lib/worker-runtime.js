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
const { encodeError } = require('./errors')
const { FRAME, RUN, TO_WORKER, addonBlobs, frames, taskFromRow, textOf } = require('./wire')
const { FrameReader } = require('./frame-reader')
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
const ipcHandlers = new Map()
const requests = new PendingRequests()
const reader = new FrameReader(onFrame)
/** Blobs of the master's next JSON frame (strings and Uint8Arrays). */
let blobs = []

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
  const task = taskFromRow(row)
  const fn = taskMap === null ? undefined : taskMap[task.taskType]
  if (typeof fn !== 'function') {
    const error = new Error(`no task function for taskType "${task.taskType}" in this worker's taskMap`)
    error.code = 'ERR_UNKNOWN_TASK_TYPE'
    throw error
  }
  const ipc = toggleIPC(run)
  return runInMeteor((job) => fn(job, ipc), task)
}

/**
 * Sends run `run`'s outcome, then records run `next` (if given) as started:
 * a run is recorded before it starts, so a death is blamed on it alone.
 */
function reply (run, ok, value, next) {
  ipcHandlers.delete(run)
  if (ok) {
    try {
      const { json, blobs } = encodeParts(value, 'the task result')
      if (blobs.length === 0) {
        binding.workerDone(run, json, next)
      } else {
        const { bytes, kinds } = addonBlobs(blobs, Buffer.allocUnsafeSlow)
        binding.workerDone(run, json, next, bytes, kinds)
      }
      return
    } catch (error) {
      value = error
    }
  }
  send(frames.failed(run, encodeError(value)))
  if (next !== undefined) binding.workerBegin(next)
}

/** Runs queued tasks in order, one at a time; async ones are awaited. */
function runQueued () {
  if (running) return
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

/** The run after the one running now, when it is here already. */
function nextRun () {
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
        send(frames.ipc(run, encode(msg, 'the IPC message') ?? 'null'))
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
