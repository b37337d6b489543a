// What the running masters still owe, followed live from their records:
// adds not answered yet, in-memory tasks without a done or error event.
// The drain waits for these to reach zero (the collection says the rest).

export class Tracker {
  constructor () {
    /** master proc -> keys whose addTask has not settled. */
    this.adding = new Map()
    /** master proc -> in-memory keys with no done/error event yet. */
    this.inMemory = new Map()
    this.counts = { intents: 0, added: 0, rejected: 0, done: 0, error: 0 }
    this.followers = new Set()
  }

  /** Calls `fn()` after each record; returns what stops it. */
  follow (fn) {
    this.followers.add(fn)
    return () => this.followers.delete(fn)
  }

  onRecord (record) {
    const set = (map) => {
      if (!map.has(record.proc)) map.set(record.proc, new Set())
      return map.get(record.proc)
    }
    switch (record.event) {
      case 'intent':
        this.counts.intents++
        set(this.adding).add(record.key)
        if (record.inMemory) set(this.inMemory).add(record.key)
        break
      case 'added':
        this.counts.added++
        set(this.adding).delete(record.key)
        break
      case 'rejected':
        this.counts.rejected++
        set(this.adding).delete(record.key)
        set(this.inMemory).delete(record.key)
        break
      case 'done':
      case 'error':
        this.counts[record.event]++
        set(this.inMemory).delete(record.key)
        break
    }
    for (const fn of this.followers) fn()
  }

  /** What the masters `procs` (those alive) still owe. */
  outstanding (procs) {
    let adds = 0
    let inMemory = 0
    for (const proc of procs) {
      adds += this.adding.get(proc)?.size ?? 0
      inMemory += this.inMemory.get(proc)?.size ?? 0
    }
    return { adds, inMemory }
  }
}
