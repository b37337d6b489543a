// Flow control across machines: 2 to 4 masters as separate processes on
// one database, each run recording its start and end. Limits hold
// fleet-wide, groups take turns, a dead master's slots come back, and
// claims follow the work.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { start, run, reportsOf, finished } from './helpers.mjs'
import { setup, teardown, freshUrl, withDb } from './mongo.mjs'
import { maxOverlap, maxInWindow } from './overlap.mjs'

before(setup)
after(teardown)

/** Starts `n` masters on `url`; resolves with them once each is connected. */
async function masters (url, n, env = {}) {
  const started = Array.from({ length: n }, (_, i) => start('fleet.mjs', ['runner'], { env: { MONGO_URL: url, MASTER_NAME: `m${i}`, ...env } }))
  await Promise.all(started.map((m) => m.until((r) => reportsOf(r, 'ready').length === 1, 'ready', 60000)))
  return started
}

async function stop (started) {
  for (const m of started) m.tell('stop')
  await Promise.all(started.map((m) => finished(m, 60000)))
}

const add = (url, tasks) => run('fleet.mjs', ['add'], { timeout: 60000, env: { MONGO_URL: url, TASKS: JSON.stringify(tasks) } })
const setLimits = (url, limits) => run('fleet.mjs', ['setLimits'], { timeout: 60000, env: { MONGO_URL: url, LIMITS: JSON.stringify(limits) } })

/**
 * Resolves with every run recorded once `n` tasks have a run that ended
 * (`started`: that started), looking at the runs' records (the counter).
 */
async function ended (url, n, { timeout = 90000, started = false } = {}) {
  const deadline = Date.now() + timeout
  return withDb(url, async (db) => {
    const runs = db.collection('runs')
    for (;;) {
      const done = await runs.distinct('taskId', started ? {} : { e: { $exists: true } })
      if (done.length >= n) return runs.find().toArray()
      if (Date.now() > deadline) assert.fail(`only ${done.length} of ${n} tasks ${started ? 'started' : 'ended'}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  })
}

test('claims follow the work: two masters of one worker run two long tasks side by side', async () => {
  const url = freshUrl()
  const started = await masters(url, 2)
  await add(url, [{ n: 2, ms: 3000 }])
  const runs = await ended(url, 2)
  await stop(started)
  assert.equal(new Set(runs.map((r) => r.master)).size, 2, `one task each: ${JSON.stringify(runs)}`)
  assert.equal(maxOverlap(runs), 2, 'they ran at the same time')
})

test('concurrency across masters: 3 masters of 2 workers never run more than the limit at once, and reach it together', async () => {
  const url = freshUrl()
  await setLimits(url, { concurrency: 3 })
  const started = await masters(url, 3, { WORKERS: '2' })
  await add(url, [{ n: 15, ms: 400 }])
  const runs = await ended(url, 15)
  await stop(started)
  // 3 at once needs two masters: each has 2 workers.
  assert.equal(maxOverlap(runs), 3, 'the limit, reached and never passed')
})

test('rate across masters: no window of `per` ms sees more than `max` starts, fleet-wide', async () => {
  const url = freshUrl()
  const started = await masters(url, 3, { WORKERS: '2', LIMITS: JSON.stringify({ WORK: { rate: { max: 3, per: 1000 } } }) })
  await add(url, [{ n: 9 }])
  const runs = await ended(url, 9)
  await stop(started)
  assert.ok(maxInWindow(runs, 1000) <= 3, `starts: ${runs.map((r) => r.s).sort()}`)
})

test('groups across masters: 10 tasks of a group added behind 300 of another start within the next few dozen, and job.group is theirs', async () => {
  const url = freshUrl()
  await add(url, [{ n: 300, group: 'tenant-a', tag: 'a' }])
  const started = await masters(url, 2)
  // The backlog is under way when the small group arrives.
  await ended(url, 5)
  const [{ at }] = reportsOf(await add(url, [{ n: 10, group: 'tenant-b', tag: 'b' }]), 'added')
  const runs = await ended(url, 310)
  await stop(started)
  const after = runs.filter((r) => r.s >= at).sort((x, y) => x.s - y.s)
  const lastB = after.findLastIndex((r) => r.group === 'tenant-b')
  assert.ok(lastB < 40, `the last of b started ${lastB + 1}th after b was added`)
  assert.ok(runs.every((r) => r.group === (r.tag.startsWith('a') ? 'tenant-a' : 'tenant-b')))
})

test('perGroup across masters: each group runs one at a time fleet-wide, the groups side by side', async () => {
  const url = freshUrl()
  const started = await masters(url, 3, { WORKERS: '2', LIMITS: JSON.stringify({ WORK: { perGroup: { concurrency: 1 } } }) })
  await add(url, [{ n: 3, ms: 300, group: 'a' }, { n: 3, ms: 300, group: 'b' }, { n: 3, ms: 300, group: 'c' }])
  const runs = await ended(url, 9)
  await stop(started)
  for (const g of ['a', 'b', 'c']) assert.equal(maxOverlap(runs.filter((r) => r.group === g)), 1, `group ${g}`)
  assert.ok(maxOverlap(runs) > 1, 'groups ran side by side')
})

test('a master killed holding slots: the limit holds, and its slots come back after the lease', async () => {
  const url = freshUrl()
  const env = { WORKERS: '2', LEASE: '2000', LIMITS: JSON.stringify({ WORK: { concurrency: 2 } }) }
  const started = await masters(url, 2, env)
  await add(url, [{ n: 6, ms: 1500 }])
  const [first] = await ended(url, 1, { started: true })
  const victim = started[Number(first.master.slice(1))]
  const killedAt = Date.now()
  victim.child.kill('SIGKILL')
  const runs = await ended(url, 6, { timeout: 120000 })
  const survivors = started.filter((m) => m !== victim)
  await stop(survivors)
  // A killed run ends when its master was killed (its worker goes with it).
  const closed = runs.map((r) => ({ ...r, e: r.e ?? killedAt }))
  assert.ok(maxOverlap(closed) <= 2, 'never more than the limit, the killed runs counted')
  assert.ok(runs.some((r) => r.e === undefined), 'the killed master was running a task')
  assert.ok(runs.filter((r) => r.master !== first.master).length >= 4, 'the survivor ran the rest, the killed one\'s tasks included')
})

test('setLimits at run time: every master obeys within a second', async () => {
  const url = freshUrl()
  const started = await masters(url, 2, { WORKERS: '2', REFRESH: '60000' })
  await add(url, [{ n: 40, ms: 200 }])
  await ended(url, 2)
  const [{ at }] = reportsOf(await setLimits(url, { concurrency: 1 }), 'set')
  const runs = await ended(url, 40, { timeout: 120000 })
  await stop(started)
  const later = runs.filter((r) => r.s >= at + 1000)
  assert.ok(later.length > 0)
  // Every run that started a second after the call had none beside it.
  for (const r of later) {
    const beside = runs.filter((o) => o !== r && o.s < r.e && r.s < o.e)
    assert.deepEqual(beside.map((o) => o.s), [], `run at ${r.s} overlapped`)
  }
})
