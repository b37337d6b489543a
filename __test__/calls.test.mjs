// Upstream's call styles against a real database, in real masters and workers.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { run, start, finished, reportsOf } from './helpers.mjs'
import { setup, teardown, freshUrl } from './mongo.mjs'

before(setup)
after(teardown)

const calls = (scenario, args = [], env = {}) =>
  run('calls.mjs', [scenario, ...args], { timeout: 60000, env: { MONGO_URL: freshUrl(), ...env } })

const codeOf = (outcome) => outcome && outcome.error && outcome.error.code

function checkCallbacks (out, where) {
  assert.equal(out.callbacks, out.calls, `${where}: each callback was called exactly once`)
  for (const [name, outcome] of Object.entries(out)) {
    if (outcome === null || typeof outcome !== 'object' || !('returnsPromise' in outcome)) continue
    assert.equal(outcome.returnsPromise, true, `${where} ${name}: the call still returns a Promise`)
    // The promise settles as the callback was told.
    if (outcome.error) assert.deepEqual(outcome.awaited.error, outcome.error, `${where} ${name}`)
    else assert.deepEqual(outcome.awaited.value, outcome.result, `${where} ${name}`)
  }
  const id = out.added.result
  assert.equal(out.added.error, null)
  assert.match(id, /Callback/)
  assert.equal(codeOf(out.duplicate), 'ERR_DUPLICATE_ID')
  assert.match(out.duplicate.error.message, /already exists/)
  assert.equal(codeOf(out.badTask), 'ERR_INVALID_ARG', 'bad addTask arguments reach the callback instead of throwing')
  assert.equal(out.found.result._id, id)
  assert.deepEqual(out.foundWithOptions.result, { _id: id, data: { n: 1 } })
  assert.equal(out.missing.error, null)
  assert.equal(out.missing.isUndefined, true, 'findOne of nothing gives undefined')
  assert.equal(out.missing.args, 2, 'as (null, undefined)')
  assert.equal(out.counted.result, 1)
  assert.equal(out.updated.result, 1)
  assert.equal(out.updatedWithOptions.result, 1)
  assert.equal(codeOf(out.badUpdate), 'ERR_INVALID_ARG')
  assert.deepEqual(out.fetched.result.map((t) => t.data.n), [3])
  assert.equal(out.cursorCount.result, 1)
  assert.equal(out.forEach.error, null)
  assert.deepEqual(out.seen, [3])
  assert.deepEqual(out.map.result, [3])
  assert.equal(out.removed.result, 1)
}

test('addTask, findOne, count, update, remove and the cursor methods take a trailing (err, result) callback, in the master and in workers, and still return a Promise', async () => {
  const result = await calls('callbacks')
  assert.equal(result.code, 0, result.stderr)
  const [master] = reportsOf(result, 'master')
  checkCallbacks(master, 'master')
  assert.equal(master.inMemory.error, null)
  assert.equal(typeof master.inMemory.result, 'string', 'an in-memory addTask calls back with its _id')
  const [worker] = reportsOf(result, 'worker')
  assert.ok(worker, `the worker's task did not finish\n${result.stderr}`)
  checkCallbacks(worker, 'worker')
  assert.doesNotMatch(result.stderr, /nothing awaited or caught/, 'a failure given to a callback is not logged')
})

test('a failed call nobody awaits is logged once and never an unhandled rejection: an unawaited duplicate addTask leaves the master and the worker running', async () => {
  const master = start('calls.mjs', ['unhandled'], { env: { MONGO_URL: freshUrl() } })
  const lines = (r, pattern) => r.stderr.split('\n').filter((line) => pattern.test(line))
  const duplicates = (r) => lines(r, /TaskQueue\.addTask failed.*"uniqueTaskId00001" already exists.*\[ERR_DUPLICATE_ID\]/)
  // The master waits at each step for the test to see its log lines.
  try {
    await master.until((r) => lines(r, /failed and nothing awaited or caught it/).length >= 4, "the master's four unawaited failures are logged")
    master.tell('four failures logged')
    await master.until((r) => reportsOf(r, 'late').length === 1 && duplicates(r).length >= 2, 'the late duplicate is logged')
    master.tell('late failure logged')
    await master.until((r) => reportsOf(r, 'worker').length === 1 && duplicates(r).length >= 3, "the worker's duplicate is logged")
    master.tell("worker's failure logged")
  } catch (error) {
    master.child.kill('SIGKILL')
    throw error
  }
  const result = await finished(master, 60000)
  assert.equal(result.code, 0, result.stderr)
  assert.equal(result.signal, null)
  assert.doesNotMatch(result.stderr, /Unhandled|unhandledRejection|triggerUncaughtException/)
  assert.ok(reportsOf(result, 'alive').length === 1, 'the master lived on')
  const logged = lines(result, /failed and nothing awaited or caught it/)
  // The master's unawaited duplicate, the late one, and the worker's.
  assert.equal(duplicates(result).length, 3, logged.join('\n'))
  assert.equal(lines(result, /TaskQueue\.addTask failed.*"uniqueInMemory001" already exists.*\[ERR_DUPLICATE_ID\]/).length, 1, logged.join('\n'))
  assert.equal(lines(result, /TaskQueue\.update failed.*mixes update operators \(\$set\) with plain fields \(plain\).*\[ERR_INVALID_ARG\]/).length, 1)
  assert.equal(lines(result, /TaskQueue\.find\(\)\.fetch failed.*limit must be a non-negative integer.*\[ERR_INVALID_ARG\]/).length, 1)
  assert.equal(logged.length, 6, `nothing else is logged (a cursor never read does not run):\n${logged.join('\n')}`)
  assert.match(logged[0], /nschwarz:cluster:ERROR/)

  const [{ awaited, lateError, chained, viaAll }] = reportsOf(result, 'awaited')
  assert.equal(awaited.code, 'ERR_DUPLICATE_ID', 'await still rejects')
  assert.equal(lateError.code, 'ERR_DUPLICATE_ID', 'a then() after the failure still gets it')
  assert.equal(chained.code, 'ERR_INVALID_ARG')
  assert.deepEqual(viaAll, ['uniqueTaskId00001', 1], 'the promises work in Promise.all')
  const [worker] = reportsOf(result, 'worker')
  assert.ok(worker, `the worker's task did not finish\n${result.stderr}`)
  assert.equal(typeof worker.pid, 'number')
})

test('find() returns a cursor: fetch, forEach, map and count and their Async forms, await, for await, with Meteor\'s sort forms, fields, skip and limit', async () => {
  const result = await calls('cursor')
  assert.equal(result.code, 0, result.stderr)
  const [out] = reportsOf(result, 'cursor')
  const best = ['cursorTask0', 'cursorTask3', 'cursorTask2', 'cursorTask1']
  assert.equal(out.isPromise, false, 'a cursor, which reads nothing until asked')
  for (const key of ['fetch', 'fetchAsync', 'awaited', 'forEachAsync', 'iterated']) assert.deepEqual(out[key], best, key)
  assert.equal(out.then, 4)
  assert.deepEqual(out.forEach, best.map((id, i) => [id, i, true]), 'forEach(task, index, cursor)')
  assert.equal(out.forEachResult, undefined)
  assert.equal(out.thisArg, 4, 'forEach(fn, thisArg)')
  assert.deepEqual(out.map, ['t0@0', 't3@1', 't2@2', 't1@3'])
  assert.deepEqual(out.mapAsync, [3, 3, 2, 1], 'mapAsync awaits each result')
  assert.equal(out.count, 4)
  assert.equal(out.countAsync, 4)
  assert.deepEqual(out.page, ['cursorTask2', 'cursorTask0'], 'sort, skip and limit')
  assert.equal(out.pageCount, 4, 'count() ignores skip and limit, as in Meteor')
  assert.equal(out.pageCountApplied, 2, 'count(true) applies them')
  assert.deepEqual(out.sortMixedForm, ['cursorTask3', 'cursorTask0', 'cursorTask2', 'cursorTask1'], "sort ['a', ['b', 'desc']]")
  assert.deepEqual(out.sortWords, ['cursorTask1', 'cursorTask2', 'cursorTask3', 'cursorTask0'], "sort { a: 'asc', b: 'desc' }")
  assert.deepEqual(out.fields, ['_id', 'data'])
  assert.deepEqual(out.projection, ['_id', 'dueDate', 'onGoing', 'priority', 'taskType'])
  assert.equal(out.findOneSorted, 'cursorTask1')
  assert.equal(out.findOneSkipped, 'cursorTask3')
  assert.deepEqual(out.stringId, { i: 2, label: 't2' }, 'a string selector is an _id')
  assert.deepEqual(out.regexpSelector, ['cursorTask1', 'cursorTask3'], 'a RegExp value matches as a BSON regex, flags included')
  assert.equal(out.regexpCount, 2, 'a RegExp under $regex too')
  assert.equal(out.findAll, 4)
  assert.equal(out.findUndefined, 0, 'find(undefined) matches nothing, as in Meteor')
  assert.equal(out.findOneUndefined, true)
  assert.equal(out.removeUndefinedId, 0, 'remove({ _id: undefined }) removes nothing')
  assert.equal(out.updateNullId, 0)
  assert.equal(out.countAfter, 4)

  const { errors } = out
  for (const name of ['sortAmbiguous', 'sortDirection', 'mixedFields', 'negativeLimit', 'unknownOption', 'arraySelector', 'findCallback', 'iteratee', 'transform']) {
    assert.equal(errors[name] && errors[name].code, 'ERR_INVALID_ARG', `${name}: ${JSON.stringify(errors[name])}`)
  }
  assert.match(errors.sortAmbiguous.message, /pair them: \[\["field", "desc"\]\]/)
  assert.match(errors.sortDirection.message, /sort direction of "_id"/)
  assert.match(errors.mixedFields.message, /includes "data" and excludes "priority"/)
  assert.match(errors.unknownOption.message, /unsupported option "colation"/)
  assert.match(errors.findCallback.message, /takes no callback/)
  assert.deepEqual(errors.iterateeThrows, { name: 'RangeError', message: 'from the iteratee' })
})

test('update replaces a document given no operators, upserts under Meteor-style string ids, and refuses what Meteor would not take, naming it', async () => {
  const result = await calls('updates')
  assert.equal(result.code, 0, result.stderr)
  const [out] = reportsOf(result, 'updates')
  const meteorId = /^[23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz]{17}$/
  assert.equal(out.replaced, 1)
  assert.deepEqual(out.replacement, { _id: 'replaceMe0000001', taskType: 'PARKED', priority: 9, data: { replaced: true } },
    'the replacement keeps the _id and nothing else of the old document')
  assert.equal(out.upserted, 1)
  assert.match(out.upsertedDoc._id, meteorId)
  assert.deepEqual(out.upsertedDoc.data, { key: 'k1' }, "the inserted document takes the selector's fields")
  assert.equal(out.upsertedDoc.priority, 2)
  assert.equal(out.upsertedAgain, 1)
  assert.equal(out.upsertedCount, 1, 'the second upsert matched the first one')
  assert.deepEqual(out.upsertById, { numberAffected: 1, insertedId: 'upsertById000001' })
  assert.deepEqual(out.upsertByIdAgain, { numberAffected: 1 })
  assert.match(out.upsertReplacement.insertedId, meteorId)
  assert.deepEqual(out.upsertReplacementDoc, { _id: out.upsertReplacement.insertedId, taskType: 'REPLACED', priority: 7, data: {} })
  assert.deepEqual(out.upsertReplacementAgain, { numberAffected: 1 })
  assert.match(out.upsertNothing.insertedId, meteorId)
  assert.equal(out.multi, 2)
  assert.equal(out.single, 1)
  assert.equal(out.flagged, 2)

  const { errors } = out
  for (const [name, error] of Object.entries(errors)) assert.equal(error && error.code, 'ERR_INVALID_ARG', `${name}: ${JSON.stringify(error)}`)
  assert.match(errors.mixed.message, /mixes update operators \(\$set\) with plain fields \(priority\)/)
  assert.match(errors.replacementMulti.message, /cannot be used with multi: true/)
  assert.match(errors.unknownOperator.message, /unknown update operator \$frobnicate/)
  assert.match(errors.notAnObject.message, /modifier must be an object/)
  assert.match(errors.unknownOption.message, /unsupported update option "upsret"/)
  assert.match(errors.removeNothing.message, /\{\} removes all/)
  assert.match(errors.functionInSelector.message, /selector\.taskType is a function/)
})

test('failed calls carry a stable code: ERR_MONGO_UNAVAILABLE, ERR_NO_PERSISTENT_QUEUE, ERR_DUPLICATE_ID, ERR_INVALID_ARG', async () => {
  const [unreachable, inMemoryOnly, noUrl] = await Promise.all([
    calls('codes', [], { MONGO_URL: 'mongodb://127.0.0.1:9/none' }),
    calls('codes', ['inMemoryOnly']),
    calls('codes', [], { MONGO_URL: '' })
  ])
  for (const [result, code, message] of [
    [unreachable, 'ERR_MONGO_UNAVAILABLE', /Server selection timeout/],
    [inMemoryOnly, 'ERR_NO_PERSISTENT_QUEUE', /inMemoryOnly/],
    [noUrl, 'ERR_NO_PERSISTENT_QUEUE', /set MONGO_URL/]
  ]) {
    assert.equal(result.code, 0, result.stderr)
    const [out] = reportsOf(result, 'codes')
    for (const call of ['findOne', 'count', 'addTask', 'update']) {
      assert.equal(out[call] && out[call].code, code, `${call}: ${JSON.stringify(out[call])}`)
      assert.match(out[call].message, message)
      assert.doesNotMatch(out[call].message, /\[ERR_/, 'the code is not left in the message')
    }
    assert.deepEqual(out.thrown, { name: 'TypeError', message: 'TaskQueue.addTask: priority must be an integer, got string "high"', code: 'ERR_INVALID_ARG' })
    assert.equal(out.memoryDuplicate.code, 'ERR_DUPLICATE_ID')
  }
  assert.ok(reportsOf(unreachable, 'codes')[0].ms < 15000)
})
