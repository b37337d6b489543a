'use strict'
// The master's side of the facade: the native Master (created on first use),
// the event listeners and the message broker. Events arrive in batches from
// the dispatcher; each is handed to the user's callback here.

const binding = require('./binding')
const { decode, encode, taskFromWire } = require('./codec')
const PendingCalls = require('./pending-calls')

const listeners = { done: null, error: null }
let broker = null
let native = null
let closing = null
const calls = new PendingCalls()

function log (level, message) {
  binding.logLine(level, message)
}

function master () {
  if (native === null) native = new binding.Master(onEvents)
  return native
}

function call (what, fn, arg) {
  try {
    fn(arg)
  } catch (error) {
    log('error', `${what} threw: ${(error && error.stack) || error}`)
  }
}

function onEvents () {
  let events
  try {
    events = decode(native.takeEvents())
  } catch (error) {
    log('error', `could not read events from the dispatcher: ${(error && error.stack) || error}`)
    return
  }
  for (const event of events) {
    switch (event.type) {
      case 'done':
      case 'error': {
        const listener = listeners[event.type]
        if (listener !== null) {
          call(`the "${event.type}" listener`, listener, { value: event.value, task: taskFromWire(event.task) })
        }
        break
      }
      case 'ipc':
        onIpc(event)
        break
      case 'reply':
        calls.settle(event)
        break
      case 'closed':
        if (closing !== null) {
          closing.resolve()
          closing = null
        }
        break
    }
  }
}

function onIpc ({ worker, run, msg }) {
  if (broker === null) {
    log('warn', `a task sent an IPC message but the Cluster has no messageBroker; message dropped: ${JSON.stringify(msg)}`)
    return
  }
  const respond = (reply) => native.ipcReply(worker, run, encode(reply, 'the IPC response') ?? 'null')
  call('the messageBroker', (m) => broker(respond, m), msg)
}

/** A TaskQueue call the dispatcher answers later; resolves with its answer. */
function request (op, argsJson) {
  const native = master()
  return calls.start((req) => native.request(req, op, argsJson))
}

let flushQueued = false

function flushAdds () {
  flushQueued = false
  try {
    native.flush()
  } catch (error) {
    log('error', `could not hand queued tasks to the dispatcher: ${error.message}`)
  }
}

/** Queues an in-memory task; a burst of adds reaches the dispatcher in one go. */
function addInMemory (task) {
  const id = master().addTask(task._id ?? undefined, task.taskType, task.priority, task.dueDate, task.data)
  if (!flushQueued) {
    flushQueued = true
    queueMicrotask(flushAdds)
  }
  return id
}

function setBroker (fn) {
  broker = fn
}

/** Resolves once running tasks have finished and every worker has exited. */
function close () {
  if (native === null) return Promise.resolve()
  if (closing === null) {
    let resolve
    const promise = new Promise((r) => { resolve = r })
    closing = { promise, resolve }
    native.close()
  }
  return closing.promise
}

module.exports = { master, listeners, setBroker, addInMemory, request, close, log }
