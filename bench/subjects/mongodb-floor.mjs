// The floor of the database: no queue library, just the plain `mongodb`
// driver doing what a persistent queue must do per task — insert it, claim
// it (findOneAndUpdate, highest priority then oldest due date first), run it
// (return its input) and delete it — with two claimers to mirror two
// workers. The producer issues every insert at once; a claimer claims only
// when an insert is known to be waiting (it is told in-process), so no
// claim comes back empty.
import { MongoClient } from 'mongodb'
import { args, now, runSubject, watchdog, within, expectedSum, median } from '../lib/common.mjs'

const { workload, params } = args()
watchdog(params.watchdogMs ?? 60000)
let client = null

runSubject(async () => {
  if (workload !== 'persistent') throw new Error(`unknown workload ${workload}`)
  client = new MongoClient(params.url)
  await within(client.connect(), params.timeoutMs, 'connect')
  const tasks = client.db().collection('tasks')
  // No secondary index: on this server an index on { status, priority,
  // dueDate } made this loop slower (about 125 against 210 tasks/s).

  const rates = []
  for (let r = 0; r < params.reps; r++) {
    const n = params.n
    const deadline = now() + params.timeoutMs
    let queued = 0 // inserted and not yet claimed, as this process knows
    let claimed = 0
    let finished = 0
    let sum = 0
    let waiters = []
    const wake = () => {
      const woken = waiters
      waiters = []
      for (const resolve of woken) resolve()
    }
    const nextInsert = () => new Promise((resolve) => {
      const timer = setTimeout(resolve, 5)
      waiters.push(() => { clearTimeout(timer); resolve() })
    })

    // A claimer only asks the server when a task is known to be waiting, so
    // the server sees exactly one insert, one claim and one delete per task.
    const claimer = async () => {
      while (claimed < n) {
        if (now() > deadline) throw new Error(`claimers still busy after ${params.timeoutMs} ms (${finished}/${n} done)`)
        if (queued === 0) {
          await nextInsert()
          continue
        }
        queued--
        claimed++
        const task = await tasks.findOneAndUpdate(
          { status: 'queued', dueDate: { $lte: new Date() } },
          { $set: { status: 'running', startedAt: new Date() } },
          { sort: { priority: -1, dueDate: 1 }, returnDocument: 'after' }
        )
        if (task === null) { // not visible yet: give the claim back
          queued++
          claimed--
          await new Promise((resolve) => setTimeout(resolve, 1))
          continue
        }
        const value = task.data.x // the task itself
        await tasks.deleteOne({ _id: task._id })
        sum += value
        finished++
      }
    }

    const t0 = now()
    const claimers = [claimer(), claimer()]
    // Every insert issued before any is awaited, as for the other subjects.
    await Promise.all(Array.from({ length: n }, (_, i) =>
      tasks.insertOne({ taskType: 'ECHO', data: { x: i }, priority: 1, dueDate: new Date(), status: 'queued', createdAt: new Date() })
        .then(() => { queued++; wake() })))
    await within(Promise.all(claimers), params.timeoutMs, `${n} tasks`)
    const ms = now() - t0
    if (sum !== expectedSum(n)) throw new Error(`wrong results (sum ${sum}, expected ${expectedSum(n)})`)
    rates.push(n / (ms / 1000))
  }
  return { metric: 'tasks/s', value: median(rates), reps: rates }
}, async () => { if (client) await client.close() })
