import { test } from 'node:test'
import assert from 'node:assert/strict'
import { run, reportsOf } from './helpers.mjs'

test('sync and async tasks give done events with { value, task }, throws and rejections give error events', async () => {
  const result = await run('scenario.mjs', ['payloads'])
  assert.equal(result.code, 0, result.stderr)
  const [ids] = reportsOf(result, 'ids')
  const done = Object.fromEntries(reportsOf(result, 'done').map((e) => [e.task._id, e]))
  const errors = Object.fromEntries(reportsOf(result, 'error').map((e) => [e.task._id, e]))

  const sync = done[ids.sync]
  assert.equal(sync.task.taskType, 'SYNC')
  assert.equal(sync.task.priority, 9)
  assert.equal(sync.task.onGoing, true)
  assert.ok(sync.task.createdAt.__date, 'createdAt is a Date')
  assert.ok(sync.task.dueDate.__date, 'dueDate is a Date')
  assert.notEqual(sync.value.pid, process.pid)
  assert.equal(sync.value.port, '4567', 'the port option reaches workers as PORT')
  assert.deepEqual(sync.value.got, {
    nested: { deep: { list: [1, 'two', { three: 3 }] } },
    number: 4.5,
    negative: -7,
    string: 'héllo',
    yes: true,
    no: false,
    nothing: null,
    when: { __date: '2024-02-29T12:34:56.789Z' },
    dates: [{ __date: '1970-01-01T00:00:00.000Z' }, { at: { __date: '1970-01-02T00:00:00.000Z' } }],
    tricky: { $date: 'not a date' }
  }, 'data round-trips through the worker and back with its types')
  assert.deepEqual(sync.value.task.data, sync.value.got, 'the task function sees the same data')
  assert.equal(sync.value.task._id, ids.sync)
  assert.ok(sync.value.task.createdAt.__date, 'the task function sees Dates')

  assert.deepEqual(done[ids.async].value, { slept: 50 })
  assert.ok(ids.undef in done)
  assert.equal(done[ids.undef].value, undefined)
  assert.ok(ids.after in done, 'the worker kept serving after the errors')
  assert.equal(done[ids.after].value.pid, sync.value.pid, 'on the same worker')

  const thrown = errors[ids.throw].value
  assert.equal(thrown.name, 'Error')
  assert.equal(thrown.message, 'sync boom')
  assert.equal(thrown.code, 'E_BOOM')
  assert.match(thrown.stack, /sync boom/)
  const rejected = errors[ids.reject].value
  assert.equal(rejected.name, 'RangeError')
  assert.equal(rejected.message, 'async boom')
  assert.match(rejected.stack, /RangeError: async boom/)
  assert.equal(errors[ids.throwString].value.message, 'plain string')
})

test('the in-memory queue API finds, lists and removes tasks, and refuses a duplicate _id', async () => {
  const result = await run('scenario.mjs', ['inMemoryApi'])
  assert.equal(result.code, 0, result.stderr)
  const [api] = reportsOf(result, 'api')
  const { a, b, c, d } = api.ids
  assert.equal(d, 'my-own-id')
  assert.match(api.duplicate, /my-own-id/)
  assert.equal(api.found._id, b)
  assert.deepEqual(api.found.data, { n: 2 })
  assert.equal(api.found.onGoing, false)
  assert.equal(api.missing, undefined)
  assert.deepEqual(api.all, [a, b, c, d])
  assert.deepEqual(api.available, [b, a, d])
  assert.equal(api.removed._id, c, 'removeById returns the removed task, as upstream')
  assert.deepEqual(api.removed.data, { n: 3 })
  assert.equal(api.removedAgain, 'undefined')
  assert.deepEqual(api.after, [a, b, d])
  const ran = reportsOf(result, 'done').map((e) => e.task._id)
  assert.deepEqual(ran.sort(), [a, b, d].sort(), 'the removed task never ran')
})

test('a burst of adds in one tick is seen at once, in order, by the queue API; every task runs', async () => {
  const result = await run('scenario.mjs', ['burstVisible'])
  assert.equal(result.code, 0, result.stderr)
  const [burst] = reportsOf(result, 'burst')
  assert.ok(burst, `the burst did not finish\n${result.stderr}`)
  assert.equal(burst.ids.length, 301)
  assert.equal(burst.ids[150], 'middle')
  assert.deepEqual(burst.listed, burst.ids, 'listed in the order added, the explicit _id in its place')
  assert.equal(new Set(burst.ids).size, 301, 'ids are unique')
  assert.equal(burst.done, 301)
})

test('a task can queue another task from inside its worker; the in-memory queue API there throws ERR_MASTER_ONLY', async () => {
  const result = await run('scenario.mjs', ['fromWorker'])
  assert.equal(result.code, 0, result.stderr)
  const done = reportsOf(result, 'done')
  const parent = done.find((e) => e.task.taskType === 'PARENT')
  const child = done.find((e) => e.task.taskType === 'CHILD')
  assert.ok(parent && child, result.stderr)
  assert.equal(parent.value.isMaster, false)
  assert.equal(child.task._id, parent.value.childId)
  assert.equal(typeof child.value.from, 'number')
  assert.equal(parent.value.masterOnly.code, 'ERR_MASTER_ONLY')
  assert.match(parent.value.masterOnly.message, /inMemory\.findById is only available in the master/)
})

test('nothing is dispatched before initialize() when autoInitialize is false', async () => {
  const result = await run('scenario.mjs', ['autoInitialize'])
  assert.equal(result.code, 0, result.stderr)
  const [before] = reportsOf(result, 'before')
  assert.equal(before.task.onGoing, false, 'still waiting before initialize()')
  assert.equal(before.workers, 0, 'no worker was started')
  assert.equal(reportsOf(result, 'done').length, 1, 'ran after initialize()')
  const kinds = result.reports.map((r) => r.kind)
  assert.ok(kinds.indexOf('before') < kinds.indexOf('done'))
})

test('task start and end are logged as timestamp:nschwarz:cluster:taskType:taskId', async () => {
  const result = await run('scenario.mjs', ['idleExit'])
  const [done] = reportsOf(result, 'done')
  const id = done.task._id
  assert.match(result.stdout, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z:nschwarz:cluster:T:${id} started$`, 'm'))
  assert.match(result.stdout, new RegExp(`:nschwarz:cluster:T:${id} done in \\d+ ms$`, 'm'))
  const quiet = await run('scenario.mjs', ['idleExit'], { env: { DEBUG: '*,-nschwarz:cluster:TASK' } })
  assert.doesNotMatch(quiet.stdout, /nschwarz:cluster:T:/, 'DEBUG exclusions apply')
  assert.equal(reportsOf(quiet, 'done').length, 1)
})

test('a task sent ahead is logged as started when it starts, after the one before it is done', async () => {
  const result = await run('scenario.mjs', ['logOrder'])
  assert.equal(result.code, 0, result.stderr)
  const ids = reportsOf(result, 'done').map((e) => e.task._id)
  assert.equal(ids.length, 2)
  const lines = result.stdout.split('\n').filter((l) => l.includes(':nschwarz:cluster:SLOW:'))
  const events = lines.map((l) => `${ids.indexOf(l.split(':SLOW:')[1].split(' ')[0])} ${l.split(' ')[1]}`)
  assert.deepEqual(events, ['0 started', '0 done', '1 started', '1 done'])
})

test('cluster.stats() counts tasks and workers and times worker starts', async () => {
  const result = await run('scenario.mjs', ['stats'])
  assert.equal(result.code, 0, result.stderr)
  const [{ stats: before }] = reportsOf(result, 'before')
  assert.equal(before.workers, 0)
  assert.equal(before.counters.done, 0)
  const [{ stats }] = reportsOf(result, 'stats')
  assert.equal(stats.counters.done, 2)
  assert.equal(stats.counters.failed, 1)
  assert.equal(stats.counters.workersStarted, 1)
  assert.ok(stats.counters.lastWorkerStartMs > 0, 'a worker start was timed')
  assert.equal(stats.running, 0)
  assert.equal(stats.inMemory.queued, 0)
  assert.equal(stats.persistent.enabled, false)
})

test('a listener that throws or rejects is logged, and the events after it still come', async () => {
  const result = await run('scenario.mjs', ['listenerThrows'])
  assert.equal(result.code, 0, result.stderr)
  const [{ seen }] = reportsOf(result, 'seen')
  assert.deepEqual([...seen].sort(), [0, 1, 2])
  assert.match(result.stderr, /the "done" listener threw: Error: sync boom/)
  assert.match(result.stderr, /the "done" listener threw: Error: async boom/)
})

test('listeners get { value, task } as own enumerable properties: spread, JSON and Object.keys see the task', async () => {
  const result = await run('scenario.mjs', ['eventShape'])
  assert.equal(result.code, 0, result.stderr)
  const [shapes] = reportsOf(result, 'shapes')
  const plain = (id, data) => ({ keys: ['value', 'task'], enumerable: true, same: true, spreadId: id, jsonId: id, id, data })
  assert.deepEqual(shapes.done, [0, 1, 2].map((n) => plain(`ok${n}`, { n })))
  assert.deepEqual(shapes.retry, [{ ...plain('flaky', {}), keys: ['value', 'task', 'attempt', 'nextRunAt'], attempt: 1, nextRunAt: true }])
  assert.deepEqual(shapes.error, [plain('flaky', {})])
})

test('the done events of a burst, and of tasks awaited alone, carry each task as its worker saw it: type, priority, dates, data', async () => {
  const result = await run('scenario.mjs', ['doneColumns'])
  assert.equal(result.code, 0, result.stderr)
  const done = reportsOf(result, 'done')
  assert.equal(done.length, 10)
  for (const { value, task } of done) assert.deepEqual(task, value, `task ${value.data.i}`)
  assert.deepEqual(new Set(done.map((e) => e.task.taskType)), new Set(['A', 'B']))
  // Each dueDate as it was given (task 9 had none: due when it was added).
  const [{ now }] = reportsOf(result, 'now')
  for (const { task } of done) {
    const { i } = task.data
    const due = Date.parse(task.dueDate.__date)
    if (i < 9) assert.equal(due, now - (i < 8 ? 1000 * i : 9000), `task ${i}'s dueDate`)
    else assert.equal(due, Date.parse(task.createdAt.__date), 'a task without a dueDate is due when it is made')
  }
})
