// meteor-cluster as a bench subject. This same file runs in the master and
// in every worker the master forks (with the same argv), so the options are
// computed from argv the same way on both sides, and everything else is
// guarded by Cluster.isMaster().
import { Cluster, TaskQueue } from 'meteor-cluster'
import { args, now, runSubject, watchdog, within, measureThroughput, measureLatency, expectedSum, median } from '../lib/common.mjs'

const { workload, params } = args()
const t0 = now() // the "first task on a cold pool" clock starts at new Cluster
const cluster = new Cluster({ ECHO: (job) => job.data.x }, {
  maxAvailableWorkers: workload === 'start' ? 1 : 2,
  logs: 'error',
  keepAlive: 'always',
  ...(params.prefetch === undefined ? {} : { prefetch: params.prefetch })
})

if (Cluster.isMaster()) {
  watchdog(params.watchdogMs ?? 60000)
  // One listener per type: the current measurement installs its callback here.
  let onDone = null
  let onError = null
  TaskQueue.addEventListener('done', ({ value, task }) => onDone && onDone(value, task))
  TaskQueue.addEventListener('error', ({ value, task }) => onError && onError(value, task))

  const inMemory = workload !== 'persistent'
  const add = (x) => TaskQueue.addTask({ taskType: 'ECHO', data: { x }, inMemory })

  /** Adds `n` tasks at once; resolves with the sum of their values when all are done. */
  const burst = (n) => new Promise((resolve, reject) => {
    let left = n
    let sum = 0
    onError = (value, task) => reject(new Error(`task ${task._id} failed: ${value && value.message}`))
    onDone = (value) => {
      sum += value
      if (--left === 0) resolve(sum)
    }
    for (let i = 0; i < n; i++) add(i).catch(reject)
  })

  /** Adds one task; resolves with its value when done. */
  const one = (x) => new Promise((resolve, reject) => {
    onError = (value, task) => reject(new Error(`task ${task._id} failed: ${value && value.message}`))
    onDone = (value) => resolve(value)
    add(x).catch(reject)
  })

  /** Adds `n` persistent tasks at once (every add issued before any is awaited); tasks/s to the last done. */
  const persistentBurst = async (n, timeoutMs) => {
    const start = now()
    const sum = await within(burst(n), timeoutMs, `${n} persistent tasks`)
    const ms = now() - start
    if (sum !== expectedSum(n)) throw new Error(`wrong results (sum ${sum}, expected ${expectedSum(n)})`)
    return n / (ms / 1000)
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
      default:
        throw new Error(`unknown workload ${workload}`)
    }
  }, () => cluster.close())
}
