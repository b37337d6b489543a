import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { run, start, finished, reportsOf } from './helpers.mjs'
import { setup, teardown, freshUrl, withDb } from './mongo.mjs'

before(setup)
after(teardown)

const persistent = (scenario, url, options = {}) =>
  run('persistent.mjs', [scenario], { timeout: 60000, ...options, env: { MONGO_URL: url, ...(options.env || {}) } })

test('persistent tasks run by due date, then priority, then age, stored in upstream\'s document shape', async () => {
  const url = freshUrl()
  const result = await persistent('order', url)
  assert.equal(result.code, 0, result.stderr)
  const [{ tasks, duplicate }] = reportsOf(result, 'queued')
  assert.match(duplicate, /already exists/)
  const ran = reportsOf(result, 'done')
  assert.equal(ran.length, 30, result.stderr)

  const key = (e) => [e.task.priority, -Date.parse(e.task.createdAt.__date)]
  const before = (a, b) => key(a)[0] > key(b)[0] || (key(a)[0] === key(b)[0] && key(a)[1] >= key(b)[1])
  // Within each group (due from the start; due at the same later time)
  // tasks run best first; how the groups meet depends on the machine's speed.
  const now = ran.filter((e) => e.value.i % 5 !== 0)
  const later = ran.filter((e) => e.value.i % 5 === 0)
  for (const group of [now, later]) {
    for (let k = 1; k < group.length; k++) assert.ok(before(group[k - 1], group[k]), `task ${group[k].value.i} ran out of order`)
  }
  for (const e of ran) assert.ok(e.value.startedAt >= tasks[e.value.i].due, `task ${e.value.i} started before its dueDate`)
  assert.deepEqual(ran[0].task.data, { i: ran[0].value.i, at: { __date: '1970-01-01T00:00:00.000Z' } })
  await withDb(url, async (db) => assert.equal(await db.collection('taskQueue').countDocuments(), 0, 'done tasks are removed'))
})

test('addTask writes upstream\'s document shape with a Meteor-style _id, and the claim query uses an index', async () => {
  const url = freshUrl()
  const result = await persistent('park', url)
  assert.equal(result.code, 0, result.stderr)
  const [{ id }] = reportsOf(result, 'parked')
  assert.match(id, /^[23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz]{17}$/)
  await withDb(url, async (db) => {
    const tasks = db.collection('taskQueue')
    const doc = await tasks.findOne({ _id: id })
    assert.deepEqual(Object.keys(doc).sort(), ['_id', 'createdAt', 'data', 'dueDate', 'onGoing', 'priority', 'taskType'])
    assert.equal(doc.taskType, 'PARK')
    assert.equal(doc.priority, 4)
    assert.equal(doc.onGoing, false)
    assert.ok(doc.createdAt instanceof Date)
    assert.ok(doc.dueDate instanceof Date)
    assert.ok(doc.data.when instanceof Date, 'Dates in data are stored as BSON dates')
    assert.deepEqual(doc.data.list, [1, 'two', { three: true }])
    const plan = await tasks.find({ onGoing: false, failed: { $ne: true }, taskType: { $in: ['PARK'] }, dueDate: { $lte: new Date() } })
      .sort({ priority: -1, createdAt: 1 }).limit(1).explain()
    assert.match(JSON.stringify(plan.queryPlanner.winningPlan), /IXSCAN/, 'the claim is served by an index')
  })
})

test('a task claimed again after its lease expired is not removed by its first run\'s completion while the second runs', async () => {
  const result = await persistent('reclaimed', freshUrl())
  assert.equal(result.code, 0, result.stderr)
  const [first, second] = reportsOf(result, 'done')
  assert.ok(first && second, `both runs finished\n${result.stderr}`)
  assert.notEqual(first.pid, second.pid, 'the second run went to the other worker')
  assert.ok(first.stored, 'after the first run, the document is still there')
  assert.equal(first.stored.onGoing, true, 'its second run is going')
  assert.notEqual(first.stored.lease.token, first.firstToken, 'under the new claim')
  assert.equal(second.stored, null, 'the second run\'s completion removed it')
})

test('documents left by the upstream package are picked up, including onGoing: true without a lease', async () => {
  const url = freshUrl()
  const now = Date.now()
  await withDb(url, (db) => db.collection('taskQueue').insertMany([
    { _id: 'upstreamWaiting01', taskType: 'STEP', priority: 1, data: { n: 1 }, createdAt: new Date(now - 5000), onGoing: false, dueDate: new Date(now - 5000) },
    { _id: 'upstreamStuck0002', taskType: 'STEP', priority: 1, data: { n: 2 }, createdAt: new Date(now - 4000), onGoing: true, dueDate: new Date(now - 4000) }
  ]))
  const result = await persistent('upstream', url)
  assert.equal(result.code, 0, result.stderr)
  const done = reportsOf(result, 'done').map((e) => e.task._id).sort()
  assert.deepEqual(done, ['upstreamStuck0002', 'upstreamWaiting01'])
  await withDb(url, async (db) => assert.equal(await db.collection('taskQueue').countDocuments(), 0))
})

test('close() lets running tasks finish and hands back the tasks it had claimed', async () => {
  const result = await persistent('closeHandsBack', freshUrl())
  assert.equal(result.code, 0, result.stderr)
  const done = reportsOf(result, 'done').length
  const [closed] = reportsOf(result, 'closed')
  assert.ok(closed, `close() did not resolve\n${result.stderr}`)
  assert.equal(closed.left, 10 - done, 'every task not done is still queued')
  assert.equal(closed.claimed, 0, 'none stays claimed by the closed master')
  assert.ok(closed.attempts.every((a) => a === 0), `handed-back tasks do not count an attempt: ${closed.attempts}`)
})

test('in-memory tasks run before persistent ones, whatever their priority', async () => {
  const result = await persistent('mixed', freshUrl())
  assert.equal(result.code, 0, result.stderr)
  const kinds = reportsOf(result, 'done').map((e) => e.value)
  assert.deepEqual(kinds, [...Array(5).fill('memory'), ...Array(5).fill('persistent')])
})

test('inMemoryOnly never touches MongoDB; a persistent addTask rejects clearly', async () => {
  // A URL where nothing listens: any attempt to use it would warn or hang.
  const result = await persistent('inMemoryOnly', 'mongodb://127.0.0.1:9/none', { timeout: 15000 })
  assert.equal(result.code, 0, result.stderr)
  assert.match(reportsOf(result, 'persistent')[0].message, /inMemoryOnly/)
  assert.equal(reportsOf(result, 'done').length, 1)
  assert.doesNotMatch(result.stderr, /unavailable|MongoDB/)
})

test('a throw and a worker death leave failed documents, already marked when the error event fires, and never claimed again', async () => {
  const url = freshUrl()
  const result = await persistent('failures', url)
  assert.equal(result.code, 0, result.stderr)
  const errors = Object.fromEntries(reportsOf(result, 'error').map((e) => [e.task.taskType, e]))
  assert.equal(errors.THROW.value.name, 'TypeError')
  assert.equal(errors.THROW.value.message, 'persistent boom')
  assert.match(errors.EXIT.value.message, /exited with code 2/)
  for (const type of ['THROW', 'EXIT']) {
    const stored = errors[type].stored
    assert.equal(stored.failed, true, `${type} is marked failed`)
    assert.equal(stored.onGoing, false)
    assert.equal(stored.attempts, 1)
    assert.equal(stored.lastError.message, errors[type].value.message)
  }
  assert.equal(errors.EXIT.stored.lastError.code, 'ERR_WORKER_EXIT')
  assert.equal(errors.EXIT.stored.lastError.exitCode, 2, 'the exit status is kept')
  const [later] = reportsOf(result, 'later')
  assert.deepEqual(later.settled, ['error THROW 3', 'error EXIT 2', 'done OK 1', 'done OK 0'],
    'each task ran once, by priority; the one added after the failures ran, and no failed task again')
  assert.deepEqual(later.failed.map((t) => t.taskType).sort(), ['EXIT', 'THROW'])
  assert.ok(later.failed.every((t) => t.attempts === 1), 'failed tasks are not claimed again')
})

test('a task re-adds itself from its worker with a later dueDate (the recurring pattern)', async () => {
  const result = await persistent('recurring', freshUrl())
  assert.equal(result.code, 0, result.stderr)
  const runs = reportsOf(result, 'done').map((e) => e.value)
  assert.deepEqual(runs.map((r) => r.n), [0, 1, 2, 3])
  for (let k = 1; k < runs.length; k++) {
    assert.ok(runs[k].at - runs[k - 1].at >= 300, `run ${k} started ${runs[k].at - runs[k - 1].at} ms after the previous one, which made it due 300 ms after its start`)
  }
})

test('findOne, find, count, update and remove work in the master and in workers, with Async aliases', async () => {
  const result = await persistent('calls', freshUrl())
  assert.equal(result.code, 0, result.stderr)
  const [master] = reportsOf(result, 'master')
  assert.equal(master.count, 3)
  assert.equal(master.one.priority, 5)
  assert.ok(master.one.createdAt.__date, 'documents come back with Dates')
  assert.equal(master.fetched, 3)
  assert.equal(master.updatedMany, 3)
  assert.equal(master.missing, true, 'findOne of nothing is undefined')
  const [worker] = reportsOf(result, 'worker')
  assert.equal(worker.isMaster, false)
  assert.equal(worker.count, 3)
  assert.equal(worker.one.priority, 1)
  assert.deepEqual(worker.one.data, { priority: 1, flag: 1 })
  assert.deepEqual(worker.all, [5, 3, 1])
  assert.equal(worker.updated, 1)
  assert.deepEqual(reportsOf(result, 'removed')[0], { kind: 'removed', removed: 3, left: 0 })
})

test('a master killed with SIGKILL mid-run loses nothing: a new master finishes every task', async () => {
  const url = freshUrl()
  const first = start('persistent.mjs', ['crash', 'add'], { env: { MONGO_URL: url } })
  try {
    await first.until((r) => reportsOf(r, 'done').length >= 6, 'the first master got going: 6 tasks done')
  } finally {
    first.child.kill('SIGKILL')
  }
  await first.exited
  const second = await persistent('crash', url, { timeout: 90000 })
  assert.equal(second.code, 0, second.stderr)
  await withDb(url, async (db) => {
    const ids = new Set((await db.collection('completions').find().toArray()).map((c) => c.taskId))
    assert.equal(ids.size, 50, `${50 - ids.size} tasks never completed`)
    assert.equal(await db.collection('taskQueue').countDocuments(), 0)
  })
})

test('two masters with different taskMaps share one collection: each task runs exactly once, by a master that has its type', async () => {
  const url = freshUrl()
  const now = Date.now()
  await withDb(url, (db) => db.collection('taskQueue').insertMany(Array.from({ length: 300 }, (_, i) => ({
    _id: `shared${String(i).padStart(11, '0')}`,
    taskType: ['a', 'b', 'c'][i % 3],
    priority: i % 4,
    data: { i },
    createdAt: new Date(now),
    onGoing: false,
    dueDate: new Date(now)
  }))))
  const [a, b] = await Promise.all([
    persistent('shared', url, { timeout: 120000, env: { MASTER_NAME: 'A' } }),
    persistent('shared', url, { timeout: 120000, env: { MASTER_NAME: 'B' } })
  ])
  assert.equal(a.code, 0, a.stderr)
  assert.equal(b.code, 0, b.stderr)
  await withDb(url, async (db) => {
    const completions = await db.collection('completions').find().toArray()
    assert.equal(completions.length, 300, 'each task completed exactly once')
    assert.equal(new Set(completions.map((c) => c.taskId)).size, 300)
    for (const c of completions) assert.equal(c.master, c.taskType === 'a' ? 'A' : 'B', `${c.taskId} ran on the wrong master`)
  })
})

test('a master running slow tasks claims only a few ahead: a second master started later gets a share', async () => {
  const url = freshUrl()
  let started = null
  const first = new Promise((resolve) => { started = resolve })
  const a = persistent('slowShare', url, {
    timeout: 60000,
    env: { MASTER_NAME: 'A' },
    onReport: (r) => { if (r.kind === 'done') started() }
  })
  await first
  const b = await persistent('slowShare', url, { timeout: 60000, env: { MASTER_NAME: 'B' } })
  const resultA = await a
  assert.equal(resultA.code, 0, resultA.stderr)
  assert.equal(b.code, 0, b.stderr)
  await withDb(url, async (db) => {
    const completions = await db.collection('completions').find().toArray()
    assert.equal(completions.length, 24, 'each task ran exactly once')
    const byB = completions.filter((c) => c.master === 'B').length
    assert.ok(byB >= 6, `the later master ran only ${byB} of 24 tasks`)
  })
})

test('the database stopped and restarted during a run: in-memory tasks go on, adds fail fast, nothing acknowledged is lost', async () => {
  const { startServer } = await import('./mongo.mjs')
  const server = await startServer('outage')
  try {
    const master = start('persistent.mjs', ['outage'], { env: { MONGO_URL: server.url } })
    try {
      await master.until((r) => reportsOf(r, 'done').length >= 10, 'progress before the outage: 10 tasks done')
      // The outage lasts until an add has failed (after the 5 s an operation waits for a server).
      await server.stop()
      await master.until((r) => reportsOf(r, 'rejected').length >= 1, 'an add failed during the outage')
      await server.restart()
    } catch (error) {
      master.child.kill('SIGKILL')
      throw error
    }
    const result = await finished(master, 120000)
    assert.equal(result.signal, null, `the master did not finish\n${result.stderr}`)
    assert.equal(result.code, 0, result.stderr)
    const [{ ids }] = reportsOf(result, 'acked')
    const ran = new Set(reportsOf(result, 'done').map((e) => e.task._id))
    const lost = ids.filter((id) => !ran.has(id))
    assert.deepEqual(lost, [], 'every acknowledged task ran')
    const rejected = reportsOf(result, 'rejected')
    assert.ok(rejected.length >= 1, 'adds during the outage were rejected')
    for (const r of rejected) {
      assert.ok(r.ms < 15000, `a rejected add took ${r.ms} ms`)
      assert.match(r.message, /TaskQueue\.addTask/)
      assert.equal(r.code, 'ERR_MONGO_UNAVAILABLE')
    }
    for (const { id } of reportsOf(result, 'memoryAdded')) assert.ok(ran.has(id), 'in-memory tasks ran during the outage')
    const warnings = result.stderr.match(/persistent queue unavailable/g) || []
    assert.ok(warnings.length >= 1 && warnings.length <= 3, `expected one warning per outage, got ${warnings.length}`)
  } finally {
    await server.dispose()
  }
})
