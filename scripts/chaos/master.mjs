// The chaos run's app: one script that is a master (started by the harness)
// and, re-run by meteor-cluster, each of its workers.
//
// Worker side: every task records its start and its end in this worker's
// journal (`run-<pid>@<start>.jsonl`), naming the worker and its master, so
// the harness knows exactly which process ran what, and how often.
//
// Master side: reads commands from stdin, one JSON object a line
// (`{"op":"add",…}`, `{"op":"close"}`), and records in its journal
// (`master-<name>-<pid>@<start>.jsonl`) each add it was asked for (before
// calling addTask), how the add ended, and every done/error event. Each
// record is also printed as an `@@<json>` line, which the harness follows.
import { Cluster, TaskQueue } from 'meteor-cluster'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { openJournal } from './journal.mjs'
import { processName } from './proc.mjs'

const dir = process.env.CHAOS_DIR
const name = process.env.CHAOS_MASTER
if (!dir || !name) throw new Error('scripts/chaos/master.mjs is started by scripts/chaos.mjs (CHAOS_DIR and CHAOS_MASTER are not set)')

// This process and (in a worker) the master that spawned it, which it does
// not outlive, named as in every journal of the run.
const self = processName(process.pid)
const parent = processName(process.ppid)
let runs = null

function ran (phase, job) {
  if (runs === null) runs = openJournal(join(dir, `run-${self}.jsonl`))
  runs.write({ run: phase, key: job.data.key, id: job._id, proc: self, pid: process.pid, master: parent })
}

/** Busy for `ms` on the CPU, in one turn of the event loop (a sync task). */
function spin (ms) {
  const until = Date.now() + ms
  while (Date.now() < until);
}

const taskMap = {
  BUSY: (job) => {
    ran('start', job)
    spin(job.data.ms)
    ran('end', job)
    return { pid: process.pid }
  },
  WAIT: async (job) => {
    ran('start', job)
    await new Promise((resolve) => setTimeout(resolve, job.data.ms))
    ran('end', job)
    return { pid: process.pid }
  }
}

const cluster = new Cluster(taskMap, {
  maxAvailableWorkers: Number(process.env.CHAOS_WORKERS),
  lease: Number(process.env.CHAOS_LEASE),
  refreshRate: 200,
  logs: 'error'
})

if (Cluster.isMaster()) serve()

function serve () {
  const journal = openJournal(join(dir, `master-${name}-${self}.jsonl`))
  const record = (fields) => process.stdout.write(`@@${journal.write({ master: name, proc: self, ...fields })}\n`)
  const errorFields = (value) => ({ code: value?.code ?? null, name: value?.name ?? null, message: String(value?.message ?? value) })

  TaskQueue.addEventListener('done', ({ value, task }) => {
    record({ event: 'done', key: task.data.key, id: task._id, ranIn: value?.pid ?? null })
  })
  TaskQueue.addEventListener('error', ({ value, task }) => {
    record({ event: 'error', key: task.data.key, id: task._id, ...errorFields(value) })
  })

  function add ({ key, taskType, ms, inMemory, priority, dueInMs }) {
    record({ event: 'intent', key, inMemory })
    TaskQueue.addTask({ taskType, data: { key, ms }, priority, inMemory, dueDate: new Date(Date.now() + dueInMs) }).then(
      (id) => record({ event: 'added', key, id }),
      (error) => record({ event: 'rejected', key, ...errorFields(error) })
    )
  }

  async function close () {
    await cluster.close()
    record({ event: 'closed' })
    process.exit(0)
  }

  const commands = createInterface({ input: process.stdin })
  commands.on('line', (line) => {
    const command = JSON.parse(line)
    if (command.op === 'add') add(command)
    else if (command.op === 'close') close()
    else throw new Error(`unknown command ${line}`)
  })
  // The harness is gone: nobody will ever read what this master does.
  commands.on('close', () => process.exit(1))
  record({ event: 'up' })
}
