'use strict'
// TaskQueue: one shared object, importable in the master and in workers.
// In the master it talks to the native dispatcher; in a worker its calls go
// to the master over the worker's channel (workers hold no MongoDB client).

const identity = require('./identity')
const { checkTask, limitsJson, fail } = require('./validate')
const { decode } = require('./codec')
const { OPS, collectionArgs, taskArgs, taskFromObject } = require('./wire')
const { invalidArg, codes } = require('./errors')
const { traceAdd } = require('./tracing')
const { callPromise, failedCall, popCallback } = require('./call-promise')
const Cursor = require('./cursor')

const EVENT_TYPES = ['done', 'error', 'retry', 'progress']

let masterModule = null

/** The master's side, loaded on first use (a worker never loads it); kept, as `require` costs a lookup per call. */
function masterSide () {
  if (masterModule === null) masterModule = require('./master')
  return masterModule
}

function masterOnly (what) {
  if (identity.isWorker) {
    const error = new Error(`TaskQueue.${what} is only available in the master process`)
    error.code = codes.MASTER_ONLY
    throw error
  }
  return masterSide()
}

/** An optional Node-style callback argument: the function, or null. */
function trailingCallback (what, callback, args) {
  if (callback !== undefined && callback !== null && typeof callback !== 'function') {
    throw fail(what, 'callback', callback, `a function ${args} => ..., or nothing`)
  }
  return callback || null
}

function log (level, message) {
  require('./binding').logLine(level, message)
}

/**
 * A request answered by the master's dispatcher, from wherever it is made;
 * failures carry a code. Bad arguments throw at once: a worker checks them
 * as the master would (the master is in another process).
 */
function send (op, argsJson, blobs) {
  if (!identity.isWorker) return masterSide().request(op, argsJson, blobs)
  require('./binding').checkRequest(op, argsJson)
  return require('./worker-runtime').request(op, argsJson)
}

/** As `send`, a failure of any kind as a rejected promise. */
function request (op, argsJson) {
  try {
    return send(op, argsJson)
  } catch (error) {
    return Promise.reject(error)
  }
}

/**
 * Sends an add request. Its bad arguments are thrown (or given to
 * `done`), as every other check of `addTask`'s; other failures reject.
 */
function add (op, argsJson, what, done, blobs) {
  let work
  try {
    work = send(op, argsJson, blobs)
  } catch (error) {
    if (error.code !== codes.INVALID_ARG) work = Promise.reject(error)
    else if (done === null) throw error
    else return failedCall(error, what, done, log)
  }
  return callPromise(work, what, done, log)
}

function fromJson (json) {
  return json === null || json === undefined ? undefined : taskFromObject(decode(json))
}

/**
 * Meteor's falsy selectors (`undefined`, `null`, `''`, `{ _id: undefined }`)
 * match nothing; they go as `null` (JSON would turn `{ _id: undefined }`
 * into `{}`, which matches everything).
 */
function meteorSelector (selector) {
  if (!selector) return null
  if (typeof selector === 'object' && !Array.isArray(selector) && '_id' in selector && !selector._id) return null
  return selector
}

/** A collection call's arguments as JSON; what cannot be carried is a bad argument. */
function argsJson (args, what) {
  try {
    return collectionArgs(args)
  } catch (error) {
    throw invalidArg(`${what}: ${error.message}`)
  }
}

/**
 * Runs a collection call; returns its CallPromise, of `after(answer)` when
 * `after` is given. `what` names it in errors and log lines.
 */
function run (op, args, what, callback, after) {
  let json
  try {
    json = argsJson(args, what)
  } catch (error) {
    return failedCall(error, what, callback, log)
  }
  const work = request(op, json)
  return callPromise(after ? work.then(after) : work, what, callback, log)
}

/** What a Cursor runs its calls with. */
const collection = {
  run,
  fail: (error, what, callback) => failedCall(error, what, callback, log)
}

/** The answer of findOne: `undefined` when nothing matched, as in Meteor. */
const orUndefined = (task) => (task === null ? undefined : task)

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
    return decode(masterOnly('inMemory.tasks').master().tasks()).map(taskFromObject)
  },
  /** In-memory tasks that could start now, in the order they will run. */
  availableTasks () {
    return decode(masterOnly('inMemory.availableTasks').master().availableTasks()).map(taskFromObject)
  }
}

const TaskQueue = {
  /**
   * Queues a task; resolves with its `_id` (for a persistent task, once
   * MongoDB acknowledged it). Bad arguments throw a TypeError at once, or
   * go to `callback(error)` when there is one.
   */
  addTask (args, callback) {
    const what = 'TaskQueue.addTask'
    const done = trailingCallback(what, callback, '(error, _id)')
    let task
    try {
      // A worker's adds go through its master as JSON alone.
      task = checkTask(args, what, undefined, !identity.isWorker)
    } catch (error) {
      if (done === null) throw error
      return failedCall(error, what, done, log)
    }
    // The hot path: an in-memory task in the master, batched into the next
    // hand-over; a plain promise (a failed hand-over is logged by the master).
    // One with an _id of its own (it can be a duplicate) or a policy goes at
    // once, as a call.
    if (task.inMemory && !identity.isWorker && task._id === null && task.policy === undefined && task.group === undefined) {
      let added
      try {
        added = masterSide().addInMemory(task)
      } catch (error) {
        return failedCall(error, what, done, log)
      }
      return done === null ? added : callPromise(added, what, done, log)
    }
    task.trace = traceAdd(task.taskType, task.inMemory ? 'memory' : 'persistent', task._id)
    return add(OPS.ADD_TASK, taskArgs(task), what, done, task.blobs)
  },

  /**
   * `addTasks(tasks, [callback])`: queues several tasks at once (the
   * persistent ones in one insert); resolves with their `_id`s, in order.
   * Every entry is checked first: a bad one throws a TypeError naming its
   * index and field, and nothing is queued.
   */
  addTasks (tasks, callback) {
    const what = 'TaskQueue.addTasks'
    const done = trailingCallback(what, callback, '(error, ids)')
    let json
    const blobs = []
    try {
      if (!Array.isArray(tasks)) throw fail(what, 'tasks', tasks, 'an array of tasks')
      json = `[${tasks.map((args, i) => {
        const task = checkTask(args, what, (field) => `tasks[${i}].${field}`, !identity.isWorker)
        for (const blob of task.blobs) blobs.push(blob)
        task.trace = traceAdd(task.taskType, task.inMemory ? 'memory' : 'persistent', task._id)
        return taskArgs(task)
      }).join(',')}]`
    } catch (error) {
      if (done === null) throw error
      return failedCall(error, what, done, log)
    }
    return add(OPS.ADD_TASKS, json, what, done, blobs)
  },

  /**
   * One listener per type: `'done'` and `'error'` get `{ value, task }`,
   * `'retry'` gets `{ value, task, attempt, nextRunAt }`.
   */
  addEventListener (type, callback) {
    if (!EVENT_TYPES.includes(type)) {
      throw fail('TaskQueue.addEventListener', 'eventType', type, '"done", "error", "retry" or "progress"')
    }
    if (typeof callback !== 'function') {
      throw fail('TaskQueue.addEventListener', 'callback', callback, 'a function')
    }
    if (!identity.isWorker) masterSide().setListener(type, callback)
  },

  removeEventListener (type) {
    if (!EVENT_TYPES.includes(type)) {
      throw fail('TaskQueue.removeEventListener', 'eventType', type, '"done", "error", "retry" or "progress"')
    }
    if (!identity.isWorker) masterSide().setListener(type, null)
  },

  /**
   * `findOne([selector], [options], [callback])`: the first persistent task
   * matching `selector` (an object or an `_id`), or `undefined`.
   */
  findOne (...args) {
    const callback = popCallback(args)
    const selector = args.length === 0 ? {} : meteorSelector(args[0])
    return run(OPS.FIND_ONE, { selector, options: args[1] }, 'TaskQueue.findOne', callback, orUndefined)
  },

  /**
   * `find([selector], [options])`: a cursor over the persistent tasks
   * matching `selector`; options `sort`, `skip`, `limit`, `fields`.
   */
  find (...args) {
    if (args.length > 0 && typeof args[args.length - 1] === 'function') {
      return new Cursor(collection, invalidArg('TaskQueue.find takes no callback: it returns a cursor; ' +
        'give the callback to its fetch, forEach, map or count'))
    }
    const selector = args.length === 0 ? {} : meteorSelector(args[0])
    return new Cursor(collection, { selector, options: args[1] })
  },

  /** `count([selector], [options], [callback])`: how many persistent tasks match. */
  count (...args) {
    const callback = popCallback(args)
    const selector = args.length === 0 ? {} : meteorSelector(args[0])
    return run(OPS.COUNT, { selector, options: args[1] }, 'TaskQueue.count', callback)
  },

  /** `remove(selector, [callback])`: removes every matching persistent task; resolves with how many. */
  remove (...args) {
    const what = 'TaskQueue.remove'
    const callback = popCallback(args)
    if (args[0] === undefined) {
      return failedCall(fail(what, 'selector', undefined, 'an object or an _id string ({} removes all)'), what, callback, log)
    }
    if (args.length > 1) {
      return failedCall(invalidArg(`${what} takes (selector, [callback]); got ${args.length + (callback ? 1 : 0)} arguments`), what, callback, log)
    }
    return run(OPS.REMOVE, { selector: meteorSelector(args[0]) }, what, callback)
  },

  /**
   * `cancel(idOrSelector, [reason], [callback])`: cancels a task by `_id`
   * (in memory or persistent) or the persistent tasks a selector matches
   * (as `remove` takes it). A queued task ends at once; a running one has
   * its `job.signal` aborted, and its worker is stopped if it does not end
   * within `cancelGrace`. Each ends with an `error` event (code
   * `ERR_TASK_CANCELLED`, message `reason` when given), is never retried,
   * and a persistent one stays as a failed document. Resolves with how
   * many tasks it cancelled. Works in the master and in workers.
   */
  cancel (...args) {
    const what = 'TaskQueue.cancel'
    const callback = popCallback(args)
    const [target, reason] = args
    let call
    try {
      if (args.length > 2) throw invalidArg(`${what} takes (idOrSelector, [reason], [callback]); got ${args.length} arguments before the callback`)
      if (typeof target === 'string') {
        if (target.length === 0) throw fail(what, 'idOrSelector', target, 'a task\'s _id or a selector')
        call = { id: target, reason }
      } else if (target !== null && typeof target === 'object' && !Array.isArray(target)) {
        call = { selector: meteorSelector(target), reason }
      } else {
        throw fail(what, 'idOrSelector', target, 'a task\'s _id or a selector')
      }
      if (reason !== undefined && typeof reason !== 'string') throw fail(what, 'reason', reason, 'a string, or nothing')
    } catch (error) {
      if (callback === null) throw error
      return failedCall(error, what, callback, log)
    }
    return run(OPS.CANCEL, call, what, callback)
  },

  /**
   * `setLimits(taskType, limits, [callback])`: replaces the limits of
   * `taskType` (`{ concurrency?, rate?: { max, per }, perGroup?: {
   * concurrency?, rate? } }`; `null` clears them). Persistent tasks obey
   * them in every master sharing the collection, in-memory ones in each
   * master. Resolves once they are stored. Works in masters and workers.
   */
  setLimits (taskType, limits, callback) {
    const what = 'TaskQueue.setLimits'
    const done = trailingCallback(what, callback, '(error)')
    let args
    try {
      if (typeof taskType !== 'string' || taskType.length === 0) throw fail(what, 'taskType', taskType, 'a non-empty string')
      if (limits === undefined) throw fail(what, 'limits', limits, 'an object { concurrency, rate, perGroup }, or null to clear them')
      args = `{"taskType":${JSON.stringify(taskType)},"limits":${limitsJson(limits, what, 'limits')}}`
    } catch (error) {
      if (done === null) throw error
      return failedCall(error, what, done, log)
    }
    return callPromise(request(OPS.SET_LIMITS, args).then(() => undefined), what, done, log)
  },

  /**
   * `update(selector, modifier, [options], [callback])`, as Meteor's: one
   * document unless `{ multi: true }`; `upsert` inserts when none matches;
   * a modifier without `$` operators replaces the document (keeping its
   * `_id`). Resolves with how many documents matched (or 1 inserted).
   */
  update (...args) {
    const callback = popCallback(args)
    return update('TaskQueue.update', args, callback, {}, (answer) => answer.numberAffected)
  },

  /**
   * `upsert(selector, modifier, [options], [callback])`: `update` with
   * `upsert: true`; resolves with `{ numberAffected, insertedId }`
   * (`insertedId` when a document was inserted).
   */
  upsert (...args) {
    const callback = popCallback(args)
    return update('TaskQueue.upsert', args, callback, { upsert: true }, ({ numberAffected, insertedId }) =>
      insertedId === null || insertedId === undefined ? { numberAffected } : { numberAffected, insertedId })
  },

  inMemory
}

function update (what, args, callback, forced, after) {
  if (args.length < 2) {
    return failedCall(invalidArg(`${what} needs a selector and a modifier, as in ${what}({ _id }, { $set: { ... } })`), what, callback, log)
  }
  let options = args[2]
  if (options === undefined || options === null) options = forced
  else if (typeof options === 'object' && !Array.isArray(options)) options = Object.assign({}, options, forced)
  return run(OPS.UPDATE, { selector: meteorSelector(args[0]), modifier: args[1], options }, what, callback, after)
}

for (const op of ['findOne', 'find', 'count', 'remove', 'update', 'upsert']) {
  TaskQueue[`${op}Async`] = TaskQueue[op]
}

module.exports = TaskQueue
