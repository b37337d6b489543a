#!/usr/bin/env node
// The benchmark harness: meteor-cluster against its peers, every number
// measured in this one invocation on this machine. Each (workload, subject)
// runs in its own child process (`bench/subjects/<name>.mjs`), because the
// subjects fork workers that re-run their script; the child prints one
// `@@result {...}` line. Prints a markdown table and writes bench/results.json.
//
//   node bench/run.mjs                     full run (every section)
//   node bench/run.mjs --quick             fewer tasks and repetitions
//   node bench/run.mjs --only depth,cold   only these sections (see SECTIONS);
//                                          the other rows of results.json are kept
//   node bench/run.mjs --out FILE          write the JSON there instead
// The dashboard section writes bench/results-dashboard.json (FILE-dashboard.json).
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readFileSync, writeFileSync, renameSync, existsSync } from 'node:fs'
import os from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { RESULT_PREFIX, median } from './lib/common.mjs'
import { startServer, findServer, ensureServer } from '../scripts/mongo-server.mjs'
import { buildProfile, gitCommit } from '../scripts/lib/build-info.mjs'
import { taggedPids, killPids } from '../scripts/lib/processes.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const argv = process.argv.slice(2)

/** The sections, in the order they run, and the workloads (rows) each one measures. */
const SECTIONS = {
  throughput: ['throughput'],
  latency: ['latencyP50', 'latencyP99'],
  start: ['start'],
  persistent: ['persistent'],
  depth: ['depthRounds', 'depthRoundsRoundTrips', 'depthRoundsServerCpu', 'depthBacklog', 'depthBacklogRoundTrips', 'depthBacklogServerCpu'],
  payload: ['payloadString100K', 'payloadString1M', 'payloadString16M', 'payloadString50M', 'payloadBytes1M', 'payloadBytes16M', 'payloadReturn16M',
    'payload50MMasterPeak', 'payload50MWorkerPeak', 'payload50MMasterAfter', 'payload50MMasterCollected', 'persistentPayload1M', 'persistentPayload10M'],
  cold: ['coldBurst', 'coldLatencyP50', 'coldLatencyP99', 'cpu', 'cpuOfIdeal'],
  progress: ['progressCost'],
  limits: ['limitsOne', 'limitsOneRoundTrips', 'limitsOneUpdates', 'limitsFleet', 'limitsFleetRoundTrips', 'limitsFleetUpdates', 'limitsFleetConflicts'],
  dashboard: [] // filled below, one row per request and collection size
}
const USAGE = `usage: node bench/run.mjs [--quick] [--only ${Object.keys(SECTIONS).join(',')}] [--out FILE]`

let QUICK = false
let ONLY = null
let OUT = null
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i]
  const value = () => {
    const eq = arg.indexOf('=')
    if (eq >= 0) return arg.slice(eq + 1)
    if (i + 1 >= argv.length) { console.error(`${arg} needs a value; ${USAGE}`); process.exit(2) }
    return argv[++i]
  }
  if (arg === '--quick') QUICK = true
  else if (arg === '--only' || arg.startsWith('--only=')) ONLY = value().split(',').map((x) => x.trim()).filter(Boolean)
  else if (arg === '--out' || arg.startsWith('--out=')) OUT = value()
  else {
    console.error(`unknown argument ${arg}; ${USAGE}`)
    process.exit(2)
  }
}
for (const section of ONLY || []) {
  if (!SECTIONS[section]) {
    console.error(`unknown section ${section}; sections: ${Object.keys(SECTIONS).join(', ')}`)
    process.exit(2)
  }
}
/** Whether `section` runs this time. */
const runs = (section) => !ONLY || ONLY.includes(section)

const SIZES = QUICK
  ? {
      tpTasks: 5000, tpReps: 2, tpWarmup: 500, latSamples: 300, latReps: 2, latWarmup: 100, startReps: 3, persTasks: 300, persReps: 1,
      depthRoundTasks: 5000, depthRounds: 1, depthBatch: 1000, depthBacklogTasks: 10000, depthBacklogReps: 1,
      payloadReps: 3, persPayloadReps: 3,
      coldTasks: 5000, coldLatencyTasks: 300, coldReps: 2, cpuRounds: 2, cpuTasks: 1300, cpuReps: 1,
      limitsRoundTasks: 2000, limitsRounds: 1, limitsWarmup: 500, limitsFleetTasks: 2000, limitsFleetReps: 1, limitsMasters: 4, limitsFleetWorkers: 2,
      dashboardSizes: [20000], dashboardReps: 3
    }
  : {
      tpTasks: 20000, tpReps: 3, tpWarmup: 2000, latSamples: 2000, latReps: 3, latWarmup: 500, startReps: 7, persTasks: 2000, persReps: 3,
      depthRoundTasks: 5000, depthRounds: 3, depthBatch: 1000, depthBacklogTasks: 50000, depthBacklogReps: 1,
      payloadReps: 3, persPayloadReps: 3,
      coldTasks: 20000, coldLatencyTasks: 300, coldReps: 3, cpuRounds: 2, cpuTasks: 2600, cpuReps: 3,
      limitsRoundTasks: 5000, limitsRounds: 3, limitsWarmup: 1000, limitsFleetTasks: 10000, limitsFleetReps: 3, limitsMasters: 4, limitsFleetWorkers: 2,
      dashboardSizes: [200000, 1000000], dashboardReps: 5
    }
/** Budget for one measured step inside a subject (a burst, a latency rep, a persistent rep). */
const STEP_MS = QUICK ? 20000 : 60000
/** Budget for draining the backlog at depth (slow before issue #31's fixes: about 6 min for 50,000). */
const BACKLOG_STEP_MS = QUICK ? 300000 : 900000
/** Budget for one payload task (the 50 MB string took about 14 s before issue #32's fixes). */
const PAYLOAD_STEP_MS = 120000
/** Budget for one measured step of the limits section (a limited round of 5,000 took about a minute before issue #28's fix). */
const LIMITS_STEP_MS = QUICK ? 120000 : 300000
/** The limit the `limits` section sets: above what the pools could run at once, so it never binds; what it costs is the bookkeeping. */
const LIMITS_OPTION = { ECHO: { concurrency: 1000 } }

const MB = 1000 * 1000
/** The payload cases (issue #32): in memory, one worker, one task at a time. */
const PAYLOAD_CASES = [
  { workload: 'payloadString100K', label: '100 KB string', kind: 'string', bytes: 100 * 1000 },
  { workload: 'payloadString1M', label: '1 MB string', kind: 'string', bytes: MB },
  { workload: 'payloadString16M', label: '16 MB string', kind: 'string', bytes: 16 * MB },
  { workload: 'payloadString50M', label: '50 MB string', kind: 'string', bytes: 50 * MB, rss: true },
  { workload: 'payloadBytes1M', label: '1 MB Uint8Array', kind: 'bytes', bytes: MB },
  { workload: 'payloadBytes16M', label: '16 MB Uint8Array', kind: 'bytes', bytes: 16 * MB },
  { workload: 'payloadReturn16M', label: '16 MB string returned by the task', kind: 'return', bytes: 16 * MB }
]
const PERSISTENT_PAYLOADS = [
  { workload: 'persistentPayload1M', bytes: MB },
  { workload: 'persistentPayload10M', bytes: 10 * MB }
]

// Every process a subject starts carries this tag in its environment, so that
// the harness can find and end any that outlive their subject, by pid.
const CHILD_TAG = 'METEOR_CLUSTER_BENCH_CHILD'
const DB_TAG = 'METEOR_CLUSTER_BENCH_DB'
const runTag = randomUUID()

const IN_MEMORY_SUBJECTS = [
  { id: 'meteor-cluster', label: 'meteor-cluster', script: 'meteor-cluster.mjs', reference: true },
  { id: 'meteor-cluster-prefetch1', label: 'meteor-cluster (prefetch 1, no tasks sent ahead)', script: 'meteor-cluster.mjs', params: { prefetch: 1 }, only: ['throughput'] },
  { id: 'meteor-cluster-scraped', label: 'meteor-cluster (cluster.metrics() scraped every 100 ms)', script: 'meteor-cluster.mjs', params: { scrapeMs: 100 }, only: ['throughput'] },
  { id: 'meteor-cluster-spawn', label: 'meteor-cluster (worker spawn → ready, from cluster.stats())', script: 'meteor-cluster.mjs', params: { report: 'spawnToReady' }, only: ['start'] },
  { id: 'piscina', label: 'piscina (2 threads)', script: 'piscina.mjs' },
  { id: 'workerpool', label: 'workerpool (2 processes)', script: 'workerpool.mjs' },
  { id: 'plain-cluster', label: 'plain cluster + process.send', script: 'plain-cluster.mjs' },
  { id: 'node-boot', label: "node -e '' (Node's own boot: the floor)", script: 'node-boot.mjs', only: ['start'] }
]
const START_LABELS = {
  'meteor-cluster': 'meteor-cluster (first task on a cold pool)',
  piscina: 'piscina (1 thread)',
  workerpool: 'workerpool (1 process)',
  'plain-cluster': 'plain cluster + process.send (1 worker)'
}
const DEPTH_SUBJECTS = [
  { id: 'meteor-cluster', label: 'meteor-cluster (inMemory: false, addTasks by 1,000)', script: 'meteor-cluster.mjs', reference: true, mongoUrlEnv: true },
  { id: 'mongodb-floor-batched', label: 'floor: batched driver (insertMany 1,000; find 256 + updateMany; deleteMany)', script: 'mongodb-floor.mjs' }
]
const PERSISTENT_PAYLOAD_SUBJECTS = [
  { id: 'meteor-cluster', label: 'meteor-cluster (inMemory: false, 1 worker)', script: 'meteor-cluster.mjs', reference: true, mongoUrlEnv: true },
  { id: 'mongodb-driver', label: 'plain driver: insertOne, then findOne + deleteOne', script: 'mongodb-floor.mjs' }
]
const PAYLOAD_SUBJECTS = [
  { id: 'meteor-cluster', label: 'meteor-cluster (inMemory: true, 1 worker)', script: 'meteor-cluster.mjs', reference: true },
  { id: 'plain-cluster', label: 'plain cluster + process.send (1 worker, binary as base64 by hand)', script: 'plain-cluster.mjs' },
  { id: 'piscina', label: 'piscina (1 thread)', script: 'piscina.mjs' }
]
const COLD_SUBJECTS = [
  { id: 'meteor-cluster', label: 'meteor-cluster', script: 'meteor-cluster.mjs', reference: true },
  { id: 'plain-cluster', label: 'plain cluster + process.send', script: 'plain-cluster.mjs' },
  { id: 'piscina', label: 'piscina (2 threads)', script: 'piscina.mjs' },
  { id: 'workerpool', label: 'workerpool (2 processes)', script: 'workerpool.mjs' }
]
const LIMITS_SUBJECTS = [
  { id: 'meteor-cluster', label: 'meteor-cluster (no limits)', reference: true, params: {} },
  { id: 'meteor-cluster-limited', label: 'meteor-cluster (limits: { ECHO: { concurrency: 1000 } })', params: { limits: LIMITS_OPTION } }
]
const CPU_BASELINE = { id: 'cpu-baseline', label: 'single-core baseline (the same tasks in one process, no pool)', script: 'cpu-baseline.mjs' }
const CPU_IDEAL = { id: 'cpu-ideal', label: 'ideal: 2 × the single-core baseline' }
const PERSISTENT_SUBJECTS = [
  { id: 'meteor-cluster', label: 'meteor-cluster (inMemory: false)', script: 'meteor-cluster.mjs', reference: true, mongoUrlEnv: true },
  { id: 'agenda', label: 'agenda 6 + @agendajs/mongo-backend', script: 'agenda.mjs' },
  { id: 'mongodb-floor', label: 'floor: mongodb driver insert + claim + delete', script: 'mongodb-floor.mjs' }
]

const WORKLOADS = {
  throughput: { title: `in-memory throughput (${fmtInt(SIZES.tpTasks)} tasks, 2 workers)`, better: 'higher', unit: 'tasks/s' },
  latencyP50: { title: `in-memory latency add→done p50 (${fmtInt(SIZES.latSamples)} sequential tasks)`, better: 'lower', unit: 'µs' },
  latencyP99: { title: `in-memory latency add→done p99 (${fmtInt(SIZES.latSamples)} sequential tasks)`, better: 'lower', unit: 'µs' },
  start: { title: 'worker start: first task on a cold pool of 1 worker', better: 'lower', unit: 'ms' },
  persistent: { title: `persistent throughput (${fmtInt(SIZES.persTasks)} tasks, 2 workers)`, better: 'higher', unit: 'tasks/s' },
  // Issue #31: the persistent queue at depth, against the batched floor.
  depthRounds: { title: `persistent at depth: rounds of ${fmtInt(SIZES.depthRoundTasks)} (added by ${fmtInt(SIZES.depthBatch)}, then drained), 2 workers`, better: 'higher', unit: 'tasks/s' },
  depthRoundsRoundTrips: { title: `persistent at depth: rounds of ${fmtInt(SIZES.depthRoundTasks)} — server round trips per 1,000 tasks`, better: 'lower', unit: 'round trips' },
  depthRoundsServerCpu: { title: `persistent at depth: rounds of ${fmtInt(SIZES.depthRoundTasks)} — server CPU per 1,000 tasks`, better: 'lower', unit: 'CPU-s' },
  depthBacklog: { title: `persistent at depth: ${fmtInt(SIZES.depthBacklogTasks)} queued at once, then drained, 2 workers`, better: 'higher', unit: 'tasks/s' },
  depthBacklogRoundTrips: { title: `persistent at depth: ${fmtInt(SIZES.depthBacklogTasks)} queued — server round trips per 1,000 tasks`, better: 'lower', unit: 'round trips' },
  depthBacklogServerCpu: { title: `persistent at depth: ${fmtInt(SIZES.depthBacklogTasks)} queued — server CPU per 1,000 tasks`, better: 'lower', unit: 'CPU-s' },
  // Issue #32: payloads in memory (add → done, one worker, one task at a time).
  ...Object.fromEntries(PAYLOAD_CASES.map((c) => [c.workload, { title: `payload in memory: ${c.label} (add → done, 1 worker)`, better: 'lower', unit: 'ms' }])),
  payload50MMasterPeak: { title: 'payload in memory: 50 MB string — peak RSS of the master', better: 'lower', unit: 'MiB' },
  payload50MWorkerPeak: { title: 'payload in memory: 50 MB string — peak RSS of the worker', better: 'lower', unit: 'MiB' },
  payload50MMasterAfter: { title: 'payload in memory: 50 MB string — RSS of the master 1 s after the task', better: 'lower', unit: 'MiB' },
  payload50MMasterCollected: { title: 'payload in memory: 50 MB string — RSS of the master after that, once its garbage is collected', better: 'lower', unit: 'MiB' },
  // Issue #25: what reporting progress costs a task.
  progressCost: { title: '100,000 job.progress() calls in one task: time they add to it (measured in the task)', better: 'lower', unit: 'ms' },
  // Issue #32 item 4: persistent payloads.
  ...Object.fromEntries(PERSISTENT_PAYLOADS.map((c) => [c.workload, { title: `persistent payload: ${c.bytes / MB} MB string (add → done)`, better: 'lower', unit: 'ms' }])),
  // Issue #29: the first minute.
  coldBurst: { title: `cold burst: ${fmtInt(SIZES.coldTasks)} tasks at once on a fresh pool, no warm-up, 2 workers`, better: 'higher', unit: 'tasks/s' },
  coldLatencyP50: { title: `cold latency: the first ${fmtInt(SIZES.coldLatencyTasks)} sequential tasks on a fresh pool, p50`, better: 'lower', unit: 'µs' },
  coldLatencyP99: { title: `cold latency: the first ${fmtInt(SIZES.coldLatencyTasks)} sequential tasks on a fresh pool, p99`, better: 'lower', unit: 'µs' },
  cpu: { title: `CPU-bound: ${fmtInt(SIZES.cpuTasks)} tasks of ${SIZES.cpuRounds} SHA-256 passes over 1 MiB, 2 workers`, better: 'higher', unit: 'tasks/s' },
  cpuOfIdeal: { title: 'CPU-bound: share of the ideal (2 × the single-core baseline)', better: 'higher', unit: '%' },
  // Issue #28: what limits cost the persistent queue.
  limitsOne: { title: `limits: persistent rounds of ${fmtInt(SIZES.limitsRoundTasks)} (added by ${fmtInt(SIZES.depthBatch)}, then drained), 1 master of 2 workers`, better: 'higher', unit: 'tasks/s' },
  limitsOneRoundTrips: { title: `limits: rounds of ${fmtInt(SIZES.limitsRoundTasks)}, 1 master — server round trips per 1,000 tasks`, better: 'lower', unit: 'round trips' },
  limitsOneUpdates: { title: `limits: rounds of ${fmtInt(SIZES.limitsRoundTasks)}, 1 master — limits-document updates per 1,000 tasks`, better: 'lower', unit: 'updates' },
  limitsFleet: { title: `limits: ${fmtInt(SIZES.limitsFleetTasks)} queued, drained by ${SIZES.limitsMasters} masters (processes) of ${SIZES.limitsFleetWorkers} workers`, better: 'higher', unit: 'tasks/s' },
  limitsFleetRoundTrips: { title: `limits: ${fmtInt(SIZES.limitsFleetTasks)} queued, ${SIZES.limitsMasters} masters — server round trips per 1,000 tasks`, better: 'lower', unit: 'round trips' },
  limitsFleetUpdates: { title: `limits: ${fmtInt(SIZES.limitsFleetTasks)} queued, ${SIZES.limitsMasters} masters — limits-document updates per 1,000 tasks`, better: 'lower', unit: 'updates' },
  limitsFleetConflicts: { title: `limits: ${fmtInt(SIZES.limitsFleetTasks)} queued, ${SIZES.limitsMasters} masters — compare-and-set conflicts per 1,000 tasks`, better: 'lower', unit: 'conflicts' }
}

// ---------------------------------------------------------------- processes

let current = null // the running subject's ChildProcess
let server = null
let aborting = false

/** Pids of live processes whose environment has `name=runTag`. */
const tagged = (name) => taggedPids(name, runTag)

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Waits for `promise`, or `ms` at most (the timer does not keep the process alive). */
function atMost (promise, ms) {
  let timer
  const limit = new Promise((resolve) => { timer = setTimeout(resolve, ms) })
  return Promise.race([promise.catch(() => {}), limit]).finally(() => clearTimeout(timer))
}

/** Waits (up to `graceMs`) for the subject's processes to exit, then kills what is left; returns how many were left. */
async function reapChildren (graceMs) {
  const deadline = Date.now() + graceMs
  let left = tagged(CHILD_TAG)
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(50)
    left = tagged(CHILD_TAG)
  }
  killPids(left)
  return left.length
}

function childEnv (extra) {
  const env = { ...process.env, [CHILD_TAG]: runTag, ...extra }
  delete env[DB_TAG]
  if (!extra || !('MONGO_URL' in extra)) delete env.MONGO_URL
  return env
}

/**
 * Runs one subject script; resolves with its parsed result (or `{ error }`).
 * Never rejects. The child is killed after `timeoutMs`.
 */
function runSubject (script, workload, params, { env, timeoutMs }) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(here, 'subjects', script), workload, JSON.stringify(params)], {
      cwd: root,
      env: childEnv(env),
      stdio: ['ignore', 'pipe', 'pipe']
    })
    current = child
    let stdout = ''
    let stderr = ''
    let timedOut = false
    child.stdout.setEncoding('utf8').on('data', (chunk) => { stdout = (stdout + chunk).slice(-1_000_000) })
    child.stderr.setEncoding('utf8').on('data', (chunk) => { stderr = (stderr + chunk).slice(-20_000) })
    const timer = setTimeout(() => {
      timedOut = true
      try { child.kill('SIGKILL') } catch {}
    }, timeoutMs)
    child.on('error', (error) => { stderr += `\nspawn failed: ${error.message}` })
    child.on('close', async (code, signal) => {
      clearTimeout(timer)
      current = null
      const leftBehind = await reapChildren(3000)
      const line = stdout.split('\n').reverse().find((l) => l.startsWith(RESULT_PREFIX))
      let result
      if (line) {
        result = JSON.parse(line.slice(RESULT_PREFIX.length))
      } else if (timedOut) {
        result = { error: `timed out after ${timeoutMs} ms` }
      } else {
        const lastLine = stderr.trim().split('\n').filter(Boolean).slice(-3).join(' | ') || `exit ${code ?? signal}`
        result = { error: `no result (exit ${code ?? signal}): ${lastLine.slice(0, 300)}` }
      }
      if (leftBehind > 0) result.leftBehind = leftBehind
      if (code !== 0 && !result.error) result.exitCode = code ?? signal
      resolve(result)
    })
  })
}

function cleanupSync () {
  if (current) { try { current.kill('SIGKILL') } catch {} }
  killPids(tagged(CHILD_TAG))
  killPids(tagged(DB_TAG))
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, async () => {
    if (aborting) return
    aborting = true
    console.error(`\nbench: ${signal}, cleaning up…`)
    cleanupSync()
    if (server) await atMost(server.dispose(), 5000)
    process.exit(130)
  })
}
process.on('exit', cleanupSync)

// ---------------------------------------------------------------- formatting

function fmtInt (n) {
  return Math.round(n).toLocaleString('en-US')
}

function fmtValue (value, unit) {
  if (unit === 'ms') return `${value.toFixed(1)} ms`
  if (unit === 'µs') return `${fmtInt(value)} µs`
  if (unit === '%') return `${value.toFixed(1)} %`
  if (unit === 'MiB') return `${fmtInt(value)} MiB`
  if (unit === 'round trips' || unit === 'updates' || unit === 'conflicts') return `${value.toFixed(1)} ${unit}`
  if (unit === 'CPU-s') return `${value.toFixed(3)} CPU-s`
  return `${fmtInt(value)} ${unit}`
}

function progress (message) {
  process.stderr.write(`bench: ${message}\n`)
}

// ---------------------------------------------------------------- machine

function version (pkg) {
  try {
    return JSON.parse(readFileSync(join(root, 'node_modules', pkg, 'package.json'), 'utf8')).version
  } catch {
    return null
  }
}

function machine () {
  const cpus = os.cpus()
  return {
    cpus: cpus.length,
    cpuModel: cpus[0] ? cpus[0].model : null,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAverageAtStart: os.loadavg().map((l) => Number(l.toFixed(2))),
    // Node parses these certificates at every process start (Node 20).
    nodeExtraCaCerts: process.env.NODE_EXTRA_CA_CERTS ? 'set' : 'unset',
    meteorCluster: { version: JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version, commit: gitCommit(root), build: buildProfile(root) },
    peers: Object.fromEntries(['piscina', 'workerpool', 'agenda', '@agendajs/mongo-backend', 'mongodb'].map((p) => [p, version(p)]))
  }
}

function commandLine () {
  if (process.env.npm_lifecycle_event === 'bench') return `npm run bench${argv.length ? ' -- ' + argv.join(' ') : ''}`
  return ['node', 'bench/run.mjs', ...argv].join(' ')
}

// ---------------------------------------------------------------- workloads

const results = []

/** Records one row: `pick` reads the value, `reps` the repetitions; `extra` fields are kept on the row. */
// Issue #26: the dashboard at depth. Each request, through the handler,
// against the same queries sent with the driver (the server's floor).
const DASHBOARD_REQUESTS = {
  overview: 'GET /api/overview (estimated total, oldest due, masters)',
  listByPriority: 'GET /api/tasks (by priority)',
  listNextPage: 'GET /api/tasks?after= (the second page, keyset)',
  listByDueDate: 'GET /api/tasks?sort=dueDate',
  listByCreatedAt: 'GET /api/tasks?sort=createdAt',
  listTypeAndState: 'GET /api/tasks?type=&state=failed',
  listIdPrefix: 'GET /api/tasks?prefix=',
  task: 'GET /api/tasks/:id',
  masters: 'GET /api/masters'
}
const dashboardWorkload = (name, size) => `dashboard_${name}_${size}`
for (const size of SIZES.dashboardSizes) {
  for (const [name, title] of Object.entries(DASHBOARD_REQUESTS)) {
    WORKLOADS[dashboardWorkload(name, size)] = { title: `dashboard at ${fmtInt(size)} tasks: ${title}`, better: 'lower', unit: 'ms' }
    SECTIONS.dashboard.push(dashboardWorkload(name, size))
  }
  WORKLOADS[dashboardWorkload('count', size)] = { title: `dashboard at ${fmtInt(size)} tasks: counts per type and state (in the background, never in a request)`, better: 'lower', unit: 'ms' }
  SECTIONS.dashboard.push(dashboardWorkload('count', size))
}
const DASHBOARD_HANDLER = { id: 'meteor-cluster-dashboard', label: 'meteor-cluster dashboard (handler over HTTP)', reference: true }
const DASHBOARD_FLOOR = { id: 'mongodb-driver-floor', label: 'the same queries with the mongodb driver (floor)' }

async function dashboardWorkloads () {
  const skip = (error) => {
    for (const workload of SECTIONS.dashboard) record(workload, DASHBOARD_HANDLER, { error })
  }
  const missing = serverMissing()
  if (missing) return skip(missing)
  // Filling a million tasks takes minutes on this server; every step is bounded inside.
  const timeoutMs = 300000 + 3 * Math.max(...SIZES.dashboardSizes)
  try {
    await withServer(async (srv) => {
      const url = databaseUrl(srv, DASHBOARD_HANDLER, 'dashboard')
      const result = await runSubject('dashboard.mjs', 'dashboard', { url, sizes: SIZES.dashboardSizes, reps: SIZES.dashboardReps, timeoutMs: STEP_MS, watchdogMs: timeoutMs - 5000 }, { timeoutMs })
      if (result.error) return skip(result.error)
      for (const at of result.sizes) {
        for (const name of Object.keys(DASHBOARD_REQUESTS)) {
          const m = at[name]
          record(dashboardWorkload(name, at.tasks), DASHBOARD_HANDLER, { value: m.handlerMs, reps: m.handlerReps })
          record(dashboardWorkload(name, at.tasks), DASHBOARD_FLOOR, { value: m.floorMs, reps: m.floorReps })
        }
        record(dashboardWorkload('count', at.tasks), DASHBOARD_HANDLER, { value: at.backgroundCount.ms, reps: [at.backgroundCount.ms] })
      }
    })
  } catch (error) {
    skip(`could not start the database server: ${error.message}`)
  }
}

function record (workload, subject, result, pick = (r) => r.value, extra = {}) {
  const spec = WORKLOADS[workload]
  const row = { workload, title: spec.title, subject: subject.label, subjectId: subject.id, unit: spec.unit, better: spec.better, reference: Boolean(subject.reference) }
  if (result.error) row.error = result.error
  else if (result.notApplicable) row.note = result.notApplicable
  else {
    const value = pick(result)
    if (value === null || value === undefined || Number.isNaN(value)) row.error = 'not measured'
    else {
      row.value = value
      row.reps = result.reps
    }
  }
  Object.assign(row, extra)
  if (result.leftBehind) row.leftBehind = result.leftBehind
  if (result.exitCode !== undefined) row.exitCode = result.exitCode
  results.push(row)
  progress(`${spec.title} — ${subject.label}: ${row.error ? 'error: ' + row.error : row.value === undefined ? `n/a (${row.note})` : fmtValue(row.value, spec.unit)}${row.leftBehind ? ` (left ${row.leftBehind} processes running; killed)` : ''}`)
}

/**
 * Runs `reps` fresh child processes per subject, interleaved (A B C A B C…);
 * `paramsOf(subject)` gives each child's parameters. Resolves with, per
 * subject id, `{ results: [...], failure, leftBehind }` (it stops a subject
 * at its first failure).
 */
async function interleaved (subjects, workload, reps, paramsOf, { timeoutMs, envOf = () => undefined }) {
  const out = Object.fromEntries(subjects.map((s) => [s.id, { results: [], failure: null, leftBehind: 0 }]))
  for (let r = 0; r < reps; r++) {
    for (const subject of subjects) {
      const slot = out[subject.id]
      if (slot.failure) continue
      const result = await runSubject(subject.script, workload, paramsOf(subject, r), { timeoutMs, env: envOf(subject, r) })
      slot.leftBehind += result.leftBehind || 0
      if (result.error) slot.failure = result
      else slot.results.push(result)
    }
  }
  return out
}

/** `{ value: median, reps }` of `pick` over an interleaved slot's results, or its failure. */
function summarize (slot, pick = (r) => r.value) {
  const leftBehind = slot.leftBehind
  if (slot.failure) return { ...slot.failure, leftBehind }
  const values = slot.results.map(pick)
  return { value: median(values), reps: values, leftBehind }
}

async function inMemoryWorkloads () {
  const childTimeout = (reps) => 15000 + (reps + 1) * STEP_MS
  const subjectsOf = (workload) => IN_MEMORY_SUBJECTS.filter((s) => !s.only || s.only.includes(workload))
  if (runs('throughput')) {
    for (const subject of subjectsOf('throughput')) {
      const params = { ...subject.params, n: SIZES.tpTasks, reps: SIZES.tpReps, warmup: SIZES.tpWarmup, timeoutMs: STEP_MS, watchdogMs: childTimeout(SIZES.tpReps) - 5000 }
      record('throughput', subject, await runSubject(subject.script, 'throughput', params, { timeoutMs: childTimeout(SIZES.tpReps) }))
    }
  }
  if (runs('latency')) {
    for (const subject of subjectsOf('latency')) {
      const params = { ...subject.params, n: SIZES.latSamples, reps: SIZES.latReps, warmup: SIZES.latWarmup, timeoutMs: STEP_MS, watchdogMs: childTimeout(SIZES.latReps) - 5000 }
      const result = await runSubject(subject.script, 'latency', params, { timeoutMs: childTimeout(SIZES.latReps) })
      record('latencyP50', subject, result.error ? result : { ...result, reps: result.reps.p50 }, (r) => r.p50)
      record('latencyP99', subject, result.error ? result : { ...result, reps: result.reps.p99 }, (r) => r.p99)
    }
  }
  if (runs('start')) {
    // A cold pool each time: one child process per repetition, the subjects
    // in turn within each round, so that a slow spell of the machine (a
    // start here takes 70-120 ms or 120-170 by turns) meets them all.
    const subjects = subjectsOf('start')
    const params = (subject) => ({ ...subject.params, timeoutMs: STEP_MS, watchdogMs: STEP_MS + 5000 })
    const starts = await interleaved(subjects, 'start', SIZES.startReps, params, { timeoutMs: STEP_MS + 10000 })
    for (const subject of subjects) {
      record('start', { ...subject, label: START_LABELS[subject.id] || subject.label }, summarize(starts[subject.id]))
    }
  }
}

// ---------------------------------------------------------------- the database

/** Why the database server cannot be had, or null once it is installed. */
function serverMissing () {
  if (findServer()) return null
  if (QUICK) return 'the database server secantusd-rs is not installed (a full run installs it)'
  try {
    ensureServer()
    return null
  } catch (error) {
    return error.message
  }
}

/** Starts a database server (tagged), runs `fn(server)`, stops it; resolves with `fn`'s result. */
async function withServer (fn) {
  try {
    process.env[DB_TAG] = runTag // tags the server process (startServer passes the environment on)
    server = await startServer('bench')
  } finally {
    delete process.env[DB_TAG]
  }
  try {
    return await fn(server)
  } finally {
    const disposing = server.dispose()
    server = null
    await atMost(disposing, 20000)
    killPids(tagged(DB_TAG))
  }
}

/** A fresh database's URL on `srv` for a subject and workload. */
function databaseUrl (srv, subject, workload) {
  const base = srv.url.slice(0, srv.url.lastIndexOf('/'))
  return `${base}/bench_${subject.id.replace(/-/g, '_')}_${workload}_${Date.now()}`
}

async function persistentWorkloads () {
  const skip = (error) => { for (const subject of PERSISTENT_SUBJECTS) record('persistent', subject, { error }) }
  const missing = serverMissing()
  if (missing) return skip(missing)
  const childTimeout = 15000 + SIZES.persReps * STEP_MS
  try {
    await withServer(async (srv) => {
      for (const subject of PERSISTENT_SUBJECTS) {
        const url = databaseUrl(srv, subject, 'persistent')
        const params = { n: SIZES.persTasks, reps: SIZES.persReps, timeoutMs: STEP_MS, watchdogMs: childTimeout - 5000, url }
        const env = subject.mongoUrlEnv ? { MONGO_URL: url } : undefined
        record('persistent', subject, await runSubject(subject.script, 'persistent', params, { env, timeoutMs: childTimeout }))
      }
    })
  } catch (error) {
    skip(`could not start the database server: ${error.message}`)
  }
}

/** The depth workload's three rows (tasks/s, round trips and server CPU per 1,000 tasks) from one result. */
function recordDepth (workload, subject, result) {
  const rounds = result.rounds || []
  const detail = rounds.map((r) => ({ rate: r.rate, roundTrips: r.roundTrips, serverCpuS: r.serverCpuS, commands: r.commands, opcounters: r.opcounters }))
  record(workload, subject, result, (r) => r.value, result.error ? {} : { detail })
  record(`${workload}RoundTrips`, subject, result.error ? result : { ...result, reps: rounds.map((r) => r.roundTripsPer1000) }, (r) => r.roundTripsPer1000)
  record(`${workload}ServerCpu`, subject, result.error ? result : { ...result, reps: rounds.map((r) => r.serverCpuSPer1000) }, (r) => r.serverCpuSPer1000)
}

/**
 * Issue #31: the persistent queue at depth against the batched floor. Every
 * child gets a fresh server (its oplog and tables empty, its CPU counted
 * from its own /proc entry).
 */
async function depthWorkloads () {
  const missing = serverMissing()
  if (missing) {
    for (const subject of DEPTH_SUBJECTS) for (const w of ['depthRounds', 'depthBacklog']) recordDepth(w, subject, { error: missing })
    return
  }
  const inFreshServer = async (subject, workload, params, timeoutMs) => {
    try {
      return await withServer(async (srv) => {
        const url = databaseUrl(srv, subject, workload)
        const env = subject.mongoUrlEnv ? { MONGO_URL: url } : undefined
        return runSubject(subject.script, workload, { ...params, url, serverPid: srv.pid, watchdogMs: timeoutMs - 5000 }, { env, timeoutMs })
      })
    } catch (error) {
      return { error: `could not start the database server: ${error.message}` }
    }
  }
  // Rounds: one pool per subject, `depthRounds` rounds in it.
  for (const subject of DEPTH_SUBJECTS) {
    const params = { n: SIZES.depthRoundTasks, reps: SIZES.depthRounds, batch: SIZES.depthBatch, timeoutMs: STEP_MS }
    recordDepth('depthRounds', subject, await inFreshServer(subject, 'depthRounds', params, 30000 + SIZES.depthRounds * STEP_MS))
  }
  // Backlog: one child per repetition, interleaved.
  const backlog = Object.fromEntries(DEPTH_SUBJECTS.map((s) => [s.id, { rounds: [], failure: null, leftBehind: 0 }]))
  for (let r = 0; r < SIZES.depthBacklogReps; r++) {
    for (const subject of DEPTH_SUBJECTS) {
      const slot = backlog[subject.id]
      if (slot.failure) continue
      const params = { n: SIZES.depthBacklogTasks, batch: SIZES.depthBatch, timeoutMs: BACKLOG_STEP_MS }
      const result = await inFreshServer(subject, 'depthBacklog', params, 30000 + 2 * BACKLOG_STEP_MS)
      slot.leftBehind += result.leftBehind || 0
      if (result.error) slot.failure = result
      else slot.rounds.push(...result.rounds)
    }
  }
  for (const subject of DEPTH_SUBJECTS) {
    const slot = backlog[subject.id]
    const result = slot.failure ? slot.failure : depthSummary(slot.rounds)
    recordDepth('depthBacklog', subject, { ...result, leftBehind: slot.leftBehind })
  }
}

/** As bench/lib/server-meter.mjs `depthResult`: medians over rounds. */
function depthSummary (rounds) {
  const med = (key) => {
    const values = rounds.map((r) => r[key]).filter((v) => v !== null && v !== undefined)
    return values.length ? median(values) : null
  }
  return { value: med('rate'), reps: rounds.map((r) => r.rate), roundTripsPer1000: med('roundTripsPer1000'), serverCpuSPer1000: med('serverCpuSPer1000'), rounds }
}

// ---------------------------------------------------------------- limits

/**
 * Issue #28: what limits cost, side by side in one run. The same workload
 * without limits and with `limits: { ECHO: { concurrency: 1000 } }` (more
 * than the pools can run at once: the limit never binds, so the difference
 * is what the bookkeeping costs): rounds of 5,000 in 1 master of 2
 * workers (after a warm-up round), then a backlog drained by 4 masters
 * (processes) of 2 workers. Every child gets a fresh server; the
 * subjects are interleaved (A B A B …).
 */
async function limitsWorkloads () {
  const missing = serverMissing()
  const rows = {
    limitsOne: ['limitsOne', 'limitsOneRoundTrips', 'limitsOneUpdates'],
    limitsFleet: ['limitsFleet', 'limitsFleetRoundTrips', 'limitsFleetUpdates', 'limitsFleetConflicts']
  }
  if (missing) {
    for (const subject of LIMITS_SUBJECTS) for (const w of Object.values(rows).flat()) record(w, subject, { error: missing })
    return
  }
  const inFreshServer = async (script, subject, workload, params, timeoutMs) => {
    try {
      return await withServer(async (srv) => {
        const url = databaseUrl(srv, subject, workload)
        const all = { ...params, ...subject.params, url, serverPid: srv.pid, watchdogMs: timeoutMs - 5000 }
        return runSubject(script, workload, all, { env: { MONGO_URL: url }, timeoutMs })
      })
    } catch (error) {
      return { error: `could not start the database server: ${error.message}` }
    }
  }
  /** Per subject: its rounds over every child, or its first failure. */
  const slots = () => Object.fromEntries(LIMITS_SUBJECTS.map((s) => [s.id, { rounds: [], failure: null, leftBehind: 0 }]))
  const run = async (slot, result) => {
    slot.leftBehind += result.leftBehind || 0
    if (result.error) slot.failure = result
    else slot.rounds.push(...(result.rounds || [{ ...result, rate: result.value }]))
  }
  const one = slots()
  for (const subject of LIMITS_SUBJECTS) {
    const params = { n: SIZES.limitsRoundTasks, reps: SIZES.limitsRounds, warmup: SIZES.limitsWarmup, batch: SIZES.depthBatch, timeoutMs: LIMITS_STEP_MS }
    await run(one[subject.id], await inFreshServer('meteor-cluster.mjs', subject, 'limitsRounds', params, 30000 + (SIZES.limitsRounds + 1) * LIMITS_STEP_MS))
  }
  const fleet = slots()
  for (let r = 0; r < SIZES.limitsFleetReps; r++) {
    for (const subject of LIMITS_SUBJECTS) {
      if (fleet[subject.id].failure) continue
      const params = { masters: SIZES.limitsMasters, workers: SIZES.limitsFleetWorkers, n: SIZES.limitsFleetTasks, batch: SIZES.depthBatch, timeoutMs: LIMITS_STEP_MS }
      await run(fleet[subject.id], await inFreshServer('meteor-cluster-fleet.mjs', subject, 'limitsFleet', params, 30000 + 3 * LIMITS_STEP_MS))
    }
  }
  for (const subject of LIMITS_SUBJECTS) {
    const limited = Boolean(subject.params.limits)
    for (const [workload, slot] of [['limitsOne', one[subject.id]], ['limitsFleet', fleet[subject.id]]]) {
      const leftBehind = slot.leftBehind
      if (slot.failure) {
        for (const w of rows[workload]) if (limited || !/Updates|Conflicts/.test(w)) record(w, subject, { ...slot.failure, leftBehind })
        continue
      }
      const rounds = slot.rounds
      const of = (pick) => {
        const values = rounds.map(pick).filter((v) => v !== null && v !== undefined)
        return values.length ? { value: median(values), reps: values, leftBehind } : { error: 'not measured' }
      }
      const detail = rounds.map((r) => ({ rate: r.rate, roundTrips: r.roundTrips, serverCpuS: r.serverCpuS, commands: r.commands, limitsDoc: r.limitsDoc, perMaster: r.perMaster }))
      record(workload, subject, of((r) => r.rate), (r) => r.value, { detail })
      record(`${workload}RoundTrips`, subject, of((r) => r.roundTripsPer1000))
      // The limits document is written only with limits.
      if (!limited) continue
      record(`${workload}Updates`, subject, of((r) => r.limitsDoc && r.limitsDoc.per1000.updates))
      if (workload === 'limitsFleet') record('limitsFleetConflicts', subject, of((r) => r.limitsDoc && r.limitsDoc.per1000.unchanged))
    }
  }
}

// ---------------------------------------------------------------- payloads

/**
 * Issue #32: payloads in memory, one child per (case, subject), interleaved
 * by case; the 50 MB string case also gives the peak RSS of the master and
 * the worker and the master's RSS after. Then the persistent payloads.
 */
async function payloadWorkloads () {
  const childTimeout = 20000 + (SIZES.payloadReps + 1) * PAYLOAD_STEP_MS
  for (const kase of PAYLOAD_CASES) {
    for (const subject of PAYLOAD_SUBJECTS) {
      const params = { kase: { kind: kase.kind, bytes: kase.bytes, label: kase.label }, reps: SIZES.payloadReps, timeoutMs: PAYLOAD_STEP_MS, watchdogMs: childTimeout - 5000 }
      const result = await runSubject(subject.script, 'payload', params, { timeoutMs: childTimeout })
      const memory = result.error ? {} : { memory: { masterPeakMiB: result.masterPeakMiB, workerPeakMiB: result.workerPeakMiB, masterAfterMiB: result.masterAfterMiB, masterCollectedMiB: result.masterCollectedMiB } }
      record(kase.workload, subject, result, (r) => r.value, memory)
      if (kase.rss) {
        const threads = subject.id === 'piscina'
        record('payload50MMasterPeak', subject, result, (r) => r.masterPeakMiB, threads ? { note: 'its worker is a thread: counted here' } : {})
        record('payload50MWorkerPeak', subject, threads && !result.error ? { notApplicable: 'a thread: in the master\'s RSS' } : result, (r) => r.workerPeakMiB)
        record('payload50MMasterAfter', subject, result, (r) => r.masterAfterMiB)
        record('payload50MMasterCollected', subject, result, (r) => r.masterCollectedMiB)
      }
    }
  }

  const skip = (error) => { for (const c of PERSISTENT_PAYLOADS) for (const subject of PERSISTENT_PAYLOAD_SUBJECTS) record(c.workload, subject, { error }) }
  const missing = serverMissing()
  if (missing) return skip(missing)
  const persistentTimeout = 20000 + (SIZES.persPayloadReps + 1) * STEP_MS
  try {
    await withServer(async (srv) => {
      for (const kase of PERSISTENT_PAYLOADS) {
        for (const subject of PERSISTENT_PAYLOAD_SUBJECTS) {
          const url = databaseUrl(srv, subject, kase.workload)
          const params = { bytes: kase.bytes, reps: SIZES.persPayloadReps, timeoutMs: STEP_MS, watchdogMs: persistentTimeout - 5000, url }
          const env = subject.mongoUrlEnv ? { MONGO_URL: url } : undefined
          record(kase.workload, subject, await runSubject(subject.script, 'persistentPayload', params, { env, timeoutMs: persistentTimeout }))
        }
      }
    })
  } catch (error) {
    skip(`could not start the database server: ${error.message}`)
  }
}

// ---------------------------------------------------------------- the first minute

/** Issue #29: a cold burst and the first sequential tasks on fresh pools, and a CPU-bound workload. */
async function coldWorkloads () {
  const childTimeout = 20000 + 2 * STEP_MS
  const common = { timeoutMs: STEP_MS, watchdogMs: childTimeout - 5000 }
  const burst = await interleaved(COLD_SUBJECTS, 'coldBurst', SIZES.coldReps, () => ({ ...common, n: SIZES.coldTasks }), { timeoutMs: childTimeout })
  for (const subject of COLD_SUBJECTS) record('coldBurst', subject, summarize(burst[subject.id]))
  const latency = await interleaved(COLD_SUBJECTS, 'coldLatency', SIZES.coldReps, () => ({ ...common, n: SIZES.coldLatencyTasks }), { timeoutMs: childTimeout })
  for (const subject of COLD_SUBJECTS) {
    record('coldLatencyP50', subject, summarize(latency[subject.id], (r) => r.p50))
    record('coldLatencyP99', subject, summarize(latency[subject.id], (r) => r.p99))
  }

  // CPU-bound: the same work in every run (SIZES.cpuRounds passes per
  // task), so that runs compare. Each round runs the baseline and every
  // subject, a fresh process each, so a change of load meets them all,
  // and a subject's share of the ideal is taken against its round's
  // baseline.
  const cpuParams = { rounds: SIZES.cpuRounds, n: SIZES.cpuTasks, reps: 1, timeoutMs: STEP_MS, watchdogMs: 15000 + 2 * STEP_MS }
  const cpuTimeout = 20000 + 2 * STEP_MS
  const cpuRuns = [
    { ...CPU_BASELINE, workload: 'cpuBaseline', params: { ...cpuParams, n: Math.round(SIZES.cpuTasks / 4) } },
    ...COLD_SUBJECTS.map((subject) => ({ ...subject, workload: 'cpu', params: cpuParams }))
  ]
  const rounds = []
  for (let r = 0; r < SIZES.cpuReps; r++) {
    const round = {}
    for (const run of cpuRuns) round[run.id] = await runSubject(run.script, run.workload, run.params, { timeoutMs: cpuTimeout })
    rounds.push(round)
  }
  /** `{ value: median, reps }` of `pick` over the rounds, or the first failure among `ids`. */
  const overRounds = (ids, pick) => {
    for (const round of rounds) for (const id of ids) if (round[id].error) return round[id]
    const reps = rounds.map(pick)
    return { value: median(reps), reps }
  }
  const baseline = overRounds([CPU_BASELINE.id], (round) => round[CPU_BASELINE.id].value)
  const cpuDetail = { passesPerTask: SIZES.cpuRounds, tasks: SIZES.cpuTasks, baselineTaskMs: baseline.error ? null : 1000 / baseline.value }
  record('cpu', CPU_BASELINE, baseline, (r) => r.value, cpuDetail)
  record('cpu', CPU_IDEAL, baseline.error ? baseline : { value: 2 * baseline.value, reps: baseline.reps.map((v) => 2 * v) }, (r) => r.value, cpuDetail)
  for (const subject of COLD_SUBJECTS) {
    record('cpu', subject, overRounds([subject.id], (round) => round[subject.id].value), (r) => r.value, cpuDetail)
    record('cpuOfIdeal', subject, overRounds([CPU_BASELINE.id, subject.id], (round) => 100 * round[subject.id].value / (2 * round[CPU_BASELINE.id].value)))
  }
}

// ---------------------------------------------------------------- output

/** Groups the rows by workload (stable) and sets each row's ratio to its workload's reference. */
function addRatios (rows) {
  const order = Object.keys(WORKLOADS)
  rows.sort((a, b) => order.indexOf(a.workload) - order.indexOf(b.workload))
  for (const workload of order) {
    const group = rows.filter((r) => r.workload === workload)
    const ref = group.find((r) => r.reference)
    for (const row of group) {
      row.ratio = ref && ref.value !== undefined && row.value !== undefined ? row.value / ref.value : null
    }
  }
}

function table (rows) {
  const lines = [
    '| workload | subject | result | ratio to meteor-cluster |',
    '| --- | --- | --- | --- |'
  ]
  for (const row of rows) {
    const result = row.error
      ? `n/a (${row.error === 'not measured' ? row.error : 'error: ' + row.error.replace(/\|/g, '\\|')})`
      : row.value === undefined ? 'n/a' : fmtValue(row.value, row.unit)
    const ratio = row.reference && row.ratio !== null ? '1.00 (reference)' : row.ratio === null || row.ratio === undefined ? 'n/a' : `${row.ratio.toFixed(2)}×`
    lines.push(`| ${row.title} | ${row.subject} | ${result}${row.note ? ` (${row.note})` : ''}${row.leftBehind ? ` (left ${row.leftBehind} processes running)` : ''} | ${ratio} |`)
  }
  return lines.join('\n')
}

/** The previous results file, when this run (with --only) adds to it: same quick-ness. */
function previousResults (out) {
  if (!ONLY || !existsSync(out)) return null
  try {
    const previous = JSON.parse(readFileSync(out, 'utf8'))
    if (Boolean(previous.quick) !== QUICK || !Array.isArray(previous.results)) return null
    return previous
  } catch {
    return null
  }
}

async function main () {
  const started = Date.now()
  const info = machine()
  const sectionsRun = Object.keys(SECTIONS).filter(runs)
  progress(`${QUICK ? 'quick' : 'full'} run of ${sectionsRun.join(', ')}; meteor-cluster build: ${info.meteorCluster.build}`)
  if (info.meteorCluster.build !== 'release') {
    progress(`warning: the loaded meteor-cluster addon is not the release build (${info.meteorCluster.build}); \`npm run bench\` builds it`)
  }
  if (runs('throughput') || runs('latency') || runs('start')) await inMemoryWorkloads()
  if (runs('persistent')) await persistentWorkloads()
  if (runs('depth')) await depthWorkloads()
  if (runs('payload')) await payloadWorkloads()
  if (runs('progress')) {
    const subject = IN_MEMORY_SUBJECTS.find((s) => s.id === 'meteor-cluster')
    const params = { calls: 100000, reps: QUICK ? 3 : 5, timeoutMs: STEP_MS }
    record('progressCost', subject, await runSubject(subject.script, 'progressCost', params, { timeoutMs: 20000 + 2 * STEP_MS }))
  }
  if (runs('cold')) await coldWorkloads()
  if (runs('limits')) await limitsWorkloads()
  if (runs('dashboard')) await dashboardWorkloads()

  const command = commandLine()
  const date = new Date().toISOString()
  // The dashboard's rows (minutes of filling a million tasks) have a file
  // of their own, bench/results-dashboard.json, and a table of their own.
  if (runs('dashboard')) {
    const dashboardRows = results.filter((r) => r.workload.startsWith('dashboard_'))
    results.splice(0, results.length, ...results.filter((r) => !r.workload.startsWith('dashboard_')))
    addRatios(dashboardRows)
    const dashboardOut = OUT ? resolve(`${OUT.replace(/\.json$/, '')}-dashboard.json`) : join(here, 'results-dashboard.json')
    writeFileSync(dashboardOut, JSON.stringify({ machine: info, command, date, quick: QUICK, durationS: Math.round((Date.now() - started) / 100) / 10, sizes: { dashboardSizes: SIZES.dashboardSizes, dashboardReps: SIZES.dashboardReps }, results: dashboardRows }, null, 2) + '\n')
    console.log(table(dashboardRows))
    progress(`wrote ${dashboardOut}`)
  }
  // The payload rows (issue #32) too, bench/results-payload.json: they are
  // measured apart (`--only payload`) and have a table of their own.
  if (runs('payload')) {
    const payloadWorkloads = new Set(SECTIONS.payload)
    const payloadRows = results.filter((r) => payloadWorkloads.has(r.workload))
    results.splice(0, results.length, ...results.filter((r) => !payloadWorkloads.has(r.workload)))
    addRatios(payloadRows)
    const payloadOut = OUT ? resolve(`${OUT.replace(/\.json$/, '')}-payload.json`) : join(here, 'results-payload.json')
    const payloadSizes = { payloadReps: SIZES.payloadReps, persPayloadReps: SIZES.persPayloadReps }
    writeFileSync(payloadOut, JSON.stringify({ machine: info, command, date, quick: QUICK, durationS: Math.round((Date.now() - started) / 100) / 10, sizes: payloadSizes, results: payloadRows }, null, 2) + '\n')
    console.log(table(payloadRows))
    progress(`wrote ${payloadOut}`)
  }
  if (sectionsRun.every((s) => s === 'dashboard' || s === 'payload')) return
  const out = OUT ? resolve(OUT) : join(here, 'results.json')
  // With --only, the rows of the sections not run are kept from the previous file.
  const previous = previousResults(out)
  const measured = new Set(sectionsRun.flatMap((s) => SECTIONS[s]))
  const kept = previous ? previous.results.filter((r) => !measured.has(r.workload)) : []
  const rows = [...kept, ...results]
  addRatios(rows)
  const sections = { ...(previous && previous.sections) }
  for (const section of sectionsRun) {
    sections[section] = { date, command, build: info.meteorCluster.build, commit: info.meteorCluster.commit, loadAverageAtStart: info.loadAverageAtStart }
  }
  const output = {
    machine: info,
    command,
    date,
    quick: QUICK,
    durationS: Math.round((Date.now() - started) / 100) / 10,
    sizes: SIZES,
    sections,
    notes: [
      'ratio = subject ÷ meteor-cluster (meteor-cluster with its defaults).',
      'tasks/s and %: higher is better; µs, ms, MiB, round trips, updates, conflicts and CPU-s: lower is better.',
      'Each value is the median over the repetitions listed in `reps`.',
      '`sections` says when each section was last measured (a run with --only keeps the other sections\' rows).'
    ],
    results: rows
  }
  writeFileSync(`${out}.tmp`, JSON.stringify(output, null, 2) + '\n')
  renameSync(`${out}.tmp`, out)

  console.log(table(rows.filter((r) => measured.has(r.workload))))
  console.log()
  console.log(`Machine: ${info.cpus} × ${info.cpuModel}, ${info.memoryGiB} GiB, ${info.platform}, Node ${info.node}; ` +
    `NODE_EXTRA_CA_CERTS ${info.nodeExtraCaCerts}; load average at start ${info.loadAverageAtStart.join(' ')}; meteor-cluster ${info.meteorCluster.version} ` +
    `(${info.meteorCluster.commit}, ${info.meteorCluster.build} build).`)
  console.log(`Command: \`${command}\` (${output.durationS} s). Ratio = subject ÷ meteor-cluster; ` +
    'tasks/s and % of the ideal: higher is better; µs, ms, MiB, round trips, updates, conflicts and CPU-s: lower is better; medians over repetitions.')
  if (existsSync(out)) progress(`wrote ${OUT || join('bench', 'results.json')}${kept.length ? ` (kept ${kept.length} rows of other sections from the previous run)` : ''}`)
}

try {
  await main()
} catch (error) {
  console.error(`bench failed: ${(error && error.stack) || error}`)
  process.exitCode = 1
} finally {
  cleanupSync()
}
