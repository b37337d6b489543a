// Issue 32: large payloads arrive whole, with their types, both ways: a
// task's data in its worker, the value it returns, and the done event's
// task data, compared by digest (fixtures/digest.mjs: types, key order,
// lengths and a hash of every string and byte) with the data added.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { run, reportsOf } from './helpers.mjs'
import { setup, teardown, freshUrl } from './mongo.mjs'
import { digest, text, bytes } from './fixtures/digest.mjs'
import { NODE_VERSIONS, HOW_TO_INSTALL, nodeBinary } from '../scripts/node-versions.mjs'

before(setup)
after(teardown)

/** Checks every case the fixture reported: what arrived is what was added. */
function assertWhole (result, expectedCases) {
  assert.equal(result.code, 0, result.stderr)
  assert.deepEqual(reportsOf(result, 'error'), [], 'no task failed')
  const cases = reportsOf(result, 'case')
  assert.deepEqual(cases.map((c) => `${c.kase} ${c.how}`).sort(), expectedCases.sort())
  for (const c of cases) {
    const what = `${c.kase} (${c.how})`
    assert.equal(c.got, c.expected, `${what}: the worker got the data as added`)
    assert.equal(c.echoed, c.expected, `${what}: the value it returned arrived whole`)
    assert.equal(c.taskData, c.expected, `${what}: the done event's task has the data as added`)
    assert.equal(c.progressData, c.expected, `${what}: the progress event's task has the data as added`)
  }
}

test('the digest tells types, lengths and contents apart', () => {
  const values = [
    { s: text(100) }, { s: text(101) }, { s: text(100, 1) }, { s: 'x'.repeat(100) },
    { b: bytes(10) }, { b: Buffer.from(bytes(10)) }, { b: bytes(10, 1) }, { b: [...bytes(10)] },
    { a: 1, b: 2 }, { b: 2, a: 1 }, { d: new Date(1) }, { d: new Date(2) }, { d: 1 }
  ]
  const digests = values.map(digest)
  assert.equal(new Set(digests).size, values.length)
  assert.equal(digest({ s: text(100) }), digests[0])
})

// On this Node, and on Node 14 (Meteor 2, which has no isWellFormed and
// so finds well-formed strings its own way) and Node 22.
for (const major of [null, 14, 22]) {
  const on = major === null ? '' : ` (Node ${NODE_VERSIONS[major]})`
  const execPath = () => {
    if (major === null) return process.execPath
    const path = nodeBinary(major)
    assert.ok(path, `Node ${NODE_VERSIONS[major]} is not installed; run \`${HOW_TO_INSTALL}\``)
    return path
  }

  test(`in memory, large strings, binaries and nested data arrive whole both ways, however the task is added${on}`, async () => {
    const result = await run('payloads.mjs', ['memory'], { execPath: execPath(), timeout: 120000 })
    const cases = []
    for (const kase of ['ascii', 'unicode', 'binary', 'nested', 'small']) {
      for (const how of ['addTask', 'addTask with an _id', 'addTask in a group', 'addTasks']) cases.push(`${kase} ${how}`)
    }
    cases.push('unicode from a worker')
    assertWhole(result, cases)
  })

  test(`after tasks of 50 MB in and out, the master and the worker give the memory back once collected${on}`, async () => {
    const result = await run('payloads.mjs', ['memoryBack'], { execPath: execPath(), timeout: 120000 })
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(reportsOf(result, 'error'), [], 'no task failed')
    const [{ before, after, lengths }] = reportsOf(result, 'memory')
    const MB = 1024 * 1024
    assert.deepEqual(lengths, [0, 0, 1, 1, 2, 2].map((i) => 50 * MB + i), 'every byte arrived')
    // Each task moved 50 MB: keeping even one payload's memory shows.
    for (const side of ['master', 'worker']) {
      assert.ok(after[side] - before[side] < 25, `the ${side}'s RSS came back: ${before[side]} MB before, ${after[side]} MB after`)
    }
  })
}

test('persistent tasks carry large strings, binaries and nested data through MongoDB whole', async () => {
  const result = await run('payloads.mjs', ['persistent'], { timeout: 120000, env: { MONGO_URL: freshUrl() } })
  assertWhole(result, ['unicode persistent', 'binary persistent', 'nested persistent'])
})

test('a persistent task over MongoDB\'s 16 MB is refused before anything is sent, with its _id, type, size and the limit', async () => {
  const result = await run('payloads.mjs', ['tooLarge'], { timeout: 120000, env: { MONGO_URL: freshUrl() } })
  assert.equal(result.code, 0, result.stderr)
  const [{ one, many, stored }] = reportsOf(result, 'refused')
  for (const [refused, call, id, index] of [[one, 'addTask', 'big-one', ''], [many, 'addTasks', 'big-two', 'tasks[1]: ']]) {
    assert.equal(refused.ok, false, `${call} is refused`)
    assert.equal(refused.code, 'ERR_DOCUMENT_TOO_LARGE')
    assert.equal(refused.name, 'TaskQueueError')
    assert.match(refused.message, new RegExp(`^TaskQueue\\.${call}: ${index.replace(/[[\]]/g, '\\$&')}task "${id}" \\(PARKED\\) is [\\d,]+ bytes \\(1[67]\\.\\d MB\\) as a MongoDB document, more than the 16,777,216 bytes \\(16 MB\\) MongoDB stores in one`))
    assert.doesNotMatch(refused.message, /Error \{|kind:|BsonError|Io\(/, 'no driver debug text')
  }
  assert.deepEqual(stored, ['fits'], 'the task that fits is stored, neither large one was sent')
})
