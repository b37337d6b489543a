'use strict'
// The worker's side: tasks arrive from the master in batches, run one at a
// time through the taskMap, and their results go back in batches. A task
// that throws or rejects becomes an error reply; it never ends the worker.

const binding = require('./binding')
const identity = require('./identity')
const { decode, encode, encodeError, taskFromWire } = require('./codec')
const PendingCalls = require('./pending-calls')

let connected = false
let taskMap = null
const inbox = []
let head = 0
let running = false
const ipcHandlers = new Map()
const calls = new PendingCalls()

function connect () {
  if (!connected) {
    binding.workerConnect(identity.channelFd, onFrames)
    connected = true
  }
}

/** Starts serving `map`: tells the master this worker is ready. */
function serve (map) {
  taskMap = map
  connect()
  // A task that calls process.exit must not take the replies of the tasks
  // before it along: they finished. (An uncaught exception can only come
  // from a later turn of the event loop, and every turn ends with a flush.)
  process.on('exit', flushBeforeExit)
  send('{"type":"ready"}')
  flush()
}

/** Queues a frame for the master: it leaves within a millisecond, or at the next flush. */
function send (frame) {
  binding.workerQueue(frame)
}

function flush () {
  binding.workerFlush()
}

function flushBeforeExit () {
  try {
    flush()
  } catch {
    // the master is gone: nobody is left to read them
  }
}

function onFrames () {
  let frames
  try {
    frames = decode(binding.workerTake())
  } catch (error) {
    binding.logLine('error', `worker could not read frames from the master: ${error.stack}`)
    return
  }
  for (const frame of frames) {
    switch (frame.type) {
      case 'run':
        inbox.push(frame)
        break
      case 'ipcReply': {
        const handler = ipcHandlers.get(frame.run)
        if (handler) handler(frame.msg)
        break
      }
      case 'reply':
        calls.settle(frame)
        break
      case 'recall':
        recall(new Set(frame.runs))
        break
      case 'stop':
        flush()
        process.exit(0)
    }
  }
  pump()
}

/** Hands back the recalled runs still waiting here; started ones just finish. */
function recall (runs) {
  const kept = []
  const handed = []
  for (let i = head; i < inbox.length; i++) {
    if (runs.has(inbox[i].run)) handed.push(inbox[i].run)
    else kept.push(inbox[i])
  }
  inbox.length = 0
  for (const frame of kept) inbox.push(frame)
  head = 0
  send(`{"type":"recalled","runs":${JSON.stringify(handed)}}`)
  flush()
}

function invoke (frame) {
  const task = taskFromWire(frame.task)
  const fn = taskMap === null ? undefined : taskMap[task.taskType]
  if (typeof fn !== 'function') {
    throw new Error(`no task function for taskType "${task.taskType}" in this worker's taskMap`)
  }
  return fn(task, toggleIPC(frame.run))
}

function reply (run, ok, value) {
  ipcHandlers.delete(run)
  if (ok) {
    try {
      const json = encode(value, 'the task result')
      send(json === undefined ? `{"type":"done","run":${run}}` : `{"type":"done","run":${run},"value":${json}}`)
      return
    } catch (error) {
      value = error
    }
  }
  send(`{"type":"failed","run":${run},"error":${encodeError(value)}}`)
}

/** Runs queued tasks in order, one at a time; async ones are awaited. */
function pump () {
  if (running) return
  while (head < inbox.length) {
    const frame = inbox[head]
    inbox[head++] = undefined
    let result
    try {
      result = invoke(frame)
    } catch (error) {
      reply(frame.run, false, error)
      continue
    }
    if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
      running = true
      flush()
      Promise.resolve(result).then(
        (value) => reply(frame.run, true, value),
        (error) => reply(frame.run, false, error)
      ).then(() => {
        running = false
        pump()
      })
      return
    }
    reply(frame.run, true, result)
  }
  inbox.length = 0
  head = 0
  flush()
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
        const result = onMessage(msg, closeIPC)
        if (!settled) Promise.resolve(result).then(closeIPC, reject)
      } catch (error) {
        settled = true
        reject(error)
      }
    }
    ipcHandlers.set(run, handler)
    try {
      initialize((msg) => {
        send(`{"type":"ipc","run":${run},"msg":${encode(msg, 'the IPC message') ?? 'null'}}`)
        flush()
      })
    } catch (error) {
      reject(error)
    }
  })
}

/** A TaskQueue call run by the master; resolves with its answer. */
function request (op, argsJson) {
  connect()
  return calls.start((req) => {
    send(`{"type":"request","req":${req},"op":${JSON.stringify(op)},"args":${argsJson}}`)
    flush()
  })
}

module.exports = { serve, request }
