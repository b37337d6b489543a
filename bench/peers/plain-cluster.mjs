// A plain Node `cluster` + `process.send` pool, written the straightforward
// way: a FIFO of pending tasks, one task in flight per worker, the next one
// sent when a worker answers. Workers say `ready` once their handler is in
// place. This file is also the workers' script (cluster.setupPrimary exec).
import cluster from 'node:cluster'
import { fileURLToPath } from 'node:url'

if (cluster.isWorker) {
  process.on('message', (msg) => {
    process.send({ id: msg.id, value: msg.x })
  })
  process.send({ ready: true })
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

  /** Runs `echo(x)` in a worker; resolves with its result. */
  run (x) {
    return new Promise((resolve, reject) => {
      const task = { id: this.nextId++, x, resolve, reject }
      const worker = this.idle.pop()
      if (worker) this.send(worker, task)
      else this.queue.push(task)
    })
  }

  send (worker, task) {
    this.inflight.set(worker.id, task)
    worker.send({ id: task.id, x: task.x })
  }

  onMessage (worker, msg) {
    if (!msg.ready) {
      const task = this.inflight.get(worker.id)
      this.inflight.delete(worker.id)
      task.resolve(msg.value)
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
