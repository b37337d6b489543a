#!/usr/bin/env node
// The chaos run: a few thousand tasks, persistent and in memory, quick and
// slow, through two masters sharing one collection, while workers, masters
// and the database are killed on a seeded schedule. Every process records
// what it did in a journal; at the end the journals and the collection say
// what happened to each task, and the run fails unless nothing persisted was
// lost, nothing was wrongly failed, and no task ran twice unless a crash cut
// its first run.
//
//   npm run chaos                        ~3,000 tasks, a few minutes
//   npm run chaos -- --quick             ~500 tasks, under a minute of faults
//   npm run chaos -- --seed 1234         the same tasks and fault schedule
//   npm run chaos -- --keep              keep the journals (kept anyway on failure)
//   npm run chaos -- --report FILE       write the report there
//
// A full run writes its report to docs/chaos-report.json (a --quick one
// only with --report); `node scripts/docs-tables.mjs` then puts its table
// into docs/RELIABILITY.md.
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MongoClient } from 'mongodb'
import { startServer } from './mongo-server.mjs'
import { makePlan, MASTERS, LEASE_MS, WORKERS_PER_MASTER } from './chaos/plan.mjs'
import { newSeed, randomSource } from './chaos/random.mjs'
import { openJournal, readJournals } from './chaos/journal.mjs'
import { Masters } from './chaos/masters.mjs'
import { Tracker } from './chaos/tracker.mjs'
import { faultDealer } from './chaos/faults.mjs'
import { drain } from './chaos/drain.mjs'
import { judge, BAD } from './chaos/verdict.mjs'
import * as report from './chaos/report.mjs'
import { tagChildren, onAnyEnd } from './chaos/cleanup.mjs'
import { machineInfo, machineLine } from './chaos/machine.mjs'

/** Longest wait for the queues to empty after the last fault. */
const DRAIN_MS = 2 * LEASE_MS + 90000
const COLLECTION = 'taskQueue'
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const DEFAULT_REPORT = join(root, 'docs', 'chaos-report.json')

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
/** The journals are removed at the end unless asked for, or the run failed. */
let keepJournals = false

function parseArgs (argv) {
  const args = { quick: false, seed: null, keep: false, report: null }
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--quick') args.quick = true
    else if (argv[i] === '--keep') args.keep = true
    else if (argv[i] === '--seed' && /^\d+$/.test(argv[i + 1] ?? '')) args.seed = Number(argv[++i])
    else if (argv[i] === '--report' && argv[i + 1]) args.report = argv[++i]
    else throw new Error(`unknown argument ${argv[i]}; usage: node scripts/chaos.mjs [--quick] [--seed N] [--keep] [--report FILE]`)
  }
  if (args.report === null && !args.quick) args.report = DEFAULT_REPORT
  return args
}

async function main () {
  const args = parseArgs(process.argv.slice(2))
  const seed = args.seed ?? newSeed()
  const plan = makePlan(seed, args.quick)
  const command = `npm run chaos -- ${args.quick ? '--quick ' : ''}--seed ${seed}`
  console.log(`chaos: seed ${seed} (the same schedule again: ${command})`)

  tagChildren()
  const dir = mkdtempSync(join(tmpdir(), 'meteor-cluster-chaos-'))
  let server = null
  keepJournals = args.keep
  const cleanup = onAnyEnd(() => [server?.dir, keepJournals ? null : dir].filter(Boolean))

  server = await startServer('chaos', { syncOnCommit: true })
  const journal = openJournal(join(dir, 'harness.jsonl'))
  const tracker = new Tracker()
  const masters = new Masters({
    dir,
    env: { ...process.env, MONGO_URL: server.url, CHAOS_DIR: dir, CHAOS_LEASE: String(LEASE_MS), CHAOS_WORKERS: String(WORKERS_PER_MASTER) },
    onRecord: (record) => tracker.onRecord(record)
  })
  await Promise.all(MASTERS.map((name) => masters.start(name)))

  const t0 = Date.now()
  const at = () => `t=${((Date.now() - t0) / 1000).toFixed(1)} s`
  const say = (text) => console.log(`  ${at()}  ${text}`)
  journal.write({ start: true, seed, quick: args.quick, tasks: plan.tasks.length, lease: LEASE_MS })
  console.log(`chaos: ${plan.tasks.length} tasks over ${plan.size.sendMs / 1000} s to masters ${MASTERS.join(' and ')} ` +
    `(${WORKERS_PER_MASTER} workers each, lease ${LEASE_MS / 1000} s); journals in ${dir}`)

  const faults = faultDealer({ masters, server, journal, random: randomSource(seed ^ 0x5eed), say })
  let sent = 0
  const progress = setInterval(() => {
    const c = tracker.counts
    say(`sent ${sent}, adds ${c.added} acknowledged and ${c.rejected} refused, events ${c.done} done and ${c.error} error`)
  }, 10000)

  async function sendTasks () {
    for (const task of plan.tasks) {
      const wait = t0 + task.at - Date.now()
      if (wait > 0) await sleep(wait)
      // A master killed a moment ago is not there: its share goes to the other.
      const name = masters.proc(task.master) !== null ? task.master : MASTERS.find((m) => m !== task.master)
      const proc = masters.proc(name)
      if (proc === null) throw new Error('both masters are down; the schedule never kills one while the other is')
      journal.write({ sent: task.key, master: name, proc, planned: task.master, inMemory: task.inMemory, taskType: task.taskType, ms: task.ms })
      masters.send(name, { op: 'add', key: task.key, taskType: task.taskType, ms: task.ms, inMemory: task.inMemory, priority: task.priority, dueInMs: task.dueInMs })
      sent++
    }
  }

  async function killWorkers () {
    for (const kill of plan.faults.workerKills) {
      const wait = t0 + kill.at - Date.now()
      if (wait > 0) await sleep(wait)
      // No worker alive at that moment (the pool shrinks when idle): try a
      // little later rather than skip the fault.
      for (let tries = 0; tries < 20 && !faults.killWorker(); tries++) await sleep(100)
    }
  }

  async function bigFaults () {
    for (const fault of plan.faults.big) {
      const wait = t0 + fault.at - Date.now()
      if (wait > 0) await sleep(wait)
      if (fault.kind === 'master-sigkill') await faults.killMaster(fault.target, fault.downMs)
      else await faults.stopDatabase(fault.kind === 'db-sigkill' ? 'SIGKILL' : 'SIGTERM', fault.downMs)
    }
  }

  await Promise.all([sendTasks(), killWorkers(), bigFaults()])
  say('all tasks sent and all faults dealt; draining')
  journal.write({ phase: 'drain' })

  const client = new MongoClient(server.url, { serverSelectionTimeoutMS: 5000 })
  await client.connect()
  const collection = client.db().collection(COLLECTION)
  const drained = await drain({ masters, names: MASTERS, tracker, collection, limitMs: DRAIN_MS, say })
  clearInterval(progress)
  journal.write({ phase: drained ? 'drained' : 'drain-timeout' })

  const killedAtClose = await masters.closeAll(30000)
  if (killedAtClose.length > 0) say(`masters ${killedAtClose.join(', ')} did not close within 30 s and were SIGKILLed`)
  const docs = await collection.find({}).toArray()
  await client.close()
  await server.dispose()
  const durationS = Math.round((Date.now() - t0) / 100) / 10

  const harness = readJournals(dir, 'harness').records
  const masterJournals = readJournals(dir, 'master-')
  const runJournals = readJournals(dir, 'run-')
  const verdict = judge({ harness, masterRecords: masterJournals.records, runRecords: runJournals.records, docs, t0 })
  const bad = verdict.tasks.filter((t) => BAD.has(t.outcome))

  const machine = machineInfo(root)
  const tableRows = report.rows(verdict.tasks)
  console.log(`\n## Chaos run: \`${command}\`, ${durationS} s\n`)
  console.log(`${machineLine(machine)}.\n`)
  console.log(report.renderTable(tableRows))
  console.log(`\n${report.faultsLine(verdict.faults)}`)
  const lostWithMaster = report.lostWithMaster(verdict.tasks)
  if (lostWithMaster) {
    console.log('In-memory tasks live only in their master\'s memory: a master SIGKILLed takes its queued and running ' +
      `in-memory tasks with it (by design, as upstream). They are counted apart from losses; here: ${lostWithMaster}.`)
  }
  if (!drained) console.log(`\nThe queues did not empty within ${DRAIN_MS / 1000} s after the last fault.`)
  if (killedAtClose.length > 0) console.log(`\nMasters ${killedAtClose.join(', ')} did not close within 30 s.`)
  const torn = masterJournals.torn + runJournals.torn
  if (torn > 0) console.log(`\n${torn} journal lines could not be read (cut short).`)
  printList('Run twice, each with the crash that cut its earlier run', report.twice(verdict.tasks, verdict.at))
  printList('Failed by a crash', report.crashFailures(verdict.tasks))
  printList('Tasks that miss the bar', report.problems(verdict.tasks, verdict.at))

  const passed = bad.length === 0 && drained && killedAtClose.length === 0 && torn === 0
  if (!passed) keepJournals = true
  if (args.report) {
    const { timeline, ...faults } = verdict.faults
    writeReport(args.report, {
      command,
      seed,
      quick: args.quick,
      date: new Date().toISOString(),
      durationS,
      machine,
      passed,
      drained,
      killedAtClose,
      tornJournalLines: torn,
      rows: tableRows,
      faults: { ...faults, line: report.faultsLine(verdict.faults) },
      lostWithMaster,
      twice: report.twice(verdict.tasks, verdict.at),
      crashFailures: report.crashFailures(verdict.tasks),
      problems: report.problems(verdict.tasks, verdict.at)
    })
    console.log(`\nchaos: report written to ${args.report}`)
  }
  console.log(passed
    ? '\nchaos: the bar is met: no persistent task lost, none wrongly failed, none run twice unless a crash cut its run.'
    : `\nchaos: the bar is MISSED (${bad.length} tasks above). Journals kept in ${dir}`)
  cleanup()
  return passed
}

function writeReport (path, data) {
  writeFileSync(`${path}.tmp`, JSON.stringify(data, null, 2) + '\n')
  renameSync(`${path}.tmp`, path)
}

function printList (title, lines) {
  if (lines.length === 0) return
  console.log(`\n${title} (${lines.length}):`)
  for (const line of lines) console.log(line)
}

main().then(
  (passed) => process.exit(passed ? 0 : 1),
  (error) => {
    keepJournals = true
    console.error(`chaos: failed: ${(error && error.stack) || error}`)
    process.exit(2)
  }
)
