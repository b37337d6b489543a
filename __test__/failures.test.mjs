// Nothing fails silently: a misconfigured MongoDB URL is an error at once,
// an Atlas URL is resolved like any other, and a dispatcher that fails
// fails every pending call and lets the process go.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { run, reportsOf } from './helpers.mjs'

for (const [from, args, env] of [
  ['MONGO_URL', ['noDatabase', 'env'], { MONGO_URL: 'mongodb://127.0.0.1:27017' }],
  ['mongoUrl', ['noDatabase', 'option'], {}]
]) {
  test(`a ${from} without a database name fails new Cluster with a TypeError saying so`, async () => {
    const result = await run('failures.mjs', args, { timeout: 10000, env })
    assert.equal(result.code, 0, result.stderr)
    assert.equal(reportsOf(result, 'constructed').length, 0)
    const [threw] = reportsOf(result, 'threw')
    assert.equal(threw.name, 'TypeError')
    assert.equal(threw.code, 'ERR_INVALID_ARG')
    assert.match(threw.message, new RegExp(`${from}.*names no database`))
  })
}

test('a mongodb+srv URL is resolved when used: in-memory tasks run, a failed lookup is one "unavailable" warning', async () => {
  const result = await run('failures.mjs', ['srv'], { timeout: 30000, env: { MONGO_URL: '' } })
  assert.equal(result.code, 0, result.stderr)
  assert.equal(reportsOf(result, 'constructed').length, 1)
  const [persistent] = reportsOf(result, 'persistent')
  assert.equal(persistent.code, 'ERR_MONGO_UNAVAILABLE', persistent.message)
  assert.match(persistent.message, /TaskQueue\.addTask/)
  assert.equal(reportsOf(result, 'memory')[0].value, 'ran')
  const warnings = result.stderr.match(/persistent queue unavailable/g) || []
  assert.equal(warnings.length, 1, result.stderr)
})

test('a dispatcher that fails rejects every pending call, settles close(), and lets the process exit', async () => {
  const result = await run('failures.mjs', ['dispatcherFails'], { timeout: 20000, env: { MONGO_URL: '' } })
  assert.equal(result.code, 0, result.stderr)
  const [thrown] = reportsOf(result, 'thrown')
  assert.equal(thrown.code, 'ERR_DISPATCHER_FAILED')
  assert.match(thrown.message, /failure injected by a test/)
  const [pending] = reportsOf(result, 'pendingCall')
  assert.equal(pending.code, 'ERR_DISPATCHER_FAILED')
  assert.equal(reportsOf(result, 'closed').length, 1, 'close() settled')
  assert.equal(reportsOf(result, 'later')[0].code, 'ERR_DISPATCHER_FAILED')
  assert.match(result.stderr, /dispatcher stopped: .*failure injected by a test/)
  assert.match(result.stderr, /TaskQueue\.addTask failed and nothing awaited or caught it/, 'the unawaited add is logged')
})

test('a failed hand-over of buffered adds rejects each of them, is logged once, and leaves no unhandled rejection', async () => {
  const result = await run('failures.mjs', ['handOverFails'], { timeout: 20000, env: { MONGO_URL: '' } })
  assert.equal(result.code, 0, result.stderr)
  assert.match(reportsOf(result, 'awaited')[0].message, /hand-over refused by a test/)
  assert.equal(typeof reportsOf(result, 'after')[0].id, 'string', 'the next hand-over works')
  assert.equal(result.stderr.match(/4 in-memory tasks could not be queued/g).length, 1, result.stderr)
  assert.doesNotMatch(result.stderr, /Unhandled|unhandledRejection|triggerUncaughtException/)
})
