// `new Cluster` options as upstream accepted them, in real masters and workers.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cpus } from 'node:os'
import { run, reportsOf } from './helpers.mjs'

const ALL_CPUS = 'you should not use all the cpus, read more https://github.com/nathanschwarz/meteor-cluster/blob/main/README.md#cpus-allocation'
const options = (scenario, args = [], env = {}) => run('options.mjs', [scenario, ...args], { env: { MONGO_URL: '', ...env } })
const count = (text, part) => text.split(part).length - 1

test('numeric strings work for port, maxAvailableWorkers, refreshRate and keepAlive; a logs value other than "all" logs only warnings and errors', async () => {
  const result = await options('strings')
  assert.equal(result.code, 0, result.stderr)
  const done = reportsOf(result, 'done')
  assert.equal(done.length, 3)
  assert.ok(done.every((d) => d.port === '4567'), `workers got PORT ${done.map((d) => d.port)}`)
  assert.equal(new Set(done.map((d) => d.pid)).size, 1, "maxAvailableWorkers '1' means one worker")
  assert.doesNotMatch(result.stdout, /nschwarz:cluster:ENV:.* started/, 'no task lines')
  assert.equal(count(result.stderr, 'logs should be "all", "error" or "json" (got string "verbose"); logging only warnings and errors'), 1, result.stderr)
  assert.doesNotMatch(result.stderr, /port should|maxAvailableWorkers should|refreshRate should|keepAlive should/)
})

for (const [inMemoryOnly, expected] of [['false', false], ['true', true]]) {
  test(`values upstream silently got wrong are warned about once and replaced (inMemoryOnly "${inMemoryOnly}" means ${expected})`, async () => {
    const result = await options('garbage', [inMemoryOnly])
    assert.equal(result.code, 0, result.stderr)
    for (const warning of [
      'port should be an integer from 0 to 65535 (got string "abc"); using 3008',
      `maxAvailableWorkers should be an integer (got string "lots"); using ${cpus().length}, the CPU count`,
      'refreshRate should be a positive number of ms (got string "fast"); using 1000',
      `inMemoryOnly should be a boolean (got string "${inMemoryOnly}"); using ${expected}`,
      'messageBroker should be a function (respond, msg) => ... (got string "nope"); ignoring it',
      'autoInitialize should be a boolean (got string "yes"); using true',
      'logs should be "all", "error" or "json" (got null); logging only warnings and errors',
      ALL_CPUS
    ]) {
      assert.equal(count(result.stderr, warning), 1, `expected once: ${warning}\n${result.stderr}`)
    }
    const [done] = reportsOf(result, 'done')
    assert.equal(done.port, '3008')
    const [persistent] = reportsOf(result, 'persistent')
    assert.match(persistent.message, expected ? /inMemoryOnly/ : /set MONGO_URL/)
    assert.equal(persistent.code, 'ERR_NO_PERSISTENT_QUEUE')
  })
}

for (const asked of ['default', String(cpus().length), '1']) {
  const warns = asked !== '1' || cpus().length === 1
  test(`maxAvailableWorkers ${asked}: ${warns ? "upstream's all-CPUs warning, once" : 'no all-CPUs warning'}`, async () => {
    const result = await options('allCpus', [asked])
    assert.equal(result.code, 0, result.stderr)
    assert.equal(count(result.stderr, ALL_CPUS), warns ? 1 : 0, result.stderr)
    assert.equal(reportsOf(result, 'done').length, 1)
  })
}

test('Cluster.maxWorkers() and the default worker count come from os.cpus() where os.availableParallelism is missing (Node 14)', async () => {
  const result = await options('node14')
  assert.equal(result.code, 0, result.stderr)
  const [{ maxWorkers, cpus: count }] = reportsOf(result, 'cpus')
  assert.equal(maxWorkers, count)
  assert.equal(reportsOf(result, 'done').length, 2)
})

test('an option or a task field meteor-cluster does not know is warned about once, naming the closest known one, and ignored', async () => {
  const result = await options('typos')
  assert.equal(result.code, 0, result.stderr)
  for (const warning of [
    'new Cluster: the option "refreshrate" is not one meteor-cluster knows; it is ignored (did you mean refreshRate?)',
    'new Cluster: the option "keepalive" is not one meteor-cluster knows; it is ignored (did you mean keepAlive?)',
    'new Cluster: the option "frobnicate" is not one meteor-cluster knows; it is ignored\n',
    'TaskQueue.addTask: the task field "priorty" is not one meteor-cluster knows; it is ignored (did you mean priority?)',
    'TaskQueue.addTask: the task field "dueData" is not one meteor-cluster knows; it is ignored (did you mean dueDate?)'
  ]) {
    assert.equal(count(result.stderr, warning), 1, `expected once: ${warning}\n${result.stderr}`)
  }
})

test('setRefreshRate takes a numeric string, and warns about garbage instead of throwing', async () => {
  const result = await options('setRefreshRate')
  assert.equal(result.code, 0, result.stderr)
  assert.deepEqual(reportsOf(result, 'setRefreshRate')[0], { kind: 'setRefreshRate', numeric: 'ok', garbage: 'ok' })
  assert.match(result.stderr, /refreshRate should be a positive number of ms \(got string "fast"\); using 500/)
})
