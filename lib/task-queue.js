'use strict'
// TaskQueue: one shared object, importable in the master and in workers.
// In the master it talks to the native dispatcher; in a worker its calls go
// to the master over the worker's channel.

const identity = require('./identity')
const { newTask, fail } = require('./validate')
const { decode, taskFromWire } = require('./codec')

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

function addInMemory (task) {
  const native = masterSide().master()
  try {
    return Promise.resolve(native.addTask(task._id, task.taskType, task.priority, task.dueDate, task.data))
  } catch (error) {
    return Promise.reject(error)
  }
}

function addPersistent () {
  return Promise.reject(new Error(
    'TaskQueue.addTask: persistent tasks (inMemory: false) need the MongoDB queue, which this build does not have yet; pass inMemory: true'
  ))
}

function fromJson (json) {
  return json === null || json === undefined ? undefined : taskFromWire(decode(json))
}

const inMemory = {
  /** The in-memory task with this `_id`, or `undefined`. */
  findById (id) {
    return fromJson(masterOnly('inMemory.findById').master().findById(String(id)))
  },
  /** Removes the task; `true` when there was one. */
  removeById (id) {
    return masterOnly('inMemory.removeById').master().removeById(String(id))
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
   * Queues a task; resolves with its `_id`. Bad arguments throw a TypeError
   * at once and queue nothing.
   */
  addTask (args) {
    const task = newTask(args)
    if (identity.isWorker) {
      const { inMemory: _, ...wire } = task
      const json = `{"_id":${JSON.stringify(task._id)},"taskType":${JSON.stringify(task.taskType)},` +
        `"priority":${task.priority},"dueDate":${task.dueDate},"inMemory":${task.inMemory},"data":${wire.data}}`
      return require('./worker-runtime').request('addTask', json)
    }
    return task.inMemory ? addInMemory(task) : addPersistent(task)
  },

  /** One listener per type, `'done'` or `'error'`: `cb({ value, task })`. */
  addEventListener (type, callback) {
    if (!EVENT_TYPES.includes(type)) {
      throw fail('TaskQueue.addEventListener', 'eventType', type, '"done" or "error"')
    }
    if (typeof callback !== 'function') {
      throw fail('TaskQueue.addEventListener', 'callback', callback, 'a function')
    }
    if (!identity.isWorker) masterSide().listeners[type] = callback
  },

  removeEventListener (type) {
    if (!EVENT_TYPES.includes(type)) {
      throw fail('TaskQueue.removeEventListener', 'eventType', type, '"done" or "error"')
    }
    if (!identity.isWorker) masterSide().listeners[type] = null
  },

  inMemory
}

module.exports = TaskQueue
