import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cpus, availableParallelism } from 'node:os'
import { run, start, reportsOf, alive, waitFor } from './helpers.mjs'

test('IPC: a task talks to the messageBroker once, with closeIPC, and chained', async () => {
  const result = await run('scenario.mjs', ['ipc'])
  assert.equal(result.code, 0, result.stderr)
  const done = Object.fromEntries(reportsOf(result, 'done').map((e) => [e.task.taskType, e.value]))
  assert.equal(done.SINGLE, 'worker got pong')
  assert.equal(done.CLOSE, 'closed with pong')
  assert.deepEqual(done.CHAINED, ['pong', 're:again'])
  const broker = reportsOf(result, 'broker').map((r) => r.msg)
  // As upstream, each message carries its worker's id (in an array).
  const [workerId] = broker[0].id
  assert.ok(Number.isInteger(workerId) && workerId > 0, `worker id ${workerId}`)
  assert.deepEqual(broker, [
    { id: [workerId], status: 4, data: 'ping' },
    { id: [workerId], status: 4, data: 'ping' },
    { id: [workerId], status: 4, data: 'ping' },
    { id: [workerId], status: 5, data: 'again' }
  ])
})

test('a worker that exits or is killed mid-task gives an error event, and a replacement serves on', async () => {
  const result = await run('scenario.mjs', ['crash'])
  assert.equal(result.code, 0, result.stderr)
  const errors = Object.fromEntries(reportsOf(result, 'error').map((e) => [e.task.taskType, e.value]))
  assert.equal(errors.EXIT.name, 'WorkerExitError')
  assert.match(errors.EXIT.message, /exited with code 3/)
  assert.equal(errors.EXIT.code, 'ERR_WORKER_EXIT')
  assert.equal(errors.EXIT.exitCode, 3)
  assert.match(errors.KILL.message, /killed by SIGKILL/)
  assert.equal(errors.KILL.signal, 'SIGKILL')
  const [ok] = reportsOf(result, 'done')
  assert.equal(ok.task.taskType, 'OK')
  assert.equal(typeof ok.value, 'number')
})

test('a task whose taskType the worker lacks ends in an error naming the type; the worker keeps serving', async () => {
  const result = await run('scenario.mjs', ['unknownType'])
  assert.equal(result.code, 0, result.stderr)
  const [error] = reportsOf(result, 'error')
  assert.equal(error.task.taskType, 'B')
  assert.match(error.value.message, /taskType "B"/)
  const [done] = reportsOf(result, 'done')
  assert.equal(done.task.taskType, 'A')
})

for (const [asked, expected, warning] of [
  [99, availableParallelism(), /cannot have 99 workers, setting max system available/],
  [0, 1, /cannot have 0 workers, setting initial value to 1/]
]) {
  test(`maxAvailableWorkers ${asked} is clamped to ${expected} with a warning`, async () => {
    const result = await run('scenario.mjs', ['clamp', String(asked)])
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stderr, warning)
    const pids = new Set(reportsOf(result, 'done').map((e) => e.value))
    assert.equal(reportsOf(result, 'done').length, 6)
    assert.ok(pids.size <= expected, `${pids.size} workers ran at once, at most ${expected} expected`)
    if (expected > 1) assert.ok(pids.size > 1, 'slow tasks were spread over several workers')
    assert.equal(reportsOf(result, 'maxWorkers')[0].max, cpus().length)
  })
}

async function keepAliveRun (mode) {
  const result = await run('scenario.mjs', ['keepAlive', mode], { timeout: 20000 })
  assert.equal(result.code, 0, result.stderr)
  const [closed] = reportsOf(result, 'closed')
  assert.equal(closed.exited, 1, 'one worker exited in all: no other was started, and close() stops a kept one')
  return result
}

test('without keepAlive an idle worker stops after refreshRate', async () => {
  const [{ stoppedAfter }] = reportsOf(await keepAliveRun('none'), 'idle')
  assert.ok(stoppedAfter >= 100, `stopped ${stoppedAfter} ms after its task, before refreshRate (100 ms)`)
})

test('keepAlive as a number keeps an idle worker that long, then stops it', async () => {
  const [{ stoppedAfter }] = reportsOf(await keepAliveRun('ms'), 'idle')
  assert.ok(stoppedAfter >= 1500, `stopped ${stoppedAfter} ms after its task, before keepAlive (1500 ms)`)
})

test("keepAlive 'always' keeps an idle worker until close(): a task due 2 s after the last one runs on the same worker", async () => {
  const [kept] = reportsOf(await keepAliveRun('always'), 'kept')
  assert.ok(kept.idleMs >= 2000, `the worker was idle ${kept.idleMs} ms`)
  assert.equal(kept.samePid, true, 'the second task ran in the same worker process')
  assert.equal(kept.workersStarted, 1, 'no worker was started for it')
  assert.equal(kept.workersExited, 0, 'none had exited')
})

test('a script that has finished its work exits by itself', async () => {
  // run() fails if the script is still up after 10 s.
  const result = await run('scenario.mjs', ['idleExit'], { timeout: 10000 })
  assert.equal(result.code, 0, result.stderr)
  assert.equal(reportsOf(result, 'done').length, 1)
})

test('workers exit when their master is killed with SIGKILL', async () => {
  const result = start('scenario.mjs', ['hang'])
  await result.until((r) => reportsOf(r, 'worker').length === 2, 'both workers ran a task (and hold a HANG now)')
  const pids = reportsOf(result, 'worker').map((r) => r.pid)
  assert.ok(pids.every(alive), 'workers run before the kill')
  result.child.kill('SIGKILL')
  await result.exited
  // Nothing announces another process's end: /proc is polled.
  assert.ok(await waitFor(() => !pids.some(alive), 5000), `orphan workers left: ${pids.filter(alive)}`)
})

test('workers whose master exits while they start leave quietly', async () => {
  const result = await run('scenario.mjs', ['exitWhileBooting'], { timeout: 15000 })
  const [spawned] = reportsOf(result, 'spawned')
  assert.ok(spawned, `the master did not see its workers spawn\n${result.stderr}`)
  assert.equal(result.code, 0, result.stderr)
  // run() returns once every process holding the output has ended, workers included.
  assert.doesNotMatch(result.stderr, /EPIPE|Unhandled|Error/, 'a worker printed an error')
})

test('with prefetch, a better task added later runs next: the worker hands back what it had not started', async () => {
  const result = await run('scenario.mjs', ['prefetchPriority'])
  assert.equal(result.code, 0, result.stderr)
  const [{ order }] = reportsOf(result, 'order')
  assert.deepEqual(order, ['WARM', 'SLOW0', 'URGENT', 'SLOW1', 'SLOW2', 'SLOW3', 'SLOW4', 'SLOW5'])
})

test('with prefetch, a worker that dies fails only the task it was running', async () => {
  const result = await run('scenario.mjs', ['prefetchCrash'])
  assert.equal(result.code, 0, result.stderr)
  const errors = reportsOf(result, 'error')
  assert.deepEqual(errors.map((e) => e.task.taskType), ['CRASH'])
  const ok = reportsOf(result, 'done').filter((e) => e.task.taskType === 'OK').map((e) => e.value)
  assert.deepEqual(ok, [0, 1, 2, 3, 4])
})

test('a finished task\'s done event does not wait for the task its worker runs next', async () => {
  const result = await run('scenario.mjs', ['replyBeforeNext'])
  assert.equal(result.code, 0, result.stderr)
  const values = Object.fromEntries(reportsOf(result, 'done').map((e) => [e.task.taskType, e.value]))
  assert.deepEqual(values, { FAST: 'fast', BLOCK: 'released' })
})

test('a worker left idle takes the tasks waiting behind another worker\'s long task', async () => {
  assert.ok(availableParallelism() >= 2, 'this test needs a machine with 2 CPUs or more')
  const result = await run('scenario.mjs', ['idleTakesPrefetched'])
  assert.equal(result.code, 0, result.stderr)
  const done = reportsOf(result, 'done')
  const long = done.find((e) => e.task.taskType === 'LONG').value
  assert.equal(long.gate, 'released', 'every SHORT ran while LONG was running')
  const shortPids = done.filter((e) => e.task.taskType === 'SHORT').map((e) => e.value)
  assert.equal(shortPids.length, 6)
  assert.ok(shortPids.every((pid) => pid !== long.pid), 'no SHORT waited behind LONG')
})

test('tasks with large data are sent ahead only up to about a MiB per worker', async () => {
  const result = await run('scenario.mjs', ['bigData'])
  assert.equal(result.code, 0, result.stderr)
  const [{ running }] = reportsOf(result, 'held')
  // 300 kB each: the running one plus what fits in a MiB, not all 20.
  assert.ok(running >= 2 && running <= 5, `the worker held ${running} runs`)
  const sizes = reportsOf(result, 'done').map((e) => e.value)
  assert.equal(sizes.length, 20)
  assert.ok(sizes.every((size) => size === 300000))
})

test('with prefetch, slow tasks still spread over every worker', async () => {
  assert.ok(availableParallelism() >= 2, 'this test needs a machine with 2 CPUs or more')
  const result = await run('scenario.mjs', ['prefetchSpread'])
  assert.equal(result.code, 0, result.stderr)
  const pids = new Set(reportsOf(result, 'done').map((e) => e.value))
  assert.equal(reportsOf(result, 'done').length, 6)
  assert.equal(pids.size, 2, 'both workers ran tasks')
})

test('a worker that never builds its Cluster is killed after workerStartTimeout, logged as a start failure, and another is tried', async () => {
  const result = start('scenario.mjs', ['neverReady'])
  const exited = (r) => {
    const stats = reportsOf(r, 'stats')
    return stats.length === 0 ? 0 : stats[stats.length - 1].stats.counters.workersExited
  }
  try {
    await result.until((r) => exited(r) >= 1 && /workers fail to start: worker 1 \(pid \d+\) did not get ready within workerStartTimeout \(500 ms\)/.test(r.stderr), 'a worker killed for starting too slowly', 15000)
    await result.until((r) => reportsOf(r, 'stats').some((s) => s.stats.counters.workersStarted >= 2), 'another worker started after it')
  } finally {
    result.child.kill('SIGKILL')
  }
  await result.exited
  assert.equal(reportsOf(result, 'done').length, 0)
})
