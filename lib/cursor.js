'use strict'
// What `TaskQueue.find()` returns: Meteor's cursor, with Promises. Like
// Meteor's, it reads nothing until a method asks, and each method reads
// afresh. Meteor 2's methods (fetch, forEach, map, count) and Meteor 3's
// (fetchAsync, forEachAsync, mapAsync, countAsync) are the same here, each
// taking an optional Node-style callback last; `await cursor` fetches, as
// `for await (const task of cursor)` iterates.

const { invalidArg } = require('./errors')
const { OPS } = require('./wire')
const { popCallback } = require('./call-promise')

class Cursor {
  /**
   * `collection.run(op, args, what, callback, after)` runs a collection call and
   * returns its CallPromise (of `after(answer)` when given);
   * `collection.fail(error, what, callback)` is a call that already failed.
   * `args` are find's selector and options, or the error that makes every
   * method fail.
   */
  constructor (collection, args) {
    this._collection = collection
    this._args = args
  }

  _run (op, args, what, callback, after) {
    return this._args instanceof Error
      ? this._collection.fail(this._args, what, callback)
      : this._collection.run(op, args, what, callback, after)
  }

  /** Every matching task, as an array. */
  fetch (callback) {
    return this._run(OPS.FIND, this._args, 'TaskQueue.find().fetch', fnOrNull(callback))
  }

  /**
   * How many tasks match. As in Meteor, `skip` and `limit` count only when
   * `applySkipLimit` is true.
   */
  count (applySkipLimit, callback) {
    if (typeof applySkipLimit === 'function') [applySkipLimit, callback] = [false, applySkipLimit]
    const { selector, options } = this._args
    return this._run(OPS.COUNT, { selector, options: countOptions(options, applySkipLimit) },
      'TaskQueue.find().count', fnOrNull(callback))
  }

  /**
   * Calls `iteratee(task, index, cursor)` for each task in turn, awaiting
   * what it returns before the next; resolves when all are done.
   * `forEach(iteratee, [thisArg], [callback])`.
   */
  forEach (iteratee, ...rest) {
    return this._each('forEach', iteratee, rest, false)
  }

  /** As forEach, and resolves with what `iteratee` returned (awaited), in order. */
  map (iteratee, ...rest) {
    return this._each('map', iteratee, rest, true)
  }

  _each (method, iteratee, rest, collect) {
    const callback = popCallback(rest)
    const thisArg = rest[0]
    const what = `TaskQueue.find().${method}`
    if (typeof iteratee !== 'function') {
      return this._collection.fail(invalidArg(`${what}: the iteratee must be a function, got ${typeof iteratee}`), what, callback)
    }
    return this._run(OPS.FIND, this._args, what, callback, async (tasks) => {
      const results = collect ? [] : undefined
      for (let i = 0; i < tasks.length; i++) {
        const result = await iteratee.call(thisArg, tasks[i], i, this)
        if (collect) results.push(result)
      }
      return results
    })
  }

  then (onFulfilled, onRejected) {
    return this.fetch().then(onFulfilled, onRejected)
  }

  catch (onRejected) {
    return this.fetch().catch(onRejected)
  }

  finally (onFinally) {
    return this.fetch().finally(onFinally)
  }

  [Symbol.asyncIterator] () {
    let tasks = null
    let next = 0
    return {
      next: async () => {
        if (tasks === null) tasks = await this.fetch()
        return next < tasks.length ? { value: tasks[next++], done: false } : { value: undefined, done: true }
      },
      [Symbol.asyncIterator] () { return this }
    }
  }
}

for (const method of ['fetch', 'count', 'forEach', 'map']) {
  Cursor.prototype[`${method}Async`] = Cursor.prototype[method]
}

function fnOrNull (callback) {
  return typeof callback === 'function' ? callback : null
}

/** find's options as count reads them: no sort or projection, and skip and limit only when asked. */
function countOptions (options, applySkipLimit) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) return options
  const { sort, fields, projection, skip, limit, ...rest } = options
  return applySkipLimit ? Object.assign(rest, { skip, limit }) : rest
}

module.exports = Cursor
