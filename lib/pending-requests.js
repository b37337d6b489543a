'use strict'
// Requests awaiting their reply by number: the master's requests to its
// dispatcher and a worker's requests to its master are both answered by a
// `{ req, ok, value }` reply.

const { errorFrom } = require('./errors')

class PendingRequests {
  constructor () {
    this.waiting = new Map()
    this.next = 1
  }

  /**
   * Numbers a request, runs `send(req)`, and returns the promise of its
   * answer. What `send` throws (bad arguments) is thrown here.
   */
  start (send) {
    const req = this.next
    this.next = this.next >= 0x7fffffff ? 1 : this.next + 1
    let settlers
    const promise = new Promise((resolve, reject) => { settlers = { resolve, reject } })
    this.waiting.set(req, settlers)
    try {
      send(req)
    } catch (error) {
      this.waiting.delete(req)
      throw error
    }
    return promise
  }

  /** Fails every request still waiting (the dispatcher stopped). */
  rejectAll (error) {
    const waiting = [...this.waiting.values()]
    this.waiting.clear()
    for (const request of waiting) request.reject(error)
  }

  /** Settles the request a reply is for. */
  settle ({ req, ok, value }) {
    const request = this.waiting.get(req)
    if (!request) return
    this.waiting.delete(req)
    if (ok) request.resolve(value)
    else request.reject(errorFrom(value))
  }
}

module.exports = PendingRequests
