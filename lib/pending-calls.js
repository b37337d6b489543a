'use strict'
// Calls awaiting an answer by number: the master's calls to its dispatcher
// and a worker's calls to its master are both answered by a
// `{ req, ok, value }` message.

const { errorFrom } = require('./shapes')

class PendingCalls {
  constructor () {
    this.calls = new Map()
    this.next = 1
  }

  /** Numbers a call, runs `send(req)`, and returns the promise of its answer. */
  start (send) {
    const req = this.next
    this.next = this.next >= 0x7fffffff ? 1 : this.next + 1
    return new Promise((resolve, reject) => {
      this.calls.set(req, { resolve, reject })
      try {
        send(req)
      } catch (error) {
        this.calls.delete(req)
        reject(error)
      }
    })
  }

  /** Fails every call still waiting (the dispatcher stopped). */
  rejectAll (error) {
    const waiting = [...this.calls.values()]
    this.calls.clear()
    for (const call of waiting) call.reject(error)
  }

  /** Settles the call an answer is for. */
  settle ({ req, ok, value }) {
    const call = this.calls.get(req)
    if (!call) return
    this.calls.delete(req)
    if (ok) call.resolve(value)
    else call.reject(errorFrom(value))
  }
}

module.exports = PendingCalls
