// The in-memory workloads for a peer pool with a promise API: `makePool(size)`
// returns `{ run(x) -> Promise<x>, close() -> Promise }`, and optionally
// `call(fn, data)` (a task of bench/lib/work.cjs: 'payload', 'hash') and
// `ready()` (resolves once every worker is up; without it, `size` tasks at
// once, one per worker, stand for it).
import { args, now, runSubject, watchdog, within, measureThroughput, measureLatency } from './common.mjs'
import { measurePayload, measureColdBurst, measureColdLatency, measureCpu } from './measure.mjs'

export function runPoolSubject (makePool) {
  const { workload, params } = args()
  watchdog(params.watchdogMs ?? 60000)
  let pool = null
  let size = 0
  const open = (n) => { size = n; pool = makePool(n) }
  const burst = async (n) => {
    const promises = new Array(n)
    for (let i = 0; i < n; i++) promises[i] = pool.run(i)
    let sum = 0
    for (const value of await Promise.all(promises)) sum += value
    return sum
  }
  const ready = async () => {
    if (pool.ready) return pool.ready()
    await Promise.all(Array.from({ length: size }, (_, i) => pool.run(i)))
  }
  const call = (fn, data) => {
    if (!pool.call) throw new Error(`this subject has no ${fn} task`)
    return pool.call(fn, data)
  }
  runSubject(async () => {
    switch (workload) {
      case 'throughput':
        open(2)
        return measureThroughput(params, burst)
      case 'latency':
        open(2)
        return measureLatency(params, (x) => pool.run(x), burst)
      case 'start': {
        const t0 = now()
        open(1)
        const value = await within(pool.run(0), params.timeoutMs, 'first task')
        if (value !== 0) throw new Error(`wrong result ${value}`)
        return { metric: 'ms', value: now() - t0 }
      }
      case 'payload':
        open(1)
        return measurePayload(params, { warmUp: () => pool.run(0), runPayload: (input) => call('payload', input) })
      case 'coldBurst':
        open(2)
        return measureColdBurst(params, { ready, burst })
      case 'coldLatency':
        open(2)
        return measureColdLatency(params, { ready, one: (x) => pool.run(x) })
      case 'cpu':
        open(2)
        return measureCpu(params, { many: (datas) => Promise.all(datas.map((data) => call('hash', data))) })
      default:
        throw new Error(`unknown workload ${workload}`)
    }
  }, async () => { if (pool) await pool.close() })
}
