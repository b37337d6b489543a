// The measurements of the payload, "first minute" and CPU-bound workloads,
// written once for every subject. A subject gives its own way to run a task
// and to know its pool is ready; these functions time it and check the
// results, so every subject is held to the same rules.
import { now, nowUs, within, median, percentile, expectedSum } from './common.mjs'
import { vmMiB, descendants } from './proc.mjs'
import work from './work.cjs'
import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Payload: after one tiny task (the pool is up), `reps` tasks of the case
 * `params.kase` one at a time, each timed from its add to its result;
 * `runPayload(input)` resolves with the task's value. The value is checked
 * (a row whose bytes do not arrive fails). Also reports the master's and the
 * workers' peak RSS (VmHWM: this process is fresh for the case) and the
 * master's RSS 1 s after the last task ended, the input dropped, and again
 * once a full collection has run (and the finalizers it queued): memory a
 * subject keeps for good, not garbage waiting for the collector.
 */
export async function measurePayload (params, { warmUp, runPayload }) {
  const kase = params.kase
  await within(warmUp(), params.timeoutMs, 'the first (tiny) task')
  let input = work.makeInput(kase)
  const times = []
  for (let r = 0; r < params.reps; r++) {
    const t0 = now()
    const value = await within(runPayload(input), params.timeoutMs, `${kase.label}, rep ${r + 1}`)
    times.push(now() - t0)
    work.checkPayloadResult(kase, value)
  }
  input = null
  const workers = descendants(process.pid).map((pid) => vmMiB(pid, 'VmHWM')).filter((v) => v !== null)
  const masterPeakMiB = vmMiB(process.pid, 'VmHWM')
  await sleep(1000)
  const masterAfterMiB = vmMiB(process.pid, 'VmRSS')
  v8.setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc')
  // Twice: native memory goes with finalizers, which run on a later turn.
  for (let i = 0; i < 2; i++) {
    gc()
    await new Promise(setImmediate)
  }
  return {
    metric: 'ms',
    value: median(times),
    reps: times,
    masterPeakMiB,
    workerPeakMiB: workers.length ? Math.max(...workers) : null,
    masterAfterMiB,
    masterCollectedMiB: vmMiB(process.pid, 'VmRSS')
  }
}

/** Cold burst: once the pool is ready, ONE burst of `params.n` tasks (no warm-up); tasks/s. */
export async function measureColdBurst (params, { ready, burst }) {
  await within(ready(), params.timeoutMs, 'the pool getting ready')
  const n = params.n
  const t0 = now()
  const sum = await within(burst(n), params.timeoutMs, `the burst of ${n}`)
  const ms = now() - t0
  if (sum !== expectedSum(n)) throw new Error(`wrong results (sum ${sum}, expected ${expectedSum(n)})`)
  return { metric: 'tasks/s', value: n / (ms / 1000), reps: [n / (ms / 1000)] }
}

/** The first `params.n` sequential tasks once the pool is ready (no warm-up); p50 and p99 in µs. */
export async function measureColdLatency (params, { ready, one }) {
  await within(ready(), params.timeoutMs, 'the pool getting ready')
  const samples = []
  const deadline = now() + params.timeoutMs
  for (let i = 0; i < params.n; i++) {
    const t0 = nowUs()
    const value = await within(one(i), params.timeoutMs, `task ${i}`)
    samples.push(nowUs() - t0)
    if (value !== i) throw new Error(`task ${i}: wrong result ${JSON.stringify(value)}`)
    if (now() > deadline) throw new Error(`${params.n} sequential tasks took more than ${params.timeoutMs} ms`)
  }
  return { metric: 'µs', p50: percentile(samples, 50), p99: percentile(samples, 99), max: Math.max(...samples), reps: { p50: [percentile(samples, 50)], p99: [percentile(samples, 99)] } }
}

/** The CPU-bound task's digests for the first seeds, computed here, to check the pool's. */
function expectedDigests (rounds, count) {
  return Array.from({ length: count }, (_, seed) => work.hashTask({ seed, rounds }))
}

function checkDigests (digests, expected) {
  for (let i = 0; i < digests.length; i++) {
    if (typeof digests[i] !== 'string' || !/^[0-9a-f]{8}$/.test(digests[i])) throw new Error(`task ${i}: not a digest: ${JSON.stringify(digests[i])}`)
  }
  for (let i = 0; i < expected.length; i++) {
    if (digests[i] !== expected[i]) throw new Error(`task ${i}: digest ${digests[i]}, expected ${expected[i]}`)
  }
}

/**
 * CPU-bound: `reps` bursts of `params.n` hash tasks (`params.rounds` SHA-256
 * passes over 1 MiB each), all added at once, after a warm-up burst of 2
 * per worker; `many(datas)` resolves with their values in order. tasks/s.
 */
export async function measureCpu (params, { many }) {
  const expected = expectedDigests(params.rounds, 3)
  const datas = (n) => Array.from({ length: n }, (_, seed) => ({ seed, rounds: params.rounds }))
  checkDigests(await within(many(datas(4)), params.timeoutMs, 'warm-up'), expected)
  const rates = []
  for (let r = 0; r < params.reps; r++) {
    const input = datas(params.n)
    const t0 = now()
    const digests = await within(many(input), params.timeoutMs, `burst ${r + 1}`)
    const ms = now() - t0
    if (digests.length !== params.n) throw new Error(`${digests.length} results, not ${params.n}`)
    checkDigests(digests, expected)
    rates.push(params.n / (ms / 1000))
  }
  return { metric: 'tasks/s', value: median(rates), reps: rates }
}

/**
 * The single-core baseline: the same tasks in this one process, no pool, one
 * after another, `params.reps` runs of `params.n`; tasks/s.
 */
export function measureCpuBaseline (params) {
  const expected = expectedDigests(params.rounds, 3)
  const rates = []
  for (let r = 0; r < params.reps; r++) {
    const digests = new Array(params.n)
    const t0 = now()
    for (let seed = 0; seed < params.n; seed++) digests[seed] = work.hashTask({ seed, rounds: params.rounds })
    const ms = now() - t0
    checkDigests(digests, expected)
    rates.push(params.n / (ms / 1000))
  }
  return { metric: 'tasks/s', value: median(rates), reps: rates, taskMs: 1000 / median(rates) }
}
