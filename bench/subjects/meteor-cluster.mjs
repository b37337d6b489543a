// meteor-cluster as a bench subject. This same file runs in the master and
// in every worker the master forks (with the same argv), so the options are
// computed from argv the same way on both sides, and everything else is
// guarded by Cluster.isMaster().
//
// A worker imports what plain cluster's worker imports (its pool, the
// tasks, the arguments); the measuring code is the master's alone, loaded
// there before the clock starts, as plain cluster's master loads it.
import { Cluster, TaskQueue } from 'meteor-cluster'
import { args, now, runSubject, watchdog, within, measureThroughput, measureLatency, expectedSum, median } from '../lib/common.mjs'
import work from '../lib/work.cjs'

const { measurePayload, measureColdBurst, measureColdLatency, measureCpu } = Cluster.isMaster() ? await import('../lib/measure.mjs') : {}
const { workload, params } = args()
const t0 = now() // the "first task on a cold pool" clock starts at new Cluster
const ONE_WORKER = ['start', 'payload', 'persistentPayload']
const PERSISTENT = ['persistent', 'depthRounds', 'depthBacklog', 'persistentPayload', 'limitsRounds']
const cluster = new Cluster({
  ECHO: (job) => job.data.x,
  PAYLOAD: (job) => work.payloadTask(job.data),
  // The ms that `calls` progress reports take inside the task.
  PROGRESS: (job) => {
    const start = performance.now()
    for (let i = 0; i < job.data.calls; i++) job.progress(i)
    return performance.now() - start
  },
  HASH: (job) => work.hashTask(job.data)
}, {
  maxAvailableWorkers: ONE_WORKER.includes(workload) ? 1 : 2,
  logs: 'error',
  keepAlive: 'always',
  ...(params.prefetch === undefined ? {} : { prefetch: params.prefetch }),
  ...(params.limits === undefined ? {} : { limits: params.limits })
})

if (Cluster.isMaster()) {
  watchdog(params.watchdogMs ?? 60000)
  // What a Prometheus scrape costs the pool: read the metrics every scrapeMs.
  if (params.scrapeMs) {
    setInterval(() => cluster.metrics().then((text) => {
      if (!text.includes('meteor_cluster_tasks_finished_total')) throw new Error('a scrape without the finished counter')
    }), params.scrapeMs).unref()
  }
  // One listener per type: the current measurement installs its callback here.
  let onDone = null
  let onError = null
  TaskQueue.addEventListener('done', ({ value, task }) => onDone && onDone(value, task))
  TaskQueue.addEventListener('error', ({ value, task }) => onError && onError(value, task))

  const inMemory = !PERSISTENT.includes(workload)
  const add = (x) => TaskQueue.addTask({ taskType: 'ECHO', data: { x }, inMemory })
  const failed = (reject) => (value, task) => reject(new Error(`task ${task._id} failed: ${value && value.message}`))

  /** Adds `n` tasks at once; resolves with the sum of their values when all are done. */
  const burst = (n) => new Promise((resolve, reject) => {
    let left = n
    let sum = 0
    onError = failed(reject)
    onDone = (value) => {
      sum += value
      if (--left === 0) resolve(sum)
    }
    for (let i = 0; i < n; i++) add(i).catch(reject)
  })

  /** Adds one task; resolves with its value when done. */
  const one = (x) => new Promise((resolve, reject) => {
    onError = failed(reject)
    onDone = (value) => resolve(value)
    add(x).catch(reject)
  })

  /** Adds one task of `taskType`; resolves with its value when done. */
  const oneOf = (taskType, data, persistent = false) => new Promise((resolve, reject) => {
    onError = failed(reject)
    // Let go of once called: it shares its scope with `data`, which the
    // payload bench's memory figures must not count.
    onDone = (value) => {
      onDone = null
      resolve(value)
    }
    TaskQueue.addTask({ taskType, data, inMemory: !persistent }).catch(reject)
  })

  /** Adds hash tasks (all at once); resolves with their values, in the order given. */
  const hashes = (datas) => new Promise((resolve, reject) => {
    const values = new Array(datas.length)
    let left = datas.length
    onError = failed(reject)
    onDone = (value, task) => {
      values[task.data.seed] = value
      if (--left === 0) resolve(values)
    }
    for (const data of datas) TaskQueue.addTask({ taskType: 'HASH', data, inMemory: true }).catch(reject)
  })

  /** Resolves once `size` workers are ready (cluster.stats()). */
  const workersReady = async (size) => {
    while (cluster.stats().readyWorkers < size) await new Promise((resolve) => setTimeout(resolve, 5))
  }

  /** Adds `n` persistent tasks at once (every add issued before any is awaited); tasks/s to the last done. */
  const persistentBurst = async (n, timeoutMs) => {
    const start = now()
    const sum = await within(burst(n), timeoutMs, `${n} persistent tasks`)
    const ms = now() - start
    if (sum !== expectedSum(n)) throw new Error(`wrong results (sum ${sum}, expected ${expectedSum(n)})`)
    return n / (ms / 1000)
  }

  /** Resolves with the sum of data.x once `n` tasks are done (the callback is installed at once). */
  const doneCount = (n) => {
    let left = n
    let sum = 0
    const done = new Promise((resolve, reject) => {
      onError = failed(reject)
      onDone = (value) => {
        sum += value
        if (--left === 0) resolve(sum)
      }
    })
    done.catch(() => {})
    return done
  }

  /** `TaskQueue.addTasks` of tasks `from`..`from + count - 1`. */
  const addBatch = (from, count) => TaskQueue.addTasks(Array.from({ length: count }, (_, i) => ({ taskType: 'ECHO', data: { x: from + i }, inMemory: false })))

  /**
   * Depth, rounds: add `n` (all `addTasks` of `batch` issued at once), drain, repeat; with the server's cost.
   * `params.warmup`: tasks of one round first, not measured.
   */
  const depthRounds = async (meter) => {
    const rounds = []
    const n = params.n
    if (params.warmup) {
      const done = doneCount(params.warmup)
      const adds = []
      for (let from = 0; from < params.warmup; from += params.batch) adds.push(addBatch(from, Math.min(params.batch, params.warmup - from)))
      await within(Promise.all([done, ...adds]), params.timeoutMs, `the warm-up round (${params.warmup} tasks)`)
    }
    for (let r = 0; r < params.reps; r++) {
      const done = doneCount(n)
      await meter.start()
      const start = now()
      const adds = []
      for (let from = 0; from < n; from += params.batch) adds.push(addBatch(from, Math.min(params.batch, n - from)))
      const added = Promise.all(adds)
      added.catch(() => {})
      const sum = await within(Promise.race([done, added.then(() => done)]), params.timeoutMs, `round ${r + 1} (${n} tasks)`)
      const ms = now() - start
      const cost = await meter.stop(n)
      if (sum !== expectedSum(n)) throw new Error(`wrong results (sum ${sum}, expected ${expectedSum(n)})`)
      rounds.push({ rate: n / (ms / 1000), ...cost })
    }
    return rounds
  }

  /** Depth, backlog: the pool paused (its workers ready), add `n`, then resume and time the drain. */
  const depthBacklog = async (meter) => {
    cluster.pause()
    await within(workersReady(2), params.timeoutMs, 'the workers getting ready')
    const n = params.n
    for (let from = 0; from < n; from += params.batch) {
      await within(addBatch(from, Math.min(params.batch, n - from)), params.timeoutMs, `addTasks from ${from}`)
    }
    const done = doneCount(n)
    await meter.start()
    const start = now()
    cluster.resume()
    const sum = await within(done, params.timeoutMs, `draining ${n} tasks`)
    const ms = now() - start
    const cost = await meter.stop(n)
    if (sum !== expectedSum(n)) throw new Error(`wrong results (sum ${sum}, expected ${expectedSum(n)})`)
    return [{ rate: n / (ms / 1000), ...cost }]
  }

  /**
   * With a meter of the server's cost (round trips, CPU) around each
   * measured window; `limits`: also what it did to the limits documents.
   */
  const metered = async (measure, { limits = false } = {}) => {
    if (!process.env.MONGO_URL) throw new Error('MONGO_URL is not set')
    const { serverMeter, depthResult } = await import('../lib/server-meter.mjs')
    const meter = await serverMeter({ url: process.env.MONGO_URL, pid: params.serverPid, limits: limits ? 'taskQueue' : null })
    try {
      return depthResult(await measure(meter))
    } finally {
      await meter.close()
    }
  }

  runSubject(async () => {
    switch (workload) {
      case 'throughput':
        return measureThroughput(params, burst)
      case 'latency':
        return measureLatency(params, one, burst)
      case 'start': {
        const value = await within(one(0), params.timeoutMs, 'first task')
        if (value !== 0) throw new Error(`wrong result ${value}`)
        if (params.report === 'spawnToReady') return { metric: 'ms', value: cluster.stats().counters.lastWorkerStartMs }
        return { metric: 'ms', value: now() - t0 }
      }
      case 'persistent': {
        if (!process.env.MONGO_URL) throw new Error('MONGO_URL is not set')
        const rates = []
        for (let r = 0; r < params.reps; r++) rates.push(await persistentBurst(params.n, params.timeoutMs))
        return { metric: 'tasks/s', value: median(rates), reps: rates }
      }
      case 'depthRounds':
        return metered(depthRounds)
      case 'depthBacklog':
        return metered(depthBacklog)
      case 'limitsRounds':
        return metered(depthRounds, { limits: true })
      case 'persistentPayload': {
        if (!process.env.MONGO_URL) throw new Error('MONGO_URL is not set')
        await within(oneOf('ECHO', { x: 0 }, true), params.timeoutMs, 'the first (tiny) task')
        const data = { s: work.makeString(params.bytes) }
        const times = []
        for (let r = 0; r < params.reps; r++) {
          const start = now()
          const value = await within(oneOf('PAYLOAD', data, true), params.timeoutMs, `rep ${r + 1}`)
          times.push(now() - start)
          work.checkPayloadResult({ kind: 'string', bytes: params.bytes }, value)
        }
        return { metric: 'ms', value: median(times), reps: times }
      }
      case 'payload':
        return measurePayload(params, { warmUp: () => one(0), runPayload: (input) => oneOf('PAYLOAD', input) })
      case 'coldBurst':
        return measureColdBurst(params, { ready: () => workersReady(2), burst })
      case 'coldLatency':
        return measureColdLatency(params, { ready: () => workersReady(2), one })
      case 'cpu':
        return measureCpu(params, { many: hashes })
      case 'progressCost': {
        await within(one(0), params.timeoutMs, 'the first (tiny) task')
        const times = []
        for (let r = 0; r < params.reps; r++) {
          times.push(await within(oneOf('PROGRESS', { calls: params.calls }), params.timeoutMs, `rep ${r + 1}`))
        }
        return { metric: 'ms', value: median(times), reps: times }
      }
      default:
        throw new Error(`unknown workload ${workload}`)
    }
  }, () => cluster.close())
}
