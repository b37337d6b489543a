// Steering tasks while they run, from the public API, with real workers
// (and a real database for the persistent cases): job.progress,
// TaskQueue.cancel (queued, cooperative, spinning; in memory, persistent,
// from a worker, across two masters), timeouts that abort job.signal first,
// worker recycling by task count and by memory, cluster.workers(), and a
// worker script that fails to load.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync, rmSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { run, start, finished, reportsOf } from './helpers.mjs'
import { setup, teardown, freshUrl } from './mongo.mjs'

before(setup)
after(teardown)

const steering = (args, options = {}) => run('steering.mjs', args, { timeout: 60000, ...options })
const only = (result, kind) => {
  assert.equal(result.code, 0, `${result.stderr}\n${result.stdout}`)
  const [report] = reportsOf(result, kind)
  assert.ok(report, `the fixture reported ${kind}`)
  return report
}

test('job.progress: events carry each reported value (a burst coalesced to its latest) before done, and inMemory.findById and cluster.workers() see them while the task runs', async () => {
  const p = only(await steering(['progressMemory']), 'progress')
  assert.equal(p.order.at(-1), 'done', 'done comes last')
  assert.ok(p.order.slice(0, -1).every((type) => type === 'progress'), 'every progress event fires before done')
  assert.equal(p.values[0], 10)
  assert.deepEqual(p.values[1], { step: 'half', at: { __date: '1970-01-01T00:00:00.005Z' } }, 'an EJSON value keeps its types')
  assert.equal(p.values.at(-1), 99999, 'the latest of the burst arrives')
  assert.ok(p.values.length < 50, `100,000 calls are coalesced (${p.values.length} events)`)
  const [first, mid, end] = p.checks
  assert.equal(first.progress, 10)
  assert.deepEqual(mid.progress, { step: 'half', at: { __date: '1970-01-01T00:00:00.005Z' } }, 'findById shows the latest value')
  assert.equal(end.progress, 99999)
  const running = mid.workers.find((w) => w.state === 'running')
  assert.ok(running, `a worker is running: ${JSON.stringify(mid.workers)}`)
  assert.equal(running.task._id, p.id)
  assert.equal(running.task.taskType, 'STEPS')
  assert.ok(running.task.startedAt.__date && running.startedAt.__date, 'times are Dates')
  assert.ok(running.rssBytes > 10 << 20, 'its memory is read from the system')
  assert.equal(typeof running.pid, 'number')
  assert.ok(running.runs >= 0)
  assert.ok(mid.workers.some((w) => w.state === 'ready' && w.task === null), 'the other worker is ready and idle')
  assert.equal(p.after, true, 'the done task has left the queue')
})

test('job.progress on a persistent task: the document keeps the latest value, a failed task keeps its last one, and a retry clears it', async () => {
  const p = only(await steering(['progressPersistent'], { env: { MONGO_URL: freshUrl() } }), 'persistentProgress')
  assert.deepEqual(p.reads, [30], 'findOne sees the progress while the task runs')
  assert.deepEqual(p.failed, { failed: true, progress: 70, message: 'failed at 70' })
  assert.deepEqual(p.order, ['progress', 'progress', 'error'], 'progress events come before the error')
  assert.equal(p.retriedHadProgress, true)
  assert.equal(p.between.has, false, 'the retry was scheduled without the failed attempt\'s progress')
})

for (const where of ['memory', 'persistent']) {
  test(`TaskQueue.cancel (${where}): a queued task ends at once, a cooperative one through job.signal with its worker kept, a spinning one by stopping its worker after cancelGrace; never retried, counted, and callable from a worker`, async () => {
    const env = where === 'persistent' ? { MONGO_URL: freshUrl() } : { MONGO_URL: '' }
    const c = only(await steering(['cancel', where], { env }), 'cancel')
    assert.equal(c.none, 0, 'an unknown _id cancels nothing')
    assert.equal(c.queuedCount, 1)
    assert.equal(c.queued.code, 'ERR_TASK_CANCELLED')
    assert.equal(c.queued.name, 'TaskCancelledError')
    assert.equal(c.queued.message, 'not needed', 'the reason is the message')
    assert.equal(c.coopCount, 1)
    assert.equal(c.coop.code, 'ERR_TASK_CANCELLED')
    assert.equal(c.exitsAfterCoop, 0, 'a task that ends on its signal keeps its worker')
    assert.equal(c.spin.code, 'ERR_TASK_CANCELLED')
    assert.match(c.spin.message, /^from a worker; .*worker was stopped/)
    assert.equal(c.fromWorker, 1, 'a worker cancelled it, and got the count')
    assert.equal(c.exitsAfterSpin, 1, 'the spinning task\'s worker was stopped')
    assert.equal(c.retries, 0, 'cancelled tasks are never retried')
    if (where === 'persistent') {
      for (const [name, doc] of Object.entries(c.docs)) {
        assert.equal(doc.failed, true, `${name} stays, failed`)
        assert.equal(doc.onGoing, false)
        assert.equal(doc.code, 'ERR_TASK_CANCELLED', name)
      }
      assert.equal(c.docs.queued.message, 'not needed')
      assert.equal(c.selectorCount, 3)
      assert.deepEqual(c.selectorMessages, ['batch', 'batch', 'batch'])
      assert.equal(c.selectorAgain, 0, 'what ended is not cancelled again')
    }
  })
}

test('TaskQueue.cancel from another master reaches the master that holds the task\'s claim, which aborts its signal', async () => {
  const url = freshUrl()
  const holder = start('steering.mjs', ['holder'], { env: { MONGO_URL: url } })
  try {
    await holder.until((r) => reportsOf(r, 'holding').length === 1, 'the holder runs the task', 60000)
    const [{ id }] = reportsOf(holder, 'holding')
    const other = await run('steering.mjs', ['canceller', id], { env: { MONGO_URL: url }, timeout: 30000 })
    assert.equal(other.code, 0, other.stderr)
    assert.equal(reportsOf(other, 'cancelled')[0].count, 1)
    await finished(holder, 60000)
    const [held] = reportsOf(holder, 'held')
    assert.equal(held.error.code, 'ERR_TASK_CANCELLED')
    assert.equal(held.error.message, 'from the other master')
    assert.deepEqual(held.doc, { failed: true, code: 'ERR_TASK_CANCELLED' })
  } finally {
    holder.child.kill('SIGKILL')
  }
})

test('a timeout aborts job.signal first: a task that then ends keeps its worker and fails with TaskTimeoutError', async () => {
  const t = only(await steering(['timeoutCooperative'], { env: { MONGO_URL: '' } }), 'timeout')
  assert.equal(t.error.code, 'ERR_TASK_TIMEOUT')
  assert.doesNotMatch(t.error.message, /worker was stopped/)
  assert.equal(t.samePid, true, 'the task after it ran in the same worker')
  assert.equal(t.exits, 0)
})

test('workerMaxTasks retires a worker after that many runs and a fresh one takes over: no task fails, none runs twice', async () => {
  const result = await steering(['recycleCount'], { env: { MONGO_URL: '' } })
  const r = only(result, 'recycled')
  assert.equal(r.failed, 0)
  assert.equal(Object.values(r.perPid).reduce((a, b) => a + b, 0), 23, 'each task ran once')
  assert.ok(Object.values(r.perPid).every((n) => n <= 5), `no worker ran more than 5: ${JSON.stringify(r.perPid)}`)
  assert.ok(r.counters.workersRetired >= 3, `workersRetired ${r.counters.workersRetired}`)
  assert.match(result.stdout, /INFO worker \d+ \(pid \d+\) retired: after 5 runs \(workerMaxTasks\)/, 'a log line says which worker and why')
})

test('workerMaxMemory retires a worker whose memory grows past it (a task that leaks 20 MiB a run), after its run; every task still runs', async () => {
  const result = await steering(['recycleMemory'], { env: { MONGO_URL: '' } })
  const r = only(result, 'leaks')
  assert.equal(r.runs.length, 12)
  assert.ok(r.runs.every((run) => run.type === 'done'), 'no task failed')
  assert.ok(r.counters.workersRetired >= 1, `workersRetired ${r.counters.workersRetired}`)
  assert.ok(new Set(r.runs.map((run) => run.pid)).size >= 2, 'a fresh worker took over')
  assert.match(result.stdout, /INFO worker \d+ \(pid \d+\) retired: its resident memory, \d+ MiB, is above workerMaxMemory \(150 MiB\)/)
})

test('a worker script that throws at load: one error quoting its stderr, spawns back off and grow apart, no task fails, and everything runs once it is fixed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mc-broken-'))
  const flag = join(dir, 'broken')
  writeFileSync(flag, '1')
  const result = start('broken-worker.mjs', [flag], { env: { MONGO_URL: '' } })
  try {
    await result.until((r) => reportsOf(r, 'failures').some((f) => f.count >= 3), 'three start failures', 60000)
    rmSync(flag)
    await finished(result, 60000)
  } finally {
    result.child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
  assert.equal(result.code, 0, result.stderr)
  const logged = result.stderr.match(/workers fail to start/g) || []
  assert.equal(logged.length, 1, `logged once while the failure stays the same:\n${result.stderr}`)
  assert.match(result.stderr, /workers fail to start: worker 1 \(pid \d+\) exited with code 1 before it was ready; its stderr ends with:\n[^]*Error: broken at load/)
  const failures = reportsOf(result, 'failures')
  const at = (n) => failures.find((f) => f.count >= n).at
  const gaps = [at(2) - at(1), at(3) - at(2)]
  assert.ok(gaps[1] > gaps[0], `the wait grows: ${gaps}`)
  const [end] = reportsOf(result, 'ran')
  assert.equal(end.done, 3)
  assert.equal(end.errors, 0, 'no queued task was failed for it')
})
