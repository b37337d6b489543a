// Reproductions of what a write in flight does when its answer is lost:
// one master, one worker (two for a claim of several: a master claims one
// task per worker that would start it), a few persistent tasks, and a proxy between the
// master and the database that lets one chosen command through, waits for
// the database to apply it, and cuts the connection instead of passing the
// answer on (what a database crash or a network failure does, at an exact
// point).
//
//   node scripts/chaos/repro/cut-answer.mjs <what> [--crash]
//
//   claim       the claim of several tasks (updateMany setting the lease)
//   claim-one   the claim of one task (findAndModify)
//   insert      the insert of an added task
//   complete    the delete of a finished task
//
// With --hold MS the proxy stays cut that long before it lets the master
// through again: longer than the driver waits (5 s), the write fails in the
// master although the database applied it.
//
// With --crash the database is also SIGKILLed and restarted (with
// --sync-on-commit, so it keeps what it applied) before the master's
// connection is let through again: the driver's retry then meets a server
// that has forgotten the first attempt, as after a real crash.
//
// It then waits several leases and checks that each task was added once,
// ran once, and is gone from the collection. Exits 1 when one was not.
import { Cluster, TaskQueue } from 'meteor-cluster'
import { spawn } from 'node:child_process'
import { MongoClient } from 'mongodb'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openJournal, readJournals } from '../journal.mjs'

const TASKS = 8
const LEASE_MS = 1500

/** Which command each case cuts: its name and bytes it must contain. */
const CASES = {
  claim: (name, bytes) => name === 'update' && bytes.includes('owner') && bytes.includes('$inc'),
  'claim-one': (name, bytes) => name === 'findAndModify' && bytes.includes('owner'),
  insert: (name) => name === 'insert',
  complete: (name, bytes) => name === 'delete' && bytes.includes('taskQueue')
}

if (process.env.REPRO_DIR) await app()
else process.exit(await main(process.argv[2], process.argv.includes('--crash'), holdArg()))

/** `--hold MS`: how long the proxy stays cut (0 without it). */
function holdArg () {
  const at = process.argv.indexOf('--hold')
  return at === -1 ? 0 : Number(process.argv[at + 1])
}

/** The master (and its worker): adds TASKS tasks, records adds, runs and events. */
async function app () {
  const journal = openJournal(join(process.env.REPRO_DIR, `app-${process.pid}.jsonl`))
  const cluster = new Cluster({
    T: (job) => { journal.write({ ran: job.data.n }); return job.data.n }
  }, { maxAvailableWorkers: Number(process.env.REPRO_WORKERS), lease: LEASE_MS, refreshRate: 100, logs: 'error', autoInitialize: false })
  if (!Cluster.isMaster()) return
  TaskQueue.addEventListener('done', ({ task }) => journal.write({ done: task.data.n }))
  TaskQueue.addEventListener('error', ({ task, value }) => journal.write({ error: task.data.n, code: value.code }))
  for (let n = 0; n < TASKS; n++) {
    await TaskQueue.addTask({ taskType: 'T', data: { n } }).then(
      () => journal.write({ added: n }),
      (error) => journal.write({ rejected: n, code: error.code, message: error.message })
    )
  }
  cluster.initialize()
  // Stays up (stdin open) until the reproduction ends it.
  process.stdin.resume()
}

async function main (which, crash, hold) {
  if (!CASES[which]) {
    console.error(`usage: node scripts/chaos/repro/cut-answer.mjs <${Object.keys(CASES).join('|')}> [--crash]`)
    return 2
  }
  const { startServer } = await import('../../mongo-server.mjs')
  const { cutProxy } = await import('./cut-proxy.mjs')
  const server = await startServer('repro', { syncOnCommit: true })
  const dir = mkdtempSync(join(tmpdir(), 'meteor-cluster-repro-'))
  const proxy = await cutProxy({ host: '127.0.0.1', port: server.port }, CASES[which])
  // directConnection: the server advertises its own address as a replica
  // set member, which would take the driver around the proxy.
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
    env: { ...process.env, MONGO_URL: `mongodb://127.0.0.1:${proxy.port}/repro?directConnection=true`, REPRO_DIR: dir, REPRO_WORKERS: which === 'claim' ? '2' : '1' },
    stdio: ['pipe', 'inherit', 'inherit']
  })
  const client = new MongoClient(server.url)
  try {
    let timer
    const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve(null), 20000) })
    const cut = await Promise.race([proxy.cut, timeout])
    clearTimeout(timer)
    if (cut === null) {
      console.log(`no ${which} command went through the proxy within 20 s; nothing shown`)
      return 2
    }
    console.log(`${which}: the answer to the master's ${cut} was cut after the database applied it`)
    if (crash) {
      await server.stop('SIGKILL')
      await server.restart()
      console.log(`${which}: the database was SIGKILLed and restarted before the master could retry`)
    }
    if (hold > 0) {
      await new Promise((resolve) => setTimeout(resolve, hold))
      console.log(`${which}: the proxy stayed cut for ${hold} ms`)
    }
    proxy.resume()
    // Several leases: time enough for any recovery.
    await new Promise((resolve) => setTimeout(resolve, 4 * LEASE_MS))
    const records = readJournals(dir, 'app-').records
    const docs = await client.db().collection('taskQueue').find({}).toArray()
    const problems = []
    for (let n = 0; n < TASKS; n++) {
      const ran = records.filter((r) => r.ran === n).length
      const added = records.some((r) => r.added === n)
      const rejected = records.find((r) => r.rejected === n)
      const doc = docs.find((d) => d.data.n === n)
      const events = records.filter((r) => r.done === n || r.error === n).map((r) => (r.done === n ? 'done' : `error ${r.code}`))
      const line = `task ${n}: ${added ? 'added' : rejected ? `add rejected (${rejected.code})` : 'add unanswered'}, ran ${ran}×, ` +
        `events [${events.join(', ')}], ${doc ? `still in the collection (onGoing ${doc.onGoing}, failed ${doc.failed ?? false}, lease ${doc.lease ? `renewed, expires in ${doc.lease.expires - Date.now()} ms` : 'none'})` : 'gone from the collection'}`
      const right = (added && ran === 1 && !doc && events.join() === 'done') || (rejected && ran === 0 && !doc)
      if (!right) problems.push(line)
      console.log(`  ${right ? 'ok ' : 'BAD'} ${line}`)
    }
    console.log(problems.length === 0
      ? `every task was added once, ran once and was removed (waited ${4 * LEASE_MS} ms, lease ${LEASE_MS} ms)`
      : `BUG: ${problems.length} of ${TASKS} tasks went wrong (waited ${4 * LEASE_MS} ms, lease ${LEASE_MS} ms)`)
    return problems.length === 0 ? 0 : 1
  } finally {
    child.kill('SIGKILL')
    await client.close()
    await proxy.close()
    await server.dispose()
    rmSync(dir, { recursive: true, force: true })
  }
}
