// A worker that dies fails exactly the task it was running: every task it
// finished before is `done` once, with its value (or failed with its own
// error, when it threw just before the killer); tasks sent ahead and not
// started run once, elsewhere. At the default options (tasks sent ahead,
// sync tasks run back to back in one turn of the worker's event loop).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { run, reportsOf } from './helpers.mjs'
import { setup, teardown, freshUrl, withDb } from './mongo.mjs'

before(setup)
after(teardown)

async function runKillers (where, how, size = 'small') {
  const dir = mkdtempSync(join(tmpdir(), 'meteor-cluster-killers-'))
  const runLog = join(dir, 'runs.log')
  const url = freshUrl()
  try {
    const result = await run('killers.mjs', [where, how, runLog, size], { timeout: 90000, env: { MONGO_URL: url } })
    assert.equal(result.code, 0, result.stderr)
    const [{ ids }] = reportsOf(result, 'added')
    const [{ events }] = reportsOf(result, 'outcomes')
    const runs = readFileSync(runLog, 'utf8').trim().split('\n')
    const stored = where === 'persistent'
      ? await withDb(url, (db) => db.collection('taskQueue').find().toArray())
      : []
    return { ids, events, runs, stored }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function countBy (items) {
  const counts = new Map()
  for (const item of items) counts.set(item, (counts.get(item) || 0) + 1)
  return counts
}

const CASES = [
  ...['memory', 'persistent'].flatMap((where) => ['sigkill', 'exit'].map((how) => [where, how, 'small'])),
  // Large replies (blobs beside the JSON) just before the death.
  ['memory', 'sigkill', 'large'],
  ['persistent', 'sigkill', 'large'],
  // Runs of 1 ms: the master is not woken for each reply, so a worker dies
  // right after replies it wrote and the master had not read yet (half of
  // the deaths right after a failure too).
  ['memory', 'sigkill', 'ms'],
  ['memory', 'exit', 'ms']
]
const SIZES = { small: '', large: ' with 256 KiB results', ms: ' of 1 ms (replies waiting for the master\'s look)' }

for (const [where, how, size] of CASES) {
  test(`${where} tasks${SIZES[size]}: a task that ends its worker (${how}) is the only one to fail, and it runs once`, async () => {
    const { ids, events, runs, stored } = await runKillers(where, how, size)
    assert.equal(ids.length, 240)
    const byId = new Map()
    for (const event of events) {
      assert.ok(!byId.has(event.id), `task ${event.id} had two events`)
      byId.set(event.id, event)
    }
    assert.equal(byId.size, 240, 'every task settled exactly once')
    const ran = countBy(runs)
    const killers = events.filter((e) => e.taskType === 'KILLER')
    const harmless = events.filter((e) => e.taskType === 'OK')
    const throwers = events.filter((e) => e.taskType === 'THROWS')
    assert.equal(killers.length, 12)
    assert.equal(throwers.length, 12)
    for (const e of throwers) {
      assert.equal(e.type, 'error')
      assert.equal(e.message, 'thrown by the task', `thrower ${e.id} was blamed for a crash: ${e.message}`)
      assert.equal(ran.get(e.id), 1, `thrower ${e.id} ran ${ran.get(e.id)} times`)
    }
    for (const e of harmless) {
      assert.equal(e.type, 'done', `harmless task ${e.id} was blamed: ${e.message}`)
      assert.equal(typeof e.value, 'number', `harmless task ${e.id}'s result: ${e.value}`)
      assert.equal(ran.get(e.id), 1, `harmless task ${e.id} ran ${ran.get(e.id)} times`)
    }
    for (const e of killers) {
      assert.equal(e.type, 'error')
      assert.equal(e.name, 'WorkerExitError')
      assert.equal(e.code, 'ERR_WORKER_EXIT')
      assert.match(e.message, how === 'sigkill' ? /killed by SIGKILL/ : /exited with code 3/)
      assert.equal(ran.get(e.id), 1, `killer ${e.id} ran ${ran.get(e.id)} times`)
    }
    if (where === 'persistent') {
      // Done tasks are gone; each killer and thrower stays, failed, after one attempt.
      const killerIds = new Set(killers.map((e) => e.id))
      assert.deepEqual(stored.map((d) => d._id).sort(), [...killerIds, ...throwers.map((e) => e.id)].sort())
      for (const doc of stored) {
        assert.equal(doc.failed, true)
        assert.equal(doc.onGoing, false)
        assert.equal(doc.attempts, 1)
        if (killerIds.has(doc._id)) assert.equal(doc.lastError.code, 'ERR_WORKER_EXIT')
        else assert.equal(doc.lastError.message, 'thrown by the task')
      }
    }
  })
}

test('a worker that dies of an uncaught exception between tasks fails the task it was running, and no other', async () => {
  const { events, runs } = await runKillers('memory', 'throw-uncaught')
  const ran = countBy(runs)
  for (const e of events.filter((e) => e.taskType === 'OK')) {
    assert.equal(e.type, 'done', `harmless task ${e.id} was blamed: ${e.message}`)
    assert.equal(ran.get(e.id), 1)
  }
  // The killer itself returned before its timer threw: it is done; the
  // task running when the exception came (if any) is the one that failed.
  for (const e of events.filter((e) => e.taskType === 'THROWS')) assert.equal(e.message, 'thrown by the task')
  const failed = events.filter((e) => e.type === 'error' && e.taskType !== 'THROWS')
  for (const e of failed) assert.equal(e.code, 'ERR_WORKER_EXIT')
  assert.ok(failed.length <= 12, `${failed.length} tasks failed`)
})
