'use strict'
// The master's side of the facade: the native Master (created on first use),
// the event listeners and the message broker. Events arrive in batches from
// the dispatcher; each is handed to the user's callback here.

const binding = require('./binding')
const { decode, encode, taskFromWire } = require('./codec')
const PendingCalls = require('./pending-calls')
const { newId } = require('./ids')

const listeners = { done: null, error: null }
let broker = null
let native = null
let closing = null
const calls = new PendingCalls()

function log (level, message) {
  binding.logLine(level, message)
}

/** The native Master, with every buffered add handed over (so any call sees them). */
function master () {
  if (native === null) native = new binding.Master(onEvents)
  if (adds.length > 0) flushAdds()
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

/** In-memory adds not handed to the dispatcher yet, as JSON texts. */
let adds = []
let flushQueued = false
/** A long burst is handed over in slices, so it starts running while JS still adds. */
const ADD_BATCH = 256
let lastType = null
let lastTypeJson = null

function flushAdds () {
  const batch = adds
  adds = []
  if (batch.length === 0) return
  try {
    native.addTasks(`[${batch.join(',')}]`)
  } catch (error) {
    log('error', `could not hand ${batch.length} queued tasks to the dispatcher: ${error.message}`)
  }
}

function flushQueuedAdds () {
  flushQueued = false
  flushAdds()
}

/** Queues an in-memory task; a burst of adds reaches the dispatcher in one go. */
function addInMemory (task) {
  if (task._id !== null) {
    return master().addTask(task._id, task.taskType, task.priority, task.dueDate, task.data)
  }
  if (native === null) master()
  if (task.taskType !== lastType) {
    lastType = task.taskType
    lastTypeJson = JSON.stringify(task.taskType)
  }
  const id = newId()
  adds.push(`["${id}",${lastTypeJson},${task.priority},${task.dueDate},${Date.now()},${task.data}]`)
  if (adds.length >= ADD_BATCH) {
    flushAdds()
  } else if (!flushQueued) {
    flushQueued = true
    queueMicrotask(flushQueuedAdds)
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
    master().close()
  }
  return closing.promise
}

module.exports = { master, listeners, setBroker, addInMemory, request, close, log }
