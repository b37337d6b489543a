// Helpers shared by the subject scripts: argument parsing, timing,
// statistics, and the one-line result protocol the orchestrator reads.
//
// A subject is run as `node bench/subjects/<name>.mjs <workload> <params JSON>`
// and prints exactly one `@@result {...}` line on stdout (other lines, such as
// a library's own logs, are ignored by the orchestrator).

export const RESULT_PREFIX = '@@result '

/** `{ workload, params }` from argv. */
export function args () {
  const [workload, json = '{}'] = process.argv.slice(2)
  if (!workload) throw new Error('usage: node <subject>.mjs <workload> [params JSON]')
  return { workload, params: JSON.parse(json) }
}

/** Monotonic time in milliseconds (fractional). */
export const now = () => performance.now()

/** Monotonic time in microseconds, from hrtime. */
export const nowUs = () => Number(process.hrtime.bigint()) / 1000

export function median (values) {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** Nearest-rank percentile, `p` in 0..100. */
export function percentile (values, p) {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)))
  return sorted[rank - 1]
}

export function report (result) {
  process.stdout.write(RESULT_PREFIX + JSON.stringify(result) + '\n')
}

/** Rejects after `ms` with a message naming `what`; the timer does not hold the process. */
export function within (promise, ms, what) {
  let timer
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms)
    timer.unref()
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/**
 * Exits the process after `ms` whatever happens (prints an error result
 * first), so a wedged subject never outlives its budget. Master side only.
 */
export function watchdog (ms) {
  const timer = setTimeout(() => {
    report({ error: `subject watchdog: still running after ${ms} ms` })
    process.exit(3)
  }, ms)
  timer.unref()
}

/** Runs `main`, reports its result or its error, then exits (after `cleanup`, bounded). */
export async function runSubject (main, cleanup = async () => {}) {
  let code = 0
  try {
    report(await main())
  } catch (error) {
    code = 1
    report({ error: String((error && error.message) || error).split('\n')[0] })
  }
  try {
    await within(cleanup(), 10000, 'cleanup')
  } catch (error) {
    process.stderr.write(`cleanup failed: ${error.message}\n`)
    code = code || 2
  }
  process.exit(code)
}

/** `sum(0..n-1)`, to check that every task's value came back. */
export const expectedSum = (n) => (n * (n - 1)) / 2

/**
 * Throughput: `reps` bursts of `n` tasks, each timed from the first add to the
 * last done; `burst(n)` resolves with the sum of the returned values.
 */
export async function measureThroughput ({ n, reps, warmup, timeoutMs }, burst) {
  if (warmup > 0) await within(burst(warmup), timeoutMs, 'warm-up burst')
  const rates = []
  for (let r = 0; r < reps; r++) {
    const t0 = now()
    const sum = await within(burst(n), timeoutMs, `burst ${r + 1}`)
    const ms = now() - t0
    if (sum !== expectedSum(n)) throw new Error(`burst ${r + 1}: wrong results (sum ${sum}, expected ${expectedSum(n)})`)
    rates.push(n / (ms / 1000))
  }
  return { metric: 'tasks/s', value: median(rates), reps: rates }
}

/**
 * Latency: after a warm-up, `reps` runs of `n` sequential tasks (add, await
 * done, next); `one(x)` resolves with the task's value. Reports the median
 * over the reps of each rep's p50 and p99, in µs.
 */
export async function measureLatency ({ n, reps, warmup, timeoutMs }, one, parallelWarmup) {
  if (parallelWarmup) await within(parallelWarmup(Math.max(warmup, 50)), timeoutMs, 'parallel warm-up')
  for (let i = 0; i < warmup; i++) await within(one(i), timeoutMs, 'warm-up task')
  const p50s = []
  const p99s = []
  for (let r = 0; r < reps; r++) {
    const samples = []
    const deadline = now() + timeoutMs
    for (let i = 0; i < n; i++) {
      const t0 = nowUs()
      const value = await within(one(i), timeoutMs, `latency task ${i}`)
      samples.push(nowUs() - t0)
      if (value !== i) throw new Error(`latency task ${i}: wrong result ${JSON.stringify(value)}`)
      if (now() > deadline) throw new Error(`latency rep ${r + 1} took more than ${timeoutMs} ms`)
    }
    p50s.push(percentile(samples, 50))
    p99s.push(percentile(samples, 99))
  }
  return { metric: 'µs', p50: median(p50s), p99: median(p99s), reps: { p50: p50s, p99: p99s } }
}
