// Where the latency goes: sequential add -> done on an idle pool of 2
// workers, meteor-cluster or the plain `cluster` dispatcher, with the tail
// of the distribution and the CPU each side spends per task (Linux /proc:
// the master's main thread, its other threads, its workers).
//
//   node bench/latency-cost.mjs ours|plain [tasks] [--calls]
//
// --calls also times, in the master, the calls that hand a task over and
// take its answer: the addon's `addTasks` and `pump` (ours), the worker's
// `send` (plain). Add --trace-gc (Node's flag, before the script) to see
// the scavenges.
import cluster from 'node:cluster'
import { readFileSync, readdirSync } from 'node:fs'
import { createRequire } from 'node:module'

const [which, tasks] = process.argv.slice(2).filter((a) => !a.startsWith('--'))
const N = Number(tasks || 10000)
const WARMUP = 1000
if (which !== 'ours' && which !== 'plain') {
  console.error('usage: node bench/latency-cost.mjs ours|plain [tasks] [--calls]')
  process.exit(2)
}
/** Durations in µs of the timed calls, by name (with --calls). */
const calls = process.argv.includes('--calls') ? {} : null

/** Times every call of `obj[name]` into `calls[name]`. */
function timeCalls (obj, name) {
  const original = obj[name]
  const times = (calls[name] ??= [])
  obj[name] = function (...args) {
    const start = now()
    try {
      return original.apply(this, args)
    } finally {
      times.push(now() - start)
    }
  }
}

const now = () => Number(process.hrtime.bigint()) / 1000

/** CPU µs of a process's threads (by `/proc/<pid>/task`), or the process itself. */
function cpuOf (pid, { threads = false } = {}) {
  const ticks = (stat) => {
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10000
  }
  if (!threads) return ticks(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  const out = {}
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    out[tid] = ticks(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'))
  }
  return out
}

function children () {
  return readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)
}

let one, close
if (which === 'ours') {
  if (calls !== null) {
    const { Master } = createRequire(import.meta.url)('../lib/binding.js')
    for (const name of ['addTasks', 'pump']) timeCalls(Master.prototype, name)
  }
  const { Cluster, TaskQueue } = await import('meteor-cluster')
  const pool = new Cluster({ ECHO: (job) => job.data.x }, { maxAvailableWorkers: 2, logs: 'error', keepAlive: 'always' })
  if (!Cluster.isMaster()) await new Promise(() => {})
  let resolve
  TaskQueue.addEventListener('done', ({ value }) => resolve(value))
  one = (x) => new Promise((r) => {
    resolve = r
    TaskQueue.addTask({ taskType: 'ECHO', data: { x }, inMemory: true })
  })
  close = () => pool.close()
} else {
  const { PlainClusterPool } = await import('./peers/plain-cluster.mjs')
  if (cluster.isWorker) await new Promise(() => {})
  const pool = new PlainClusterPool(2)
  if (calls !== null) for (const worker of pool.workers) timeCalls(worker, 'send')
  one = (x) => pool.run(x)
  close = () => pool.close()
}

for (let i = 0; i < WARMUP; i++) await one(i)
for (const name in calls) calls[name].length = 0
const workers = children()
const sumWorkers = () => workers.reduce((sum, pid) => sum + cpuOf(pid), 0)
const threads0 = cpuOf(process.pid, { threads: true })
const workers0 = sumWorkers()
const lat = []
for (let i = 0; i < N; i++) {
  const start = now()
  if (await one(i) !== i) throw new Error(`task ${i} came back wrong`)
  lat.push(now() - start)
}
const threads1 = cpuOf(process.pid, { threads: true })
const workersCpu = sumWorkers() - workers0
lat.sort((a, b) => a - b)
const q = (p) => lat[Math.min(N - 1, Math.floor(N * p))].toFixed(0)
let main = 0
let others = 0
for (const [tid, cpu] of Object.entries(threads1)) {
  if (tid === String(process.pid)) main += cpu - (threads0[tid] || 0)
  else others += cpu - (threads0[tid] || 0)
}
const perTask = (us) => (us / N).toFixed(1)
console.log(`${which}: ${N} tasks, µs add -> done: p50 ${q(0.5)} p90 ${q(0.9)} p99 ${q(0.99)} p99.9 ${q(0.999)} max ${lat[N - 1].toFixed(0)}`)
console.log(`  CPU µs per task: master main thread ${perTask(main)}, its other threads ${perTask(others)}, workers ${perTask(workersCpu)}`)
for (const [name, times] of Object.entries(calls ?? {})) {
  times.sort((a, b) => a - b)
  const mean = times.reduce((sum, t) => sum + t, 0) / times.length
  console.log(`  ${name}: ${times.length} calls, p50 ${times[times.length >> 1].toFixed(1)} µs, mean ${mean.toFixed(1)} µs`)
}
await close()
process.exit(0)
