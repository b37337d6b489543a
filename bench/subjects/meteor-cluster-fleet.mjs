// meteor-cluster as several masters, each its own process, on one
// collection: the `limits` section's fleet workload (issue #28).
//
//   node meteor-cluster-fleet.mjs limitsFleet '<params>'   the coordinator
//
// The coordinator runs no Cluster. It starts `params.masters` masters (this
// same file, workload `fleetMaster`, each a Cluster of `params.workers`
// workers with the `params.limits` option, paused once ready), has the
// first one add the backlog (`params.n` tasks, `addTasks` of
// `params.batch`, one after another), then opens the server meter, tells
// every master to resume at once and times the drain: from the resume to
// the last `done` in any master (each master reports its count, the sum of
// the values and the time of its last `done` every 50 ms; the times are
// `performance.timeOrigin + performance.now()`, one clock for every
// process of the machine). A line protocol: the coordinator writes
// commands to a master's stdin, a master reports `@@fleet {...}` lines on
// its stdout.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { args, runSubject, watchdog, within, expectedSum } from '../lib/common.mjs'

const { workload, params } = args()
const FLEET_PREFIX = '@@fleet '
/** Wall-clock milliseconds, fractional, comparable across this machine's processes. */
const wall = () => performance.timeOrigin + performance.now()

if (workload === 'fleetMaster') await master()
else if (workload === 'limitsFleet') await coordinator()
else throw new Error(`unknown workload ${workload}`)

/** One master: paused until told `resume`; reports its `done`s; closes on `stop`. */
async function master () {
  const { Cluster, TaskQueue } = await import('meteor-cluster')
  const cluster = new Cluster({ ECHO: (job) => job.data.x }, {
    maxAvailableWorkers: params.workers,
    logs: 'error',
    keepAlive: 'always',
    ...(params.limits ? { limits: params.limits } : {})
  })
  // The workers run this file too: they serve their master and nothing else.
  if (!Cluster.isMaster()) return
  const say = (message) => process.stdout.write(FLEET_PREFIX + JSON.stringify(message) + '\n')
  let done = 0
  let sum = 0
  let lastAt = null
  let failure = null
  TaskQueue.addEventListener('done', ({ value }) => {
    done++
    sum += value
    lastAt = wall()
  })
  TaskQueue.addEventListener('error', ({ value, task }) => { failure = `task ${task._id} failed: ${value && value.message}` })
  cluster.pause()
  const ready = async () => {
    while (cluster.stats().readyWorkers < params.workers) await new Promise((resolve) => setTimeout(resolve, 5))
    // Connected (a call answered), its limits stored or on their way.
    await TaskQueue.count({})
  }
  await within(ready(), params.timeoutMs, 'the master getting ready')
  say({ ready: true })
  let reported = -1
  const timer = setInterval(() => {
    if (failure) say({ failure })
    if (done === reported) return
    reported = done
    say({ done, sum, lastAt })
  }, 50)
  for await (const line of createInterface({ input: process.stdin })) {
    const command = JSON.parse(line)
    if (command.add) {
      const { n, batch } = command.add
      try {
        for (let from = 0; from < n; from += batch) {
          await TaskQueue.addTasks(Array.from({ length: Math.min(batch, n - from) }, (_, i) => ({ taskType: 'ECHO', data: { x: from + i }, inMemory: false })))
        }
        say({ added: n })
      } catch (error) {
        say({ failure: `addTasks: ${error.message}` })
      }
    } else if (command.resume) {
      cluster.resume()
    } else if (command.stop) {
      clearInterval(timer)
      await cluster.close({ timeout: 10000 }).catch(() => {})
      process.exit(0)
    }
  }
  // The coordinator is gone.
  await cluster.close({ timeout: 10000 }).catch(() => {})
  process.exit(0)
}

/** Starts the masters, adds the backlog, times its drain. */
async function coordinator () {
  watchdog(params.watchdogMs ?? 60000)
  const masters = []
  const state = []
  let failure = null
  let stopping = false
  const waiters = new Set()
  const changed = () => { for (const check of waiters) check() }
  /** Resolves once `predicate()` holds (checked at each report). */
  const until = (predicate, what) => within(new Promise((resolve, reject) => {
    const check = () => {
      if (failure) reject(new Error(failure))
      else if (predicate()) {
        waiters.delete(check)
        resolve()
      }
    }
    waiters.add(check)
    check()
  }), params.timeoutMs, what)

  for (let i = 0; i < params.masters; i++) {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'fleetMaster', JSON.stringify(params)], {
      env: process.env,
      stdio: ['pipe', 'pipe', 'inherit']
    })
    const slot = { ready: false, added: false, done: 0, sum: 0, lastAt: null, exited: false }
    state.push(slot)
    masters.push(child)
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.startsWith(FLEET_PREFIX)) return
      const message = JSON.parse(line.slice(FLEET_PREFIX.length))
      if (message.failure) failure = failure || `master ${i}: ${message.failure}`
      if (message.ready) slot.ready = true
      if (message.added) slot.added = true
      if (message.done !== undefined) Object.assign(slot, { done: message.done, sum: message.sum, lastAt: message.lastAt })
      changed()
    })
    child.on('exit', (code) => {
      slot.exited = true
      if (!stopping) failure = failure || `master ${i} exited (${code})`
      changed()
    })
  }
  const tell = (child, command) => child.stdin.write(JSON.stringify(command) + '\n')
  const stopAll = async () => {
    stopping = true
    masters.forEach((child, i) => { if (!state[i].exited) tell(child, { stop: true }) })
    await until(() => state.every((s) => s.exited), 'the masters closing').catch(() => {
      for (const child of masters) { try { child.kill('SIGKILL') } catch {} }
    })
  }

  const { serverMeter } = await import('../lib/server-meter.mjs')
  const meter = await serverMeter({ url: process.env.MONGO_URL, pid: params.serverPid, limits: 'taskQueue' })
  runSubject(async () => {
    await until(() => state.every((s) => s.ready), 'the masters getting ready')
    tell(masters[0], { add: { n: params.n, batch: params.batch } })
    await until(() => state[0].added, `adding ${params.n} tasks`)
    const n = params.n
    await meter.start()
    const start = wall()
    for (const child of masters) tell(child, { resume: true })
    await until(() => state.reduce((a, s) => a + s.done, 0) >= n, `draining ${n} tasks`)
    const end = Math.max(...state.map((s) => s.lastAt || 0))
    const cost = await meter.stop(n)
    const done = state.reduce((a, s) => a + s.done, 0)
    const sum = state.reduce((a, s) => a + s.sum, 0)
    if (done !== n || sum !== expectedSum(n)) throw new Error(`wrong results (${done} done, sum ${sum}, expected ${n} and ${expectedSum(n)})`)
    const rate = n / ((end - start) / 1000)
    return { metric: 'tasks/s', value: rate, reps: [rate], perMaster: state.map((s) => s.done), ...cost }
  }, async () => {
    await stopAll()
    await meter.close()
  })
}
