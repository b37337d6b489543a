// What a task costs the master in a burst: bursts of in-memory tasks on 2
// workers (as the bench's throughput workload), with the CPU the master
// process spends per task (`process.cpuUsage`: every thread, the garbage
// collector's too). Wall-clock rates on a shared machine move by ±30%
// between runs; the CPU per task moves less, so A/B steps compare it.
//
//   node bench/throughput-cost.mjs [bursts]
import { Cluster, TaskQueue } from 'meteor-cluster'

const BURST = 20000
const WARMUP = 2000
const bursts = Number(process.argv[2] || 12)
const cluster = new Cluster({ ECHO: (job) => job.data.x }, { maxAvailableWorkers: 2, logs: 'error', keepAlive: 'always' })

if (Cluster.isMaster()) {
  let onDone = null
  TaskQueue.addEventListener('done', ({ value }) => onDone(value))
  /** Adds `n` tasks at once; resolves when all are done, with the sum of their values. */
  const burst = (n) => new Promise((resolve) => {
    let left = n
    let sum = 0
    onDone = (value) => {
      sum += value
      if (--left === 0) resolve(sum)
    }
    for (let i = 0; i < n; i++) TaskQueue.addTask({ taskType: 'ECHO', data: { x: i }, inMemory: true })
  })
  await burst(WARMUP)
  const cpu = []
  const rates = []
  for (let r = 0; r < bursts; r++) {
    const before = process.cpuUsage()
    const t0 = performance.now()
    const sum = await burst(BURST)
    const ms = performance.now() - t0
    const used = process.cpuUsage(before)
    if (sum !== (BURST * (BURST - 1)) / 2) throw new Error(`burst ${r + 1}: wrong results`)
    cpu.push((used.user + used.system) / BURST)
    rates.push(BURST / (ms / 1000))
  }
  const sorted = (values) => [...values].sort((a, b) => a - b)
  const median = (values) => sorted(values)[values.length >> 1]
  console.log(`master CPU per task: median ${median(cpu).toFixed(2)} µs, best ${sorted(cpu)[0].toFixed(2)} µs; ` +
    `rate: median ${Math.round(median(rates))} tasks/s, best ${Math.round(sorted(rates).at(-1))} (${bursts} bursts of ${BURST})`)
  await cluster.close()
  process.exit(0)
}
