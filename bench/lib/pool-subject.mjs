// The in-memory workloads for a peer pool with a promise API: `makePool(size)`
// returns `{ run(x) -> Promise<x>, close() -> Promise }`.
import { args, now, runSubject, watchdog, within, measureThroughput, measureLatency } from './common.mjs'

export function runPoolSubject (makePool) {
  const { workload, params } = args()
  watchdog(params.watchdogMs ?? 60000)
  let pool = null
  const burst = async (n) => {
    const promises = new Array(n)
    for (let i = 0; i < n; i++) promises[i] = pool.run(i)
    let sum = 0
    for (const value of await Promise.all(promises)) sum += value
    return sum
  }
  runSubject(async () => {
    switch (workload) {
      case 'throughput':
        pool = makePool(2)
        return measureThroughput(params, burst)
      case 'latency':
        pool = makePool(2)
        return measureLatency(params, (x) => pool.run(x), burst)
      case 'start': {
        const t0 = now()
        pool = makePool(1)
        const value = await within(pool.run(0), params.timeoutMs, 'first task')
        if (value !== 0) throw new Error(`wrong result ${value}`)
        return { metric: 'ms', value: now() - t0 }
      }
      default:
        throw new Error(`unknown workload ${workload}`)
    }
  }, async () => { if (pool) await pool.close() })
}
