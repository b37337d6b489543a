// The package on the oldest and a newer supported Node: Node 14.21.3
// (Meteor 2) and Node 22, binaries from the npm registry installed by
// scripts/node-versions.mjs (npm test does it, scripts/ensure-test-deps.mjs). A missing binary fails, with
// the command that installs it.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { run, reportsOf } from './helpers.mjs'
import { setup, teardown, freshUrl, withDb } from './mongo.mjs'
import { NODE_VERSIONS, HOW_TO_INSTALL, nodeBinary, nodeModules } from '../scripts/node-versions.mjs'

before(setup)
after(teardown)

function binary (major) {
  const path = nodeBinary(major)
  assert.ok(path, `Node ${NODE_VERSIONS[major]} is not installed; run \`${HOW_TO_INSTALL}\``)
  return path
}

for (const major of [14, 22]) {
  test(`on Node ${NODE_VERSIONS[major]}, a pool runs in-memory and persistent tasks and an IPC round trip`, async () => {
    const node = `v${NODE_VERSIONS[major]}`
    const url = freshUrl()
    const result = await run('smoke.mjs', [], { execPath: binary(major), timeout: 60000, env: { MONGO_URL: url } })
    assert.equal(result.code, 0, `the smoke run failed on Node ${node}:\n${result.stderr}`)
    const [master] = reportsOf(result, 'master')
    assert.equal(master.node, node, 'the master ran on that Node')
    assert.deepEqual(reportsOf(result, 'error'), [], 'no task failed')

    const done = reportsOf(result, 'done')
    const byType = (type) => done.filter((e) => e.task.taskType === type)
    assert.deepEqual(byType('DOUBLE').map((e) => e.value.doubled).sort(), [2, 4, 6, 8])
    for (const { value } of byType('DOUBLE')) {
      assert.equal(value.node, node, 'the workers run on the same Node')
      assert.notEqual(value.pid, master.pid, 'in processes of their own')
    }
    assert.deepEqual(byType('ASK').map((e) => e.value), [`ping back from the master on ${node}`])
    assert.deepEqual(byType('STORED').map((e) => e.value.at.__date).sort(),
      ['1970-01-02T00:00:00.000Z', '1970-01-03T00:00:00.000Z'], 'persistent tasks ran, Dates intact')

    const [stored] = reportsOf(result, 'stored')
    assert.equal(stored.count, 1, 'only the parked task is left')
    assert.equal(stored.parked._id, 'parked')
    await withDb(url, async (db) => {
      const docs = await db.collection('taskQueue').find().toArray()
      assert.deepEqual(docs.map((d) => [d._id, d.taskType, d.onGoing]), [['parked', 'STORED', false]],
        'the database holds what the master wrote, in upstream\'s shape')
    })
  })
}

test(`fibers 5.0.3 loads on Node ${NODE_VERSIONS[14]} from the same cache (for the Meteor 2 tests)`, () => {
  const fibers = spawnSync(binary(14), ['-e', "const Fiber = require('fibers'); Fiber(() => console.log(Fiber.current ? 'in a fiber' : 'no fiber')).run()"], {
    env: { ...process.env, NODE_PATH: nodeModules(14) },
    encoding: 'utf8'
  })
  assert.equal(fibers.status, 0, fibers.stderr)
  assert.equal(fibers.stdout.trim(), 'in a fiber')
})

test(`a Meteor 2 server (fibers, Node ${NODE_VERSIONS[14]}): task functions, listeners and the messageBroker run in a fiber`, async () => {
  const result = await run('fibers-app.mjs', [], {
    execPath: binary(14),
    timeout: 60000,
    env: { FIBERS: join(nodeModules(14), 'fibers') }
  })
  assert.equal(result.code, 0, `the fibers app failed:\n${result.stderr}`)
  const [report] = reportsOf(result, 'values')
  assert.ok(report, `the app reported no values:\n${result.stderr}`)
  assert.equal(report.node, `v${NODE_VERSIONS[14]}`)
  assert.deepEqual([...report.values].sort(), ['task 1', 'worker got broker saw ping'],
    'each callback yielded its fiber (a synchronous Meteor call) and got its result')
})
