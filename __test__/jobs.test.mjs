// Retries with backoff, timeouts, batch adds, series, pause and a graceful
// close, from the public API with real workers and the real database.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { run, reportsOf } from './helpers.mjs'
import { setup, teardown, freshUrl, withDb } from './mongo.mjs'

before(setup)
after(teardown)

/** Runs `jobs.mjs <args>` in a folder of its own; `lines(name)` are the lines its tasks logged in `<name>.log`. */
async function jobs (args, { url = freshUrl(), env = {}, timeout = 60000 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'meteor-cluster-jobs-'))
  try {
    const result = await run('jobs.mjs', args, { timeout, env: { MONGO_URL: url, JOBS_DIR: dir, ...env } })
    assert.equal(result.code, 0, result.stderr)
    const logs = new Map(readdirSync(dir).map((file) => [file, readFileSync(join(dir, file), 'utf8').trim().split('\n')]))
    return { result, lines: (name) => logs.get(`${name}.log`) || [], url }
  } finally {
    if (!process.env.KEEP_JOBS_DIR) rmSync(dir, { recursive: true, force: true })
  }
}

const events = (result, id) => reportsOf(result, 'event').filter((e) => id === undefined || e.id === id)

test('a failed attempt with retries left fires retry { attempt, nextRunAt } and runs again after its delay, fixed or exponential; error fires once when they are spent', async () => {
  const { result, lines } = await jobs(['retries'])
  const [ids] = reportsOf(result, 'ids')
  const fixed = events(result, ids.fixed)
  assert.deepEqual(fixed.map((e) => e.type), ['retry', 'retry', 'done'])
  assert.deepEqual(fixed.slice(0, 2).map((e) => e.attempt), [1, 2])
  assert.equal(fixed[2].value, 3, 'the third attempt succeeded')
  for (const e of fixed.slice(0, 2)) assert.ok(e.nextRunAt >= e.at + 90, 'nextRunAt is about delay ms away')
  const starts = lines('fixed').map((line) => Number(line.split(' ')[0]))
  assert.ok(starts[1] - starts[0] >= 100 && starts[2] - starts[1] >= 100, `fixed delays: ${starts}`)
  const exp = lines('exp').map((line) => Number(line.split(' ')[0]))
  assert.ok(exp[1] - exp[0] >= 100 && exp[2] - exp[1] >= 200, `exponential delays double: ${exp}`)
  const spent = events(result, ids.spent)
  assert.deepEqual(spent.map((e) => e.type), ['retry', 'error'], 'one retry, then the error, once')
  assert.match(spent[1].value.message, /attempt 2 failed/)
  const dies = events(result, ids.dies)
  assert.deepEqual(dies.map((e) => e.type), ['retry', 'done'], 'a worker death is retried too')
  assert.equal(dies[0].value.code, 'ERR_WORKER_EXIT')
})

test('a persistent task keeps its attempts and lastError between retries, and is failed only when they are spent', async () => {
  const { result } = await jobs(['persistentRetries'])
  const [{ between, end }] = reportsOf(result, 'stored')
  assert.equal(between.failed, undefined, 'not failed while retries are left')
  assert.equal(between.onGoing, false)
  assert.equal(between.attempts, 1)
  assert.match(between.lastError.message, /attempt 1 failed/)
  assert.ok(Date.parse(between.dueDate.__date) > Date.parse(between.createdAt.__date), 'due again later')
  assert.deepEqual(between.retry, { limit: 2, delay: 200, backoff: 'fixed' })
  assert.equal(end.failed, true)
  assert.equal(end.attempts, 3)
  assert.match(end.lastError.message, /attempt 3 failed/)
  assert.deepEqual(reportsOf(result, 'event').map((e) => e.type), ['retry', 'retry', 'error'])
})

test('a run past its timeout fails with TaskTimeoutError, async or spinning; its worker is stopped, the tasks behind it run once elsewhere, and it is retried', async () => {
  const { result, lines } = await jobs(['timeouts'])
  const [{ ids }] = reportsOf(result, 'ids')
  const [asyncId, spinId] = ids
  const asyncEvents = events(result, asyncId)
  assert.deepEqual(asyncEvents.map((e) => e.type), ['retry', 'done'])
  assert.equal(asyncEvents[0].value.name, 'TaskTimeoutError')
  assert.equal(asyncEvents[0].value.code, 'ERR_TASK_TIMEOUT')
  const spin = events(result, spinId)
  assert.deepEqual(spin.map((e) => e.type), ['error'])
  assert.equal(spin[0].value.name, 'TaskTimeoutError')
  assert.doesNotMatch(result.stderr, /ERROR.*was killed by/, 'a worker stopped for a timeout is not logged as an error')
  const quick = lines('quick')
  assert.equal(quick.length, 6, 'every task sent ahead ran')
  assert.equal(new Set(quick).size, 6, 'and ran once')
  assert.equal(events(result).filter((e) => e.taskType === 'QUICK' && e.type === 'done').length, 6)
})

test('the Cluster\'s retry and taskTimeout options apply to every task without its own', async () => {
  const { result } = await jobs(['clusterDefaults'])
  const [{ ids: [hangs, flaky, own] }] = reportsOf(result, 'ids')
  const hangsEvents = events(result, hangs)
  assert.deepEqual(hangsEvents.map((e) => e.type), ['retry', 'done'], 'timed out by taskTimeout, then retried by the default retry')
  assert.equal(hangsEvents[0].value.code, 'ERR_TASK_TIMEOUT')
  assert.deepEqual(events(result, flaky).map((e) => e.type), ['retry', 'done'])
  assert.deepEqual(events(result, own).map((e) => e.type), ['error'], 'a task\'s own retry wins')
})

test('addTasks validates every entry first, then queues them (persistent ones in one insert) and resolves with the ids in order; it works in workers', async () => {
  const { result, lines } = await jobs(['batch'])
  const [batch] = reportsOf(result, 'batch')
  assert.equal(batch.refused.name, 'TypeError')
  assert.equal(batch.refused.code, 'ERR_INVALID_ARG')
  assert.match(batch.refused.message, /tasks\[1\]\.priority must be an integer/)
  assert.equal(batch.before, 0, 'nothing was queued')
  assert.equal(batch.ids.length, 4)
  assert.equal(batch.ids[2], 'batchThird')
  assert.equal(batch.forwarded.length, 2, 'a worker added two tasks')
  const ran = lines('batch')
  assert.equal(ran.length, 5)
  assert.ok(ran.includes('batchThird'))
})

for (const where of ['memory', 'persistent']) {
  test(`a ${where} series runs again and again under its _id; adding it again is a no-op; removing it ends it`, async () => {
    const { result } = await jobs(['series', where])
    const [series] = reportsOf(result, 'series')
    assert.equal(series.first, 'everyFew')
    assert.equal(series.again, 'everyFew', 'adding it again resolves with the same _id')
    const done = events(result, 'everyFew').filter((e) => e.type === 'done')
    const due = done.map((e) => e.value.due)
    assert.equal(new Set(due).size, due.length, `each run is another occurrence: ${due}`)
    for (let k = 1; k < due.length; k++) assert.ok(due[k] - due[k - 1] >= 250, 'occurrences every 250 ms or more')
    assert.equal(series.gone, true, 'removed, it is no longer in the queue')
    assert.equal(events(result, 'afterSeries').length, 1, 'a task due after its next three occurrences ran')
    assert.ok(series.after <= series.ended + 1, `removed: at most the run already going finishes (${series.ended} runs at its removal, ${series.after} after)`)
  })
}

test('two masters share a persistent series and a retried task: one document, no run doubled, attempts continue on either master', async () => {
  const url = freshUrl()
  const dir = mkdtempSync(join(tmpdir(), 'meteor-cluster-shared-'))
  try {
    const env = { JOBS_DIR: dir, MONGO_URL: url }
    const [a, b] = await Promise.all([
      run('jobs.mjs', ['sharedSeries'], { timeout: 60000, env: { ...env, MASTER_NAME: 'A' } }),
      run('jobs.mjs', ['sharedSeries'], { timeout: 60000, env: { ...env, MASTER_NAME: 'B' } })
    ])
    assert.equal(a.code, 0, a.stderr)
    assert.equal(b.code, 0, b.stderr)
    for (const r of [a, b]) assert.equal(reportsOf(r, 'shared')[0].count, 1, 'one series document')
    const occurrences = readFileSync(join(dir, 'shared-series.log'), 'utf8').trim().split('\n').map((l) => l.split(' ')[1])
    assert.ok(occurrences.length >= 6)
    assert.equal(new Set(occurrences).size, occurrences.length, `an occurrence ran twice: ${occurrences}`)
    const attempts = readFileSync(join(dir, 'shared-retry.log'), 'utf8').trim().split('\n')
    assert.equal(attempts.length, 3, 'three attempts in all, no more')
    await withDb(url, async (db) => assert.equal(await db.collection('taskQueue').countDocuments({ _id: 'sharedRetry' }), 0, 'done and removed'))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a series whose run was retried goes on from the grid of its first dueDate, in memory and in MongoDB', async () => {
  const { result } = await jobs(['seriesRetryGrid'])
  const [{ due, inMemory, persistent, storedSlot }] = reportsOf(result, 'grid')
  for (const dues of [inMemory, persistent]) {
    assert.equal(dues[0], due, 'the first attempt is the first occurrence')
    assert.ok(dues[1] >= due + 200 && dues[1] < due + 2000, `the retry is due after its delay: ${dues}`)
    assert.deepEqual(dues.slice(2, 4), [due + 2000, due + 4000], 'the next occurrences keep to the grid')
  }
  assert.equal(storedSlot, undefined, 'no slot is left on the stored series after its retried run')
})

test('a cron series runs on its schedule in its time zone; a bad expression, zone or interval is a TypeError at addTask', async () => {
  const { result } = await jobs(['cron'], { timeout: 30000 })
  const [cron] = reportsOf(result, 'cron')
  assert.equal(cron.refused.length, 3)
  assert.ok(cron.refused.every((r) => r.name === 'TypeError'))
  assert.match(cron.refused[0].message, /repeat\.cron/)
  assert.match(cron.refused[1].message, /repeat\.tz/)
  assert.match(cron.refused[2].message, /repeat\.every/)
  assert.ok(cron.runs.length >= 2)
  assert.ok(cron.runs[1].due > cron.runs[0].due, 'the next occurrence comes after the first run')
  assert.equal(cron.runs[1].due % 1000, 0, 'occurrences fall on whole seconds')
})

test('pause() starts nothing until resume(): stats says paused, the tasks queued and none running or done', async () => {
  const { result } = await jobs(['pause'])
  const [{ whilePaused, after, paused }] = reportsOf(result, 'pause')
  assert.equal(whilePaused.stats.paused, true)
  assert.equal(whilePaused.stats.inMemory.queued, 4, 'the four tasks are queued')
  assert.equal(whilePaused.stats.running, 0, 'none is running or sent to a worker')
  assert.equal(whilePaused.stats.counters.done, 0, 'none is done')
  assert.equal(whilePaused.events, 0, 'no event came')
  assert.equal(after, 4, 'after resume() all four ran')
  assert.equal(paused, false)
})

test('pause() hands the persistent tasks this master claimed and has not started back to the collection', async () => {
  const { result } = await jobs(['pausePersistent'])
  const [paused] = reportsOf(result, 'pausedPersistent')
  assert.equal(paused.total, 8)
  assert.ok(paused.started >= 1 && paused.started <= 2, `${paused.started} started`)
  assert.equal(paused.held, paused.started, 'only the running tasks stay claimed')
})

for (const where of ['memory', 'persistent']) {
  test(`close({ timeout }) stops a ${where} task still running after the timeout and hands it back, not failed, its attempt not counted`, async () => {
    const { result } = await jobs(['close', where])
    const [closed] = reportsOf(result, 'closed')
    assert.ok(closed.ms < 10000, `closed in ${closed.ms} ms`)
    assert.deepEqual(closed.events, [], 'no done, no error')
    assert.ok(closed.stored, 'the task is still queued')
    assert.equal(closed.stored.onGoing, false)
    assert.match(result.stderr, /WARNING/, 'stopping the worker is a warning')
    assert.doesNotMatch(result.stderr, /ERROR/, 'not an error: the master stopped it itself')
    if (where === 'persistent') {
      assert.equal(closed.stored.failed, undefined)
      assert.equal(closed.stored.attempts, 0)
    }
  })
}
