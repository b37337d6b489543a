'use strict'
// TaskQueue: one shared object, importable in the master and in workers.
// In the master it talks to the native dispatcher; in a worker its calls go
// to the master over the worker's channel (workers hold no MongoDB client).

const identity = require('./identity')
const { newTask, fail } = require('./validate')
const { decode, encode, taskFromWire } = require('./codec')

const EVENT_TYPES = ['done', 'error']

function masterSide () {
  return require('./master')
}

function masterOnly (what) {
  if (identity.isWorker) {
    throw new Error(`TaskQueue.${what} is only available in the master process`)
  }
  return masterSide()
}

/** A call answered by the master's dispatcher, from wherever it is made. */
function request (op, argsJson) {
  return identity.isWorker
    ? require('./worker-runtime').request(op, argsJson)
    : masterSide().request(op, argsJson)
}

function addInMemory (task) {
  try {
    return Promise.resolve(masterSide().addInMemory(task))
  } catch (error) {
    return Promise.reject(error)
  }
}

function fromJson (json) {
  return json === null || json === undefined ? undefined : taskFromWire(decode(json))
}

/** A collection call; `what` names it in errors. */
function collectionCall (op, args) {
  let json
  try {
    json = encode(args, `TaskQueue.${op} arguments`)
  } catch (error) {
    return Promise.reject(error)
  }
  return request(op, json)
}

/** Meteor's cursor, as far as a promise can be one: `await find()` or `find().fetch()`. */
function cursor (promise) {
  promise.fetch = () => promise
  promise.fetchAsync = () => promise
  promise.count = () => promise.then((docs) => docs.length)
  promise.countAsync = promise.count
  return promise
}

const inMemory = {
  /** The in-memory task with this `_id`, or `undefined`. */
  findById (id) {
    return fromJson(masterOnly('inMemory.findById').master().findById(String(id)))
  },
  /** Removes the task; returns it (as upstream), or `undefined`. */
  removeById (id) {
    return fromJson(masterOnly('inMemory.removeById').withNative((m) => m.removeById(String(id))))
  },
  /** Every in-memory task, running ones included. */
  tasks () {
    return decode(masterOnly('inMemory.tasks').master().tasks()).map(taskFromWire)
  },
  /** In-memory tasks that could start now, in the order they will run. */
  availableTasks () {
    return decode(masterOnly('inMemory.availableTasks').master().availableTasks()).map(taskFromWire)
  }
}

const TaskQueue = {
  /**
   * Queues a task; resolves with its `_id` (for a persistent task, once
   * MongoDB acknowledged it). Bad arguments throw a TypeError at once.
   */
  addTask (args) {
    const task = newTask(args)
    if (task.inMemory && !identity.isWorker) return addInMemory(task)
    const json = `{"_id":${JSON.stringify(task._id)},"taskType":${JSON.stringify(task.taskType)},` +
      `"priority":${task.priority},"dueDate":${task.dueDate},"inMemory":${task.inMemory},"data":${task.data}}`
    return request('addTask', json)
  },

  /** One listener per type, `'done'` or `'error'`: `cb({ value, task })`. */
  addEventListener (type, callback) {
    if (!EVENT_TYPES.includes(type)) {
      throw fail('TaskQueue.addEventListener', 'eventType', type, '"done" or "error"')
    }
    if (typeof callback !== 'function') {
      throw fail('TaskQueue.addEventListener', 'callback', callback, 'a function')
    }
    if (!identity.isWorker) masterSide().setListener(type, callback)
  },

  removeEventListener (type) {
    if (!EVENT_TYPES.includes(type)) {
      throw fail('TaskQueue.removeEventListener', 'eventType', type, '"done" or "error"')
    }
    if (!identity.isWorker) masterSide().setListener(type, null)
  },

  /** The first persistent task matching `selector` (an object or an `_id`), or null. */
  findOne (selector = {}, options = {}) {
    return collectionCall('findOne', { selector, options })
  },

  /** Persistent tasks matching `selector`; options `sort`, `limit`, `skip`, `fields`. */
  find (selector = {}, options = {}) {
    return cursor(collectionCall('find', { selector, options }))
  },

  /** Number of persistent tasks matching `selector`. */
  count (selector = {}) {
    return collectionCall('count', { selector })
  },

  /** Removes every persistent task matching `selector`; resolves with how many. */
  remove (selector) {
    if (selector === undefined) {
      return Promise.reject(fail('TaskQueue.remove', 'selector', selector, 'an object or an _id string ({} removes all)'))
    }
    return collectionCall('remove', { selector })
  },

  /** Meteor's update: one document unless `{ multi: true }`; resolves with how many changed. */
  update (selector, modifier, options = {}) {
    return collectionCall('update', { selector, modifier, options })
  },

  inMemory
}

for (const op of ['findOne', 'find', 'count', 'remove', 'update']) {
  TaskQueue[`${op}Async`] = TaskQueue[op]
}

module.exports = TaskQueue
