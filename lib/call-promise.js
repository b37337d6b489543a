'use strict'
// The promise a TaskQueue call returns. Code that uses it (then, catch,
// finally, await, Promise.all...) sees an ordinary promise. But a failure
// that nothing asked for is logged once instead of becoming an unhandled
// rejection: upstream's calls were Meteor collection calls, made and
// forgotten (Meteor logged their errors), and an app written for them must
// not lose its master to, say, an unawaited addTask with a duplicate _id.
//
// How: the promise stays pending after a failure until something calls its
// `then` (which catch, finally and await all go through); only then does it
// reject, so there is always a handler when it does. If nothing has by the
// time the event loop turns (when Node would report an unhandled
// rejection), the failure is logged. A `then` that comes later still gets
// the rejection.

const OUTCOME = Symbol('meteor-cluster.outcome')

class CallPromise extends Promise {
  // Promises made by then/catch/finally are ordinary ones: a rejection the
  // app passes on down its own chain is the app's to handle.
  static get [Symbol.species] () {
    return Promise
  }

  then (onFulfilled, onRejected) {
    const derived = super.then(onFulfilled, onRejected)
    const outcome = this[OUTCOME]
    if (outcome !== undefined && !outcome.watched) {
      outcome.watched = true
      if (outcome.failed) outcome.reject(outcome.error)
    }
    return derived
  }
}

/**
 * The promise of a call whose work is the promise `work`. `callback`, if
 * given, gets `(error)` or `(null, value)` (and handles the failure);
 * `what` names the call in log lines; `log(level, message)` writes them.
 */
function callPromise (work, what, callback, log) {
  let resolve, reject
  const promise = new CallPromise((res, rej) => {
    resolve = res
    reject = rej
  })
  const outcome = { watched: false, failed: false, error: undefined, reject }
  Object.defineProperty(promise, OUTCOME, { value: outcome })
  work.then((value) => {
    resolve(value)
    if (callback) call(callback, what, log, null, value)
  }, (error) => {
    outcome.failed = true
    outcome.error = error
    if (outcome.watched) reject(error)
    if (callback) {
      call(callback, what, log, error)
    } else {
      setImmediate(() => {
        if (!outcome.watched) log('error', unhandled(what, error))
      })
    }
  })
  return promise
}

/** A call that already failed (bad arguments), as `callPromise` would give it. */
function failedCall (error, what, callback, log) {
  return callPromise(Promise.reject(error), what, callback, log)
}

function call (callback, what, log, error, value) {
  try {
    if (error) callback(error)
    else callback(null, value)
  } catch (thrown) {
    log('error', `the callback of ${what} threw: ${(thrown && thrown.stack) || thrown}`)
  }
}

function unhandled (what, error) {
  const message = String((error && error.message) || error).replace(/^TaskQueue\.\w+: /, '')
  const code = error && error.code ? ` [${error.code}]` : ''
  return `${what} failed and nothing awaited or caught it, so it is only logged: ${message}${code}`
}

/** Takes a trailing Node-style callback off `args` (an array); returns it or null. */
function popCallback (args) {
  return args.length > 0 && typeof args[args.length - 1] === 'function' ? args.pop() : null
}

module.exports = { callPromise, failedCall, popCallback }
