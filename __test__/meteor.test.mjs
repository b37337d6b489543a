// Inside a Meteor app, workers behave as upstream's node:cluster workers:
// the app sees `cluster.isWorker`, their web servers take nothing from the
// master's port or socket, and they take tasks only once the app started.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { run, reportsOf } from './helpers.mjs'

function freePort () {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

async function meteorApp (env) {
  const result = await run('meteor-app.mjs', [], { timeout: 60000, env })
  assert.equal(result.code, 0, result.stderr)
  assert.doesNotMatch(result.stderr, /EADDRINUSE|exited with|was killed/, 'no worker died')
  const [stats] = reportsOf(result, 'stats')
  assert.equal(stats.stats.counters.workersStarted, 2, 'two workers, no respawn loop')
  assert.equal(stats.stats.counters.workersExited, 0)
  assert.equal(reportsOf(result, 'taskError').length, 0)
  assert.deepEqual(reportsOf(result, 'probe').map((r) => r.value), ['probed'], 'the PROBE task waited for the master to probe its server')
  return result
}

function assertWorkersAreClusterWorkers (result) {
  const who = reportsOf(result, 'who').map((r) => r.value)
  assert.equal(who.length, 2)
  for (const w of who) {
    assert.equal(w.isWorker, true)
    assert.equal(w.isMaster, false)
    assert.equal(w.isPrimary, false)
    assert.ok(Number.isInteger(w.id) && w.id > 0, `cluster.worker.id is ${w.id}`)
    assert.ok(w.appStartedAt !== null && w.appStartedAt <= w.ranAt, 'the task ran after the startup hooks')
  }
  if (who[0].pid !== who[1].pid) assert.notEqual(who[0].id, who[1].id, 'live workers have distinct ids')
}

test('with webapp listening on PORT in every process, the master answers on its port before, while and after workers run tasks, and no worker dies', async () => {
  const port = await freePort()
  const result = await meteorApp({ PORT: String(port), UNIX_SOCKET_PATH: '' })
  for (const when of ['before', 'during', 'after']) {
    assert.match(reportsOf(result, when)[0].answer, /^master \d+$/, `the master answers on its port ${when} the work`)
  }
  assert.ok(reportsOf(result, 'during')[0].running > 0, 'probed while a worker ran a task')
  assertWorkersAreClusterWorkers(result)
})

test('with webapp on UNIX_SOCKET_PATH in every process, the master answers on its socket before, while and after workers run tasks, and workers bind none', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meteor-cluster-sock-'))
  try {
    const result = await meteorApp({ UNIX_SOCKET_PATH: join(dir, 'app.sock'), PORT: String(await freePort()) })
    for (const when of ['before', 'during', 'after']) {
      assert.match(reportsOf(result, when)[0].answer, /^master \d+$/, `the master answers on its socket ${when} the work`)
    }
    assert.ok(reportsOf(result, 'during')[0].running > 0, 'probed while a worker ran a task')
    assert.deepEqual(reportsOf(result, 'during')[0].workerSockets, [], 'no worker socket file exists')
    assertWorkersAreClusterWorkers(result)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
