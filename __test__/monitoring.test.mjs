// What operators collect, from the public API with real workers: the
// Prometheus metrics (parsed, each counter checked against what happened,
// and never going down), prom-client's registry, JSON log lines, and
// OpenTelemetry traces from an add to its run (in memory, through MongoDB,
// and across two masters).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { run, start, finished, reportsOf } from './helpers.mjs'
import { setup, teardown, freshUrl } from './mongo.mjs'

before(setup)
after(teardown)

const only = (result, kind) => {
  assert.equal(result.code, 0, `${result.stderr}\n${result.stdout}`)
  const [report] = reportsOf(result, kind)
  assert.ok(report, `the fixture reported ${kind}`)
  return report
}

/** Exposition text as `{ 'name{k="v",…}': value }`, with its `# TYPE`s. */
function parse (text) {
  const samples = {}
  const types = {}
  for (const line of text.split('\n')) {
    if (line === '') continue
    const type = line.match(/^# TYPE (\S+) (counter|gauge|histogram)$/)
    if (type) {
      types[type[1]] = type[2]
      continue
    }
    if (line.startsWith('# HELP ')) continue
    const sample = line.match(/^([a-z_]+)(\{[^}]*\})? (\S+)$/)
    assert.ok(sample, `a sample line: ${line}`)
    samples[`${sample[1]}${sample[2] || ''}`] = Number(sample[3])
  }
  return { samples, types }
}

const finished_ = (type, outcome, queue = 'memory') => `meteor_cluster_tasks_finished_total{task_type="${type}",queue="${queue}",outcome="${outcome}"}`

test('cluster.metrics(): Prometheus text whose counters match what happened (done, failed, retried, timed out, cancelled, a worker crash) and never go down; prom-client gets the same series; a worker is refused', async () => {
  const r = only(await run('monitoring.mjs', ['metrics'], { env: { MONGO_URL: '' }, timeout: 60000 }), 'scrapes')
  const [first, middle, last] = r.scrapes.map(parse)
  for (const [name, type] of Object.entries({
    meteor_cluster_tasks_added_total: 'counter',
    meteor_cluster_tasks_finished_total: 'counter',
    meteor_cluster_worker_exits_total: 'counter',
    meteor_cluster_task_run_seconds: 'histogram',
    meteor_cluster_task_wait_seconds: 'histogram',
    meteor_cluster_queue_depth: 'gauge',
    meteor_cluster_running_tasks: 'gauge',
    meteor_cluster_workers: 'gauge'
  })) assert.equal(last.types[name], type, name)
  assert.equal(first.samples['meteor_cluster_worker_exits_total{reason="crashed"}'], 0, 'counters start at 0')
  const m = middle.samples
  assert.equal(m['meteor_cluster_tasks_added_total{task_type="OK",queue="memory"}'], 2)
  assert.equal(m[finished_('OK', 'done')], 2)
  assert.equal(m[finished_('THROW', 'failed')], 1)
  assert.equal(m[finished_('FLAKY', 'retried')], 1, 'a failed attempt that runs again is retried...')
  assert.equal(m[finished_('FLAKY', 'done')], 1, '...and its next attempt done')
  assert.equal(m[finished_('FLAKY', 'failed')], 0)
  assert.equal(m['meteor_cluster_task_run_seconds_count{task_type="OK"}'], 2)
  assert.equal(m['meteor_cluster_task_run_seconds_bucket{task_type="OK",le="+Inf"}'], 2)
  assert.equal(m['meteor_cluster_task_wait_seconds_count{task_type="OK"}'], 2)
  const l = last.samples
  assert.equal(l[finished_('SLOW', 'timed_out')], 1, 'a run that timed out and ended on its signal')
  assert.equal(l[finished_('HANG', 'timed_out')], 1, 'a run that timed out and lost its worker')
  assert.equal(l[finished_('DIE', 'failed')], 1, 'a worker crash fails its task')
  assert.equal(l[finished_('OK', 'cancelled')], 1)
  assert.equal(l['meteor_cluster_worker_exits_total{reason="crashed"}'], 1)
  assert.equal(l['meteor_cluster_worker_exits_total{reason="timeout"}'], 1)
  // Every attempt under exactly one outcome: 8 tasks, one of them retried once.
  const attempts = Object.entries(l).filter(([k]) => k.startsWith('meteor_cluster_tasks_finished_total')).reduce((sum, [, v]) => sum + v, 0)
  assert.equal(attempts, 9)
  for (const [key, value] of Object.entries(middle.samples)) {
    if (key.includes('_total') || key.includes('_bucket') || key.includes('_count')) {
      assert.ok(l[key] >= value, `${key} went down: ${value} -> ${l[key]}`)
    }
  }
  const registry = parse(r.registry)
  assert.equal(registry.types.meteor_cluster_tasks_finished_total, 'counter')
  assert.equal(registry.samples[finished_('OK', 'done')], 2)
  assert.equal(registry.types.meteor_cluster_task_run_seconds, 'histogram')
  assert.equal(r.inWorker, 'ERR_MASTER_ONLY')
})

for (const how of ['option', 'env']) {
  test(`JSON logs (${how === 'option' ? 'logs: \'json\'' : 'METEOR_CLUSTER_LOGS=json'}): one object per line, with the event and its task, worker and error code`, async () => {
    const env = { MONGO_URL: '', ...(how === 'env' ? { METEOR_CLUSTER_LOGS: 'json' } : {}) }
    const result = await run('monitoring.mjs', ['logs', how], { env, timeout: 60000 })
    const [{ ids: [ok, thrower] }] = reportsOf(result, 'ids')
    const lines = (result.stdout + result.stderr).split('\n').filter((l) => l !== '' && !l.startsWith('@@'))
    const logs = lines.map((line) => {
      try {
        return JSON.parse(line)
      } catch {
        assert.fail(`not a JSON line: ${line}`)
      }
    })
    for (const log of logs) {
      assert.equal(typeof log.time, 'string')
      assert.ok(['info', 'warn', 'error'].includes(log.level), log.level)
      assert.equal(typeof log.msg, 'string')
      assert.equal(typeof log.event, 'string')
      assert.equal(typeof log.pid, 'number')
    }
    const find = (event, id) => logs.find((l) => l.event === event && (id === undefined || l.taskId === id))
    assert.deepEqual(Object.keys(find('started', ok)).sort(), ['event', 'level', 'msg', 'pid', 'taskId', 'taskType', 'time', 'workerId'])
    const done = find('done', ok)
    assert.equal(done.taskType, 'OK')
    assert.equal(typeof done.durationMs, 'number')
    assert.equal(typeof done.workerId, 'number')
    const failed = find('failed', thrower)
    assert.equal(failed.level, 'error')
    assert.match(failed.msg, /boom/)
    const exit = find('worker_exit')
    assert.equal(exit.level, 'error')
    assert.equal(typeof exit.workerId, 'number')
    const died = find('failed', reportsOf(result, 'ids')[0].ids[2])
    assert.equal(died.code, 'ERR_WORKER_EXIT')
  })
}

/** The spans as the add reached the run: the request span, its add span, the worker's run span and a span the task started. */
function chain (master, worker, id) {
  const request = master.find((s) => s.name === 'request')
  const add = master.find((s) => s.name === 'meteor-cluster add TRACED' && s.attributes['meteor_cluster.task.id'] === id) ||
    master.find((s) => s.name === 'meteor-cluster add TRACED')
  const runs = worker.filter((s) => s.name === 'meteor-cluster run TRACED' && s.attributes['meteor_cluster.task.id'] === id)
  assert.equal(runs.length, 1, `one run span for ${id}`)
  return { request, add, run: runs[0] }
}

for (const where of ['memory', 'persistent']) {
  test(`OpenTelemetry (${where}): an add in a span gets its own, and the worker runs the task in a child span of it with its attributes (an error status when it fails); an add outside a span is not traced`, async () => {
    const env = where === 'persistent' ? { MONGO_URL: freshUrl(), TRACE: '1' } : { MONGO_URL: '', TRACE: '1' }
    const t = only(await run('monitoring.mjs', ['tracing', where], { env, timeout: 60000 }), 'traces')
    const [good, bad] = t.ids
    const { request, add, run: span } = chain(t.master, t.worker, good)
    assert.equal(add.parentSpanId, request.spanId, 'the add span is a child of the active span')
    assert.equal(add.traceId, request.traceId)
    assert.equal(add.kind, 3, 'PRODUCER')
    assert.equal(add.attributes['messaging.operation.type'], 'send')
    assert.equal(span.traceId, add.traceId, 'the run is in the add\'s trace')
    assert.equal(span.parentSpanId, add.spanId, 'its parent is the add')
    assert.equal(span.kind, 4, 'CONSUMER')
    assert.equal(span.attributes['meteor_cluster.task.id'], good)
    assert.equal(span.attributes['meteor_cluster.task.type'], 'TRACED')
    assert.equal(span.attributes['meteor_cluster.task.attempt'], 1)
    assert.equal(span.attributes['meteor_cluster.queue'], where)
    assert.equal(typeof span.attributes['meteor_cluster.worker.id'], 'number')
    assert.equal(span.attributes['messaging.system'], 'meteor-cluster')
    assert.equal(span.attributes['messaging.destination.name'], 'TRACED')
    assert.equal(t.active, span.spanId, 'the run span is the active span in the task function')
    const inner = t.worker.find((s) => s.name === 'inner' && s.parentSpanId === span.spanId)
    assert.ok(inner, 'a span the task starts is the run span\'s child')
    const failed = chain(t.master, t.worker, bad).run
    assert.equal(failed.status.code, 2, 'ERROR')
    assert.match(failed.status.message, /traced failure/)
    assert.ok(failed.events.includes('exception'))
    assert.equal(t.worker.filter((s) => s.name.startsWith('meteor-cluster run')).length, 2, 'the add outside a span made no run span')
  })
}

test('OpenTelemetry across two masters: a task one master adds in a span and another runs is traced from the add to the run, through MongoDB', async () => {
  const url = freshUrl()
  const adder = await run('monitoring.mjs', ['adder'], { env: { MONGO_URL: url, TRACE: '1' }, timeout: 60000 })
  const { id, master } = only(adder, 'added')
  const runner = start('monitoring.mjs', ['runner', id], { env: { MONGO_URL: url, TRACE: '1' } })
  await finished(runner, 60000)
  const { worker } = only(runner, 'ran')
  const { request, add, run: span } = chain(master, worker, id)
  assert.equal(add.parentSpanId, request.spanId)
  assert.equal(span.traceId, request.traceId)
  assert.equal(span.parentSpanId, add.spanId)
  assert.equal(span.attributes['meteor_cluster.queue'], 'persistent')
})
