'use strict'
// `job.signal`'s AbortController: Node's own where it has one that carries
// a reason (Node 16.14+), else a small one with the same surface (Node 14,
// Meteor 2's, has none): `aborted`, `reason`, `onabort`,
// `addEventListener('abort', fn, { once })`, `removeEventListener`,
// `throwIfAborted()`.

class Signal {
  constructor () {
    this.aborted = false
    this.reason = undefined
    this.onabort = null
    this._listeners = []
  }

  addEventListener (type, listener, options) {
    if (type !== 'abort' || typeof listener !== 'function') return
    const once = typeof options === 'object' && options !== null && options.once === true
    this._listeners.push({ listener, once })
  }

  removeEventListener (type, listener) {
    if (type !== 'abort') return
    this._listeners = this._listeners.filter((l) => l.listener !== listener)
  }

  throwIfAborted () {
    if (this.aborted) throw this.reason
  }

  _abort (reason) {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason
    const event = { type: 'abort', target: this }
    const listeners = this._listeners
    this._listeners = listeners.filter((l) => !l.once)
    if (typeof this.onabort === 'function') callSafely(this.onabort, this, event)
    for (const { listener } of listeners) callSafely(listener, this, event)
  }
}

/** A listener's throw is reported as Node reports one of its own, not thrown at the caller. */
function callSafely (fn, self, event) {
  try {
    fn.call(self, event)
  } catch (error) {
    process.nextTick(() => { throw error })
  }
}

class Controller {
  constructor () {
    this.signal = new Signal()
  }

  abort (reason) {
    this.signal._abort(reason)
  }
}

function hasNativeReason () {
  if (typeof AbortController !== 'function') return false
  const controller = new AbortController()
  const reason = new Error('probe')
  controller.abort(reason)
  return controller.signal.reason === reason
}

module.exports = hasNativeReason() ? AbortController : Controller
