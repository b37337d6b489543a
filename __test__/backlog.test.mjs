// Persistent backlogs: claims grown to large batches, outcomes written in
// batches, and the change stream closed while a backlog drains. Real
// masters, real workers, the test database.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { run, reportsOf } from './helpers.mjs'
import { setup, teardown, freshUrl, withDb } from './mongo.mjs'

before(setup)
after(teardown)

const backlog = (scenario, url, options = {}) =>
  run('backlog.mjs', [scenario], { timeout: 90000, ...options, env: { MONGO_URL: url, ...(options.env || {}) } })

test('two masters draining one backlog of fast tasks each run a share, and every task runs exactly once', async () => {
  const url = freshUrl()
  const now = Date.now()
  const n = 3000
  await withDb(url, (db) => db.collection('taskQueue').insertMany(Array.from({ length: n }, (_, i) => ({
    _id: `backlog${String(i).padStart(10, '0')}`,
    taskType: 'FAST',
    priority: i % 3,
    data: { i },
    createdAt: new Date(now),
    onGoing: false,
    dueDate: new Date(now)
  }))))
  const [a, b] = await Promise.all([
    backlog('shareBacklog', url, { env: { MASTER_NAME: 'A' } }),
    backlog('shareBacklog', url, { env: { MASTER_NAME: 'B' } })
  ])
  assert.equal(a.code, 0, a.stderr)
  assert.equal(b.code, 0, b.stderr)
  await withDb(url, async (db) => {
    const runs = await db.collection('runs').find().toArray()
    const byTask = new Map()
    for (const r of runs) byTask.set(r.taskId, (byTask.get(r.taskId) || 0) + 1)
    assert.equal(byTask.size, n, 'every task ran')
    assert.deepEqual([...byTask.values()].filter((count) => count > 1), [], 'no task ran twice')
    const byA = runs.filter((r) => r.master === 'A').length
    assert.ok(byA > 0 && byA < n, `each master ran a share (A ran ${byA} of ${n})`)
    assert.equal(await db.collection('taskQueue').countDocuments(), 0, 'every task is removed')
  })
  const [{ done: doneA }] = reportsOf(a, 'closed')
  const [{ done: doneB }] = reportsOf(b, 'closed')
  assert.equal(doneA + doneB, n, 'one done event per task')
})

test('every done event of a backlog comes after its task is removed from the collection', async () => {
  const result = await backlog('eventsAfterWrites', freshUrl(), { env: { TASKS: '1500' } })
  assert.equal(result.code, 0, result.stderr)
  const [drained] = reportsOf(result, 'drained')
  assert.equal(drained.added, 1500)
  assert.equal(drained.done, 1500, 'one done event per task')
  assert.deepEqual(drained.stillThere, [], 'tasks whose done event came before their removal')
  assert.equal(drained.left, 0)
})

test('after a backlog of its own adds drains, a master runs a task another process inserts, without polling', async () => {
  // refreshRate is a minute: only the change stream, closed while the
  // backlog drained, can bring the outside task within the test's time.
  const result = await backlog('streamReopens', freshUrl(), { timeout: 40000, env: { TASKS: '1000' } })
  assert.equal(result.code, 0, `${result.stderr}\nreports: ${JSON.stringify(result.reports.map((r) => r.kind))}`)
  assert.equal(reportsOf(result, 'drained').length, 1)
  const [ran] = reportsOf(result, 'ranOutside')
  assert.equal(ran.id, 'outsideTask000001')
})
