// A plain Node `cluster` + `process.send` pool, written the straightforward
// way: a FIFO of pending tasks, one task in flight per worker, the next one
// sent when a worker answers. Workers say `ready` once their handler is in
// place. This file is also the workers' script (cluster.setupPrimary exec).
// Besides the echo (`run(x)`), `call(fn, data)` runs one of the payload and
// CPU-bound tasks of bench/lib/work.cjs; binary data crosses `process.send`
// (JSON) as base64, encoded and decoded by hand as a user would.
import cluster from 'node:cluster'
import { fileURLToPath } from 'node:url'
import work from '../lib/work.cjs'

if (cluster.isWorker) {
  const calls = {
    payload: (data) => work.payloadTask(data.b64 === undefined ? data : { b: Buffer.from(data.b64, 'base64') }),
    hash: work.hashTask
  }
  process.on('message', (msg) => {
    if (msg.fn === undefined) return process.send({ id: msg.id, value: msg.x })
    let value
    try {
      value = calls[msg.fn](msg.data)
    } catch (error) {
      return process.send({ id: msg.id, error: error.message })
    }
    process.send({ id: msg.id, value })
  })
  process.send({ ready: true })
}

/** `data` ready for `process.send`: a Uint8Array as base64. */
function encode (data) {
  if (data && data.b instanceof Uint8Array) {
    return { b64: Buffer.from(data.b.buffer, data.b.byteOffset, data.b.byteLength).toString('base64') }
  }
  return data
}

export class PlainClusterPool {
  constructor (size) {
    cluster.setupPrimary({ exec: fileURLToPath(import.meta.url), args: [] })
    this.queue = []
    this.head = 0
    this.idle = []
    this.inflight = new Map() // worker id -> task
    this.nextId = 1
    this.workers = []
    this.readyCount = 0
    this.onReady = null
    for (let i = 0; i < size; i++) {
      const worker = cluster.fork()
      this.workers.push(worker)
      worker.on('message', (msg) => this.onMessage(worker, msg))
      worker.on('exit', (code, signal) => {
        const task = this.inflight.get(worker.id)
        if (task && !this.closing) task.reject(new Error(`worker ${worker.id} exited (${code ?? signal})`))
      })
    }
  }

  /** Resolves once every worker has said `ready`. */
  ready () {
    if (this.readyCount === this.workers.length) return Promise.resolve()
    return new Promise((resolve) => { this.onReady = resolve })
  }

  /** Runs `echo(x)` in a worker; resolves with its result. */
  run (x) {
    return new Promise((resolve, reject) => {
      const task = { id: this.nextId++, x, resolve, reject }
      const worker = this.idle.pop()
      if (worker) this.send(worker, task)
      else this.queue.push(task)
    })
  }

  /** Runs the task `fn` of bench/lib/work.cjs on `data` in a worker; resolves with its result. */
  call (fn, data) {
    return new Promise((resolve, reject) => {
      const task = { id: this.nextId++, fn, data: encode(data), resolve, reject }
      const worker = this.idle.pop()
      if (worker) this.send(worker, task)
      else this.queue.push(task)
    })
  }

  send (worker, task) {
    this.inflight.set(worker.id, task)
    if (task.fn === undefined) worker.send({ id: task.id, x: task.x })
    else worker.send({ id: task.id, fn: task.fn, data: task.data })
  }

  onMessage (worker, msg) {
    if (msg.ready) {
      if (++this.readyCount === this.workers.length && this.onReady) this.onReady()
    } else {
      const task = this.inflight.get(worker.id)
      this.inflight.delete(worker.id)
      if (msg.error !== undefined) task.reject(new Error(msg.error))
      else task.resolve(msg.value)
    }
    if (this.head < this.queue.length) {
      const task = this.queue[this.head]
      this.queue[this.head++] = undefined
      if (this.head === this.queue.length) {
        this.queue = []
        this.head = 0
      }
      this.send(worker, task)
    } else {
      this.idle.push(worker)
    }
  }

  /** Stops every worker; resolves when they have exited (SIGKILL after 5 s). */
  async close () {
    this.closing = true
    await Promise.all(this.workers.map((worker) => new Promise((resolve) => {
      if (worker.isDead()) return resolve()
      const timer = setTimeout(() => worker.process.kill('SIGKILL'), 5000)
      worker.once('exit', () => { clearTimeout(timer); resolve() })
      worker.kill()
    })))
  }
}
