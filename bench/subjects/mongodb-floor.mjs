// The floor of the database: no queue library, just the plain `mongodb`
// driver doing what a persistent queue must do per task — insert it, claim
// it (findOneAndUpdate, highest priority then oldest due date first), run it
// (return its input) and delete it — with two claimers to mirror two
// workers. The producer issues every insert at once; a claimer claims only
// when an insert is known to be waiting (it is told in-process), so no
// claim comes back empty.
//
// The depth workloads (`depthRounds`, `depthBacklog`) use the batched floor
// instead: the fewest round trips a queue can make — see `batchedFloor`.
// `persistentPayload` writes and reads one large document with the driver.
import { MongoClient } from 'mongodb'
import { args, now, runSubject, watchdog, within, expectedSum, median } from '../lib/common.mjs'
import { serverMeter, depthResult } from '../lib/server-meter.mjs'
import work from '../lib/work.cjs'

const { workload, params } = args()
watchdog(params.watchdogMs ?? 60000)
let client = null

runSubject(async () => {
  client = new MongoClient(params.url)
  await within(client.connect(), params.timeoutMs, 'connect')
  switch (workload) {
    case 'persistent': return perTask()
    case 'depthRounds': return depthRounds()
    case 'depthBacklog': return depthBacklog()
    case 'persistentPayload': return persistentPayload()
    default: throw new Error(`unknown workload ${workload}`)
  }
}, async () => { if (client) await client.close() })

async function perTask () {
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
}

// ------------------------------------------------------------ the batched floor

/** The claim's sort: `ORDER_FIELDS` of src/task.rs (priority, then createdAt). */
const CLAIM_SORT = { priority: -1, createdAt: 1 }
const BATCH_CLAIM = 256

/**
 * The batched floor: tasks in upstream's document shape, inserted 1,000 per
 * `insertMany`; two claimers ("workers") that each, in turn, read the best
 * 256 due and unclaimed tasks (one `find`, sorted as the queue's claim, its
 * batchSize the limit so one reply holds them all), claim them with one
 * `updateMany` (`{ _id: { $in }, onGoing: false }` → `onGoing: true`), run
 * them (no-op: read `data.x`) and delete them with one `deleteMany`. The
 * claims are taken one at a time (an in-process lock, as one master
 * would), so a claim never races the other claimer's. A claimer that finds
 * nothing waits for the next insert (it is told in-process), so there are
 * no empty polls while the producer is still adding.
 */
function batchedFloor (coll) {
  let ids = 0
  const prefix = Math.random().toString(36).slice(2, 10)
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
  let lock = Promise.resolve()
  const claimInTurn = (fn) => {
    const result = lock.then(fn)
    lock = result.catch(() => {})
    return result
  }

  /** Inserts tasks `from`..`from + count - 1` (data.x = index) in one insertMany. */
  async function insert (from, count, onAcknowledged = () => {}) {
    const at = new Date()
    const docs = new Array(count)
    for (let i = 0; i < count; i++) {
      docs[i] = { _id: `${prefix}${(ids++).toString(36)}`, taskType: 'ECHO', priority: 1, data: { x: from + i }, createdAt: at, onGoing: false, dueDate: at }
    }
    await coll.insertMany(docs, { ordered: false })
    onAcknowledged(count)
    wake()
  }

  /**
   * Two claimers run until `n` tasks are done; `known()` is how many inserts
   * have been acknowledged so far. A claimer asks the server only when
   * some known task is not claimed yet (no empty claims). Resolves with
   * the sum of data.x.
   */
  async function drain (n, known, deadline) {
    let claimed = 0
    let finished = 0
    let sum = 0
    const claimer = async () => {
      while (claimed < n) {
        if (now() > deadline) throw new Error(`claimers still busy at the deadline (${finished}/${n} done)`)
        if (claimed >= known()) {
          await nextInsert()
          continue
        }
        const batch = await claimInTurn(async () => {
          if (claimed >= known()) return []
          const found = await coll.find({ onGoing: false, dueDate: { $lte: new Date() } },
            { sort: CLAIM_SORT, limit: BATCH_CLAIM, batchSize: BATCH_CLAIM }).toArray()
          if (found.length === 0) return found
          const { modifiedCount } = await coll.updateMany({ _id: { $in: found.map((d) => d._id) }, onGoing: false }, { $set: { onGoing: true } })
          if (modifiedCount !== found.length) throw new Error(`claimed ${modifiedCount} of ${found.length} (claims are taken in turn: none should be lost)`)
          claimed += found.length
          return found
        })
        if (batch.length === 0) continue
        for (const doc of batch) sum += doc.data.x // the tasks themselves
        await coll.deleteMany({ _id: { $in: batch.map((d) => d._id) } })
        finished += batch.length
      }
    }
    await Promise.all([claimer(), claimer()])
    if (finished !== n) throw new Error(`${finished} tasks done, not ${n}`)
    return sum
  }

  return { insert, drain }
}

/**
 * The collection of the depth workloads, with the index of the project's
 * claim (`onGoing`, then the claim's sort), as a queue on MongoDB needs.
 * On this server the floor is faster without it (same round trips, less
 * server CPU: about 2,700 against 1,700 tasks/s for 50,000 queued);
 * `noIndex: true` in the params measures that.
 */
async function depthCollection () {
  const coll = client.db().collection('taskQueue')
  if (!params.noIndex) await coll.createIndex({ onGoing: 1, ...CLAIM_SORT }, { name: 'claim' })
  return coll
}

/** Rounds: add `perRound` (by `batch`), drain, repeat; tasks/s with the server's cost of each round. */
async function depthRounds () {
  const coll = await depthCollection()
  const floor = batchedFloor(coll)
  const meter = await serverMeter({ url: params.url, pid: params.serverPid })
  try {
    const rounds = []
    for (let r = 0; r < params.reps; r++) {
      const n = params.n
      const deadline = now() + params.timeoutMs
      let acknowledged = 0
      await meter.start()
      const t0 = now()
      const adds = []
      for (let from = 0; from < n; from += params.batch) {
        adds.push(floor.insert(from, Math.min(params.batch, n - from), (count) => { acknowledged += count }))
      }
      const all = Promise.all(adds)
      all.catch(() => {})
      const sum = await within(floor.drain(n, () => acknowledged, deadline), params.timeoutMs, `round ${r + 1}`)
      await all
      const ms = now() - t0
      const cost = await meter.stop(n)
      if (sum !== expectedSum(n)) throw new Error(`wrong results (sum ${sum}, expected ${expectedSum(n)})`)
      rounds.push({ rate: n / (ms / 1000), ...cost })
    }
    return depthResult(rounds)
  } finally {
    await meter.close()
  }
}

/** A backlog: insert `n` (untimed), then time the drain. */
async function depthBacklog () {
  const coll = await depthCollection()
  const floor = batchedFloor(coll)
  const meter = await serverMeter({ url: params.url, pid: params.serverPid })
  try {
    const n = params.n
    for (let from = 0; from < n; from += params.batch) {
      await within(floor.insert(from, Math.min(params.batch, n - from)), params.timeoutMs, 'insert')
    }
    await meter.start()
    const t0 = now()
    const sum = await within(floor.drain(n, () => n, now() + params.timeoutMs), params.timeoutMs, `draining ${n}`)
    const ms = now() - t0
    const cost = await meter.stop(n)
    if (sum !== expectedSum(n)) throw new Error(`wrong results (sum ${sum}, expected ${expectedSum(n)})`)
    return depthResult([{ rate: n / (ms / 1000), ...cost }])
  } finally {
    await meter.close()
  }
}

/** One document of `bytes` characters of data: insertOne, then findOne + deleteOne; ms, median of `reps`. */
async function persistentPayload () {
  const coll = client.db().collection('payloads')
  const s = work.makeString(params.bytes)
  const times = []
  for (let r = 0; r < params.reps; r++) {
    const t0 = now()
    const { insertedId } = await within(coll.insertOne({ taskType: 'PAYLOAD', priority: 1, data: { s }, createdAt: new Date(), onGoing: false, dueDate: new Date() }), params.timeoutMs, 'insertOne')
    const doc = await within(coll.findOne({ _id: insertedId }), params.timeoutMs, 'findOne')
    const length = doc && doc.data && typeof doc.data.s === 'string' ? doc.data.s.length : -1
    await within(coll.deleteOne({ _id: insertedId }), params.timeoutMs, 'deleteOne')
    times.push(now() - t0)
    work.checkPayloadResult({ kind: 'string', bytes: params.bytes }, { len: length })
  }
  return { metric: 'ms', value: median(times), reps: times }
}
