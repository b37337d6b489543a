#!/usr/bin/env node
// The benchmark harness: meteor-cluster against its peers, every number
// measured in this one invocation on this machine. Each (workload, subject)
// runs in its own child process (`bench/subjects/<name>.mjs`), because the
// subjects fork workers that re-run their script; the child prints one
// `@@result {...}` line. Prints a markdown table and writes bench/results.json.
//
//   node bench/run.mjs           full run (a few minutes)
//   node bench/run.mjs --quick   fewer tasks and repetitions (under a minute)
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readFileSync, writeFileSync, renameSync, existsSync } from 'node:fs'
import os from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { RESULT_PREFIX, median } from './lib/common.mjs'
import { startServer, findServer, ensureServer } from '../scripts/mongo-server.mjs'
import { buildProfile, gitCommit } from '../scripts/lib/build-info.mjs'
import { taggedPids, killPids } from '../scripts/lib/processes.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const argv = process.argv.slice(2)
const QUICK = argv.includes('--quick')
for (const arg of argv) {
  if (arg !== '--quick') {
    console.error(`unknown argument ${arg}; usage: node bench/run.mjs [--quick]`)
    process.exit(2)
  }
}

const SIZES = QUICK
  ? { tpTasks: 5000, tpReps: 2, tpWarmup: 500, latSamples: 300, latReps: 2, latWarmup: 100, startReps: 3, persTasks: 300, persReps: 1 }
  : { tpTasks: 20000, tpReps: 3, tpWarmup: 2000, latSamples: 2000, latReps: 3, latWarmup: 500, startReps: 5, persTasks: 2000, persReps: 3 }
/** Budget for one measured step inside a subject (a burst, a latency rep, a persistent rep). */
const STEP_MS = QUICK ? 20000 : 60000

// Every process a subject starts carries this tag in its environment, so that
// the harness can find and end any that outlive their subject, by pid.
const CHILD_TAG = 'METEOR_CLUSTER_BENCH_CHILD'
const DB_TAG = 'METEOR_CLUSTER_BENCH_DB'
const runTag = randomUUID()

const IN_MEMORY_SUBJECTS = [
  { id: 'meteor-cluster', label: 'meteor-cluster', script: 'meteor-cluster.mjs', reference: true },
  { id: 'meteor-cluster-prefetch1', label: 'meteor-cluster (prefetch 1, no tasks sent ahead)', script: 'meteor-cluster.mjs', params: { prefetch: 1 }, only: ['throughput'] },
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
  persistent: { title: `persistent throughput (${fmtInt(SIZES.persTasks)} tasks, 2 workers)`, better: 'higher', unit: 'tasks/s' }
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

function record (workload, subject, result, pick = (r) => r.value) {
  const spec = WORKLOADS[workload]
  const row = { workload, title: spec.title, subject: subject.label, subjectId: subject.id, unit: spec.unit, better: spec.better, reference: Boolean(subject.reference) }
  if (result.error) row.error = result.error
  else {
    row.value = pick(result)
    row.reps = result.reps
  }
  if (result.leftBehind) row.leftBehind = result.leftBehind
  if (result.exitCode !== undefined) row.exitCode = result.exitCode
  results.push(row)
  progress(`${spec.title} — ${subject.label}: ${row.error ? 'error: ' + row.error : fmtValue(row.value, spec.unit)}${row.leftBehind ? ` (left ${row.leftBehind} processes running; killed)` : ''}`)
}

async function inMemoryWorkloads () {
  const childTimeout = (reps) => 15000 + (reps + 1) * STEP_MS
  const runs = (workload) => IN_MEMORY_SUBJECTS.filter((s) => !s.only || s.only.includes(workload))
  for (const subject of runs('throughput')) {
    const params = { ...subject.params, n: SIZES.tpTasks, reps: SIZES.tpReps, warmup: SIZES.tpWarmup, timeoutMs: STEP_MS, watchdogMs: childTimeout(SIZES.tpReps) - 5000 }
    record('throughput', subject, await runSubject(subject.script, 'throughput', params, { timeoutMs: childTimeout(SIZES.tpReps) }))
  }
  for (const subject of runs('latency')) {
    const params = { ...subject.params, n: SIZES.latSamples, reps: SIZES.latReps, warmup: SIZES.latWarmup, timeoutMs: STEP_MS, watchdogMs: childTimeout(SIZES.latReps) - 5000 }
    const result = await runSubject(subject.script, 'latency', params, { timeoutMs: childTimeout(SIZES.latReps) })
    record('latencyP50', subject, result.error ? result : { ...result, reps: result.reps.p50 }, (r) => r.p50)
    record('latencyP99', subject, result.error ? result : { ...result, reps: result.reps.p99 }, (r) => r.p99)
  }
  for (const subject of runs('start')) {
    // A cold pool each time: one child process per repetition.
    const times = []
    let failure = null
    let leftBehind = 0
    for (let r = 0; r < SIZES.startReps && !failure; r++) {
      const result = await runSubject(subject.script, 'start', { ...subject.params, timeoutMs: STEP_MS, watchdogMs: STEP_MS + 5000 }, { timeoutMs: STEP_MS + 10000 })
      leftBehind += result.leftBehind || 0
      if (result.error) failure = result
      else times.push(result.value)
    }
    const label = { ...subject, label: START_LABELS[subject.id] || subject.label }
    record('start', label, failure ? { ...failure, leftBehind } : { value: median(times), reps: times, leftBehind })
  }
}

async function persistentWorkloads () {
  const skip = (error) => { for (const subject of PERSISTENT_SUBJECTS) record('persistent', subject, { error }) }
  if (!findServer()) {
    if (QUICK) return skip('the database server secantusd-rs is not installed (a full run installs it)')
    try {
      ensureServer()
    } catch (error) {
      return skip(error.message)
    }
  }
  try {
    process.env[DB_TAG] = runTag // tags the server process (startServer passes the environment on)
    server = await startServer('bench')
  } catch (error) {
    return skip(`could not start the database server: ${error.message}`)
  } finally {
    delete process.env[DB_TAG]
  }
  const base = server.url.slice(0, server.url.lastIndexOf('/'))
  const childTimeout = 15000 + SIZES.persReps * STEP_MS
  try {
    for (const subject of PERSISTENT_SUBJECTS) {
      const url = `${base}/bench_${subject.id.replace(/-/g, '_')}_${Date.now()}`
      const params = { n: SIZES.persTasks, reps: SIZES.persReps, timeoutMs: STEP_MS, watchdogMs: childTimeout - 5000, url }
      const env = subject.mongoUrlEnv ? { MONGO_URL: url } : undefined
      record('persistent', subject, await runSubject(subject.script, 'persistent', params, { env, timeoutMs: childTimeout }))
    }
  } finally {
    const disposing = server.dispose()
    server = null
    await atMost(disposing, 20000)
    killPids(tagged(DB_TAG))
  }
}

/** Groups the rows by workload (stable) and sets each row's ratio to its workload's reference. */
function addRatios () {
  const order = Object.keys(WORKLOADS)
  results.sort((a, b) => order.indexOf(a.workload) - order.indexOf(b.workload))
  for (const workload of Object.keys(WORKLOADS)) {
    const rows = results.filter((r) => r.workload === workload)
    const ref = rows.find((r) => r.reference)
    for (const row of rows) {
      row.ratio = ref && ref.value !== undefined && row.value !== undefined ? row.value / ref.value : null
    }
  }
}

function table () {
  const lines = [
    '| workload | subject | result | ratio to meteor-cluster |',
    '| --- | --- | --- | --- |'
  ]
  for (const row of results) {
    const result = row.error ? `n/a (error: ${row.error.replace(/\|/g, '\\|')})` : fmtValue(row.value, row.unit)
    const ratio = row.reference && row.ratio !== null ? '1.00 (reference)' : row.ratio === null ? 'n/a' : `${row.ratio.toFixed(2)}×`
    lines.push(`| ${row.title} | ${row.subject} | ${result}${row.leftBehind ? ` (left ${row.leftBehind} processes running)` : ''} | ${ratio} |`)
  }
  return lines.join('\n')
}

async function main () {
  const started = Date.now()
  const info = machine()
  progress(`${QUICK ? 'quick' : 'full'} run; meteor-cluster build: ${info.meteorCluster.build}`)
  if (info.meteorCluster.build !== 'release') {
    progress(`warning: the loaded meteor-cluster addon is not the release build (${info.meteorCluster.build}); \`npm run bench\` builds it`)
  }
  await inMemoryWorkloads()
  await persistentWorkloads()
  addRatios()

  const command = commandLine()
  const output = {
    machine: info,
    command,
    date: new Date().toISOString(),
    quick: QUICK,
    durationS: Math.round((Date.now() - started) / 100) / 10,
    sizes: SIZES,
    notes: [
      'ratio = subject ÷ meteor-cluster (meteor-cluster with its defaults).',
      'tasks/s: higher is better; µs and ms: lower is better.',
      'Each value is the median over the repetitions listed in `reps`.'
    ],
    results
  }
  const out = join(here, 'results.json')
  writeFileSync(`${out}.tmp`, JSON.stringify(output, null, 2) + '\n')
  renameSync(`${out}.tmp`, out)

  console.log(table())
  console.log()
  console.log(`Machine: ${info.cpus} × ${info.cpuModel}, ${info.memoryGiB} GiB, ${info.platform}, Node ${info.node}; ` +
    `NODE_EXTRA_CA_CERTS ${info.nodeExtraCaCerts}; load average at start ${info.loadAverageAtStart.join(' ')}; meteor-cluster ${info.meteorCluster.version} ` +
    `(${info.meteorCluster.commit}, ${info.meteorCluster.build} build).`)
  console.log(`Command: \`${command}\` (${output.durationS} s). Ratio = subject ÷ meteor-cluster; ` +
    'tasks/s: higher is better, µs/ms: lower is better; medians over repetitions.')
  if (existsSync(out)) progress(`wrote ${join('bench', 'results.json')}`)
}

try {
  await main()
} catch (error) {
  console.error(`bench failed: ${(error && error.stack) || error}`)
  process.exitCode = 1
} finally {
  cleanupSync()
}
