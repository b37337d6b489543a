// The dashboard over HTTP, against a real master (workers, database): every
// route, who may use it (authorize, basic auth, 401/403), read-only mode,
// CSRF, bad input, the asset folder, actions and their log lines, the
// masters' registry, and the handler's options.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { setup, teardown, freshUrl, withDb } from './mongo.mjs'
import { startApp, stopApp, seed, addDoc, eventually, MARKUP } from './dashboard-helpers.mjs'

const require = createRequire(import.meta.url)

let url
let app
let E // the Express server's URL
let H // the plain http server's URL
let markupId

before(async () => {
  await setup()
  url = freshUrl()
  markupId = await seed(url)
  ;({ app, express: E, http: H } = await startApp(url))
})
after(async () => {
  if (app) await stopApp(app)
  await teardown()
})

/** A raw request (the path is sent as given, unnormalized); `{ status, headers, body, json }`. */
function request (base, path, { method = 'GET', headers = {}, body } = {}) {
  const { hostname, port } = new URL(base)
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path, method, headers }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c) => { text += c })
      res.on('end', () => {
        let json
        try { json = JSON.parse(text) } catch { json = undefined }
        resolve({ status: res.statusCode, headers: res.headers, body: text, json })
      })
    })
    req.on('error', reject)
    if (body !== undefined) req.write(body)
    req.end()
  })
}

const get = (path, options) => request(E, path, options)
const post = (path, headers = {}) => request(E, path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' })
const sameOrigin = () => ({ origin: E })
const basic = (user, password) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` })

test('dashboard() without authorize, or with a bad option, throws a TypeError naming it', () => {
  const { dashboard } = require('meteor-cluster/dashboard')
  assert.throws(() => dashboard(), { name: 'TypeError', message: /options/ })
  assert.throws(() => dashboard({}), { name: 'TypeError', message: /authorize must be a function.*\(\) => true/ })
  assert.throws(() => dashboard({ authorize: true }), { name: 'TypeError', message: /authorize/ })
  assert.throws(() => dashboard({ authorize: () => true, readOnly: 'yes' }), { name: 'TypeError', message: /readOnly/ })
  assert.throws(() => dashboard({ authorize: () => true, basePath: 'jobs' }), { name: 'TypeError', message: /basePath/ })
  assert.throws(() => dashboard({ authorize: () => true, mongoUrl: 'http://x' }), { name: 'TypeError', message: /mongoUrl/ })
  assert.throws(() => dashboard({ authorize: () => true, metrics: true }), { name: 'TypeError', message: /metrics must be 'authorized'.*'public'/ })
  assert.throws(() => dashboard.basicAuth('', 'p'), { name: 'TypeError', message: /user/ })
  assert.throws(() => dashboard.basicAuth('u', ''), { name: 'TypeError', message: /password/ })
  assert.equal(typeof dashboard({ authorize: () => true }), 'function')
})

test('the ES module and CommonJS entries give the same dashboard', async () => {
  const esm = await import('meteor-cluster/dashboard')
  const cjs = require('meteor-cluster/dashboard')
  assert.equal(esm.dashboard, cjs.dashboard)
  assert.equal(esm.default, cjs)
  assert.equal(esm.basicAuth, cjs.basicAuth)
})

test('in a worker the handler only calls next()', () => {
  const script = "const { dashboard } = require('meteor-cluster/dashboard');" +
    "dashboard({ authorize: () => true })({ url: '/', headers: {} }, { writeHead () { throw new Error('answered') } }, () => console.log('next'))"
  const run = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, METEOR_CLUSTER_WORKER: '1' }, cwd: new URL('..', import.meta.url).pathname, encoding: 'utf8' })
  assert.equal(run.status, 0, run.stderr)
  assert.equal(run.stdout.trim(), 'next')
})

test('the page is served at the mount path (Express) with a strict CSP and its assets under it, and the app keeps its other routes', async () => {
  for (const path of ['/jobs', '/jobs/']) {
    const page = await get(path)
    assert.equal(page.status, 200, path)
    assert.match(page.headers['content-type'], /text\/html/)
    assert.match(page.headers['content-security-policy'], /default-src 'self'/)
    assert.doesNotMatch(page.headers['content-security-policy'], /unsafe-inline/)
    assert.match(page.body, /<meta name="mc-base" content="\/jobs">/)
    assert.match(page.body, /src="\/jobs\/assets\/app\.js"/)
    assert.doesNotMatch(page.body, /<script>|<style>| style=/, 'nothing inline')
  }
  const asset = await get('/jobs/assets/app.js')
  assert.equal(asset.status, 200)
  assert.match(asset.headers['content-type'], /javascript/)
  assert.equal((await get('/')).body, 'the app')
})

test('in a plain http server the dashboard answers under its basePath only, and the rest goes to the app', async () => {
  const page = await request(H, '/admin/queue/')
  assert.equal(page.status, 200)
  assert.match(page.body, /<meta name="mc-base" content="\/admin\/queue">/)
  assert.equal((await request(H, '/admin/queue/api/overview')).status, 200)
  assert.equal((await request(H, '/admin/queue/assets/app.css')).status, 200)
  assert.equal((await request(H, '/')).body, 'the plain app')
  assert.equal((await request(H, '/admin/queuex')).body, 'the plain app')
  assert.equal((await request(H, '/api/overview')).body, 'the plain app')
})

test('without credentials basic auth answers 401 with WWW-Authenticate for the page, data and actions; wrong ones too; right ones get in', async () => {
  for (const [method, path] of [['GET', '/basic/'], ['GET', '/basic/api/overview'], ['GET', '/basic/api/tasks'], ['POST', '/basic/api/tasks/seed001/run']]) {
    for (const headers of [{}, basic('admin', 'wrong'), basic('root', 's3cret'), { authorization: 'Bearer x' }]) {
      const r = await request(E, path, { method, headers: { ...headers, ...sameOrigin() } })
      assert.equal(r.status, 401, `${method} ${path} ${JSON.stringify(headers)}`)
      assert.match(r.headers['www-authenticate'], /^Basic realm=/)
    }
  }
  assert.equal((await get('/basic/api/overview', { headers: basic('admin', 's3cret') })).status, 200)
  assert.equal((await get('/basic/assets/app.js')).status, 200, 'static assets are public')
})

test('an authorize that refuses gives 403 for the page, data and actions; one that resolves a name later lets its user in', async () => {
  for (const [method, path] of [['GET', '/deny/'], ['GET', '/deny/api/masters'], ['GET', '/deny/api/tasks/seed001'], ['POST', '/deny/api/types/OTHER/retry-failed']]) {
    const r = await request(E, path, { method, headers: sameOrigin() })
    assert.equal(r.status, 403, `${method} ${path}`)
    assert.equal(r.headers['www-authenticate'], undefined)
  }
  assert.equal((await get('/async/api/overview')).status, 403)
  assert.equal((await get('/async/api/overview', { headers: { 'x-user': 'carol' } })).status, 200)
  const page = await get('/async/', { headers: { 'x-user': 'carol' } })
  assert.match(page.body, /<meta name="mc-user" content="carol">/)
})

test('read-only: every action answers 403, before any other check', async () => {
  const token = /mc-csrf" content="([^"]+)"/.exec((await get('/ro/')).body)[1]
  for (const path of ['/ro/api/tasks/seed001/run', '/ro/api/tasks/nope/retry', '/ro/api/tasks/x/unknown', '/ro/api/types/OTHER/remove-failed', '/ro/api/masters/m/pause']) {
    for (const headers of [{}, { 'x-csrf-token': token }, sameOrigin()]) {
      const r = await post(path, headers)
      assert.equal(r.status, 403, path)
      assert.equal(r.json.code, 'ERR_READ_ONLY')
    }
  }
  assert.equal((await get('/ro/api/tasks')).status, 200, 'reading still works')
})

test('an action POST is refused without the page\'s token or a same-origin Origin: none, null, hostile and a wrong token all count as cross-site', async () => {
  for (const headers of [{}, { origin: 'null' }, { origin: 'http://evil.example' }, { origin: E.replace('127.0.0.1', 'localhost') }, { 'x-csrf-token': 'guess' }, { referer: `${E}/jobs/` }]) {
    const r = await post('/jobs/api/tasks/seed002/run', headers)
    assert.equal(r.status, 403, JSON.stringify(headers))
    assert.equal(r.json.code, 'ERR_CSRF')
  }
  const token = /mc-csrf" content="([^"]+)"/.exec((await get('/jobs/')).body)[1]
  assert.equal((await post('/jobs/api/tasks/seed002/run', { 'x-csrf-token': token })).status, 200, 'the page\'s token')
  assert.equal((await post('/jobs/api/tasks/seed003/run', sameOrigin())).status, 200, 'a same-origin Origin')
})

test('bad query parameters and paths answer 400 with a message and never a stack; unknown routes 404; wrong methods 405', async () => {
  for (const query of ['sort=size', 'state=lost', 'where=disk', 'color=red', 'after=%21%21', 'after=WzFd', `type=${'x'.repeat(300)}`, 'type=a&type=b']) {
    const r = await get(`/jobs/api/tasks?${query}`)
    assert.equal(r.status, 400, query)
    assert.equal(r.json.code, 'ERR_INVALID_ARG')
    assert.ok(r.json.error.length > 5, query)
    assert.doesNotMatch(r.body, /\n\s+at /, 'no stack')
  }
  assert.equal((await get('/jobs/api/tasks/%E0%A4%A')).status, 400, 'a path that does not decode')
  assert.equal((await get('/jobs/api/nothing')).status, 404)
  assert.equal((await get('/jobs/api/tasks/seed001/run')).status, 405)
  const body = await request(E, '/jobs/api/tasks/seed004/run', { method: 'POST', headers: { ...sameOrigin(), 'content-type': 'application/json' }, body: '[1' })
  assert.equal(body.status, 400)
})

test('static files come only from the asset folder: traversal in any spelling is a 404', async () => {
  for (const path of ['/jobs/assets/../index.js', '/jobs/assets/..%2F..%2Findex.js', '/jobs/assets/%2e%2e/%2e%2e/package.json',
    '/jobs/assets//etc/passwd', '/jobs/assets/%2Fetc%2Fpasswd', '/jobs/assets/vendor/../../index.js', '/jobs/assets/app.js%00.css', '/jobs/assets/']) {
    const r = await get(path)
    assert.ok(r.status === 404 || r.status === 400, `${path}: ${r.status}`)
    assert.doesNotMatch(r.body, /module\.exports|root:/, path)
  }
})

test('overview: counts per type and state come from a background count with their age, plus the estimated total and the oldest due wait', async () => {
  const o = await eventually(async () => {
    const r = (await get('/jobs/api/overview')).json
    return r.persistent.counts && r.persistent.counts.byType.some((t) => t.taskType === 'LATER') ? r : null
  }, 'the counts')
  const byType = Object.fromEntries(o.persistent.counts.byType.map((t) => [t.taskType, t]))
  assert.equal(byType.LATER.total, 35)
  assert.equal(byType.LATER.scheduled + byType.LATER.due, 35, 'none runs: no master has the type')
  assert.equal(byType.OTHER.total, 35)
  assert.equal(byType[`T${MARKUP}`].failed, 1)
  assert.ok(o.persistent.estimatedTotal >= 71)
  assert.ok(typeof o.persistent.counts.at === 'number' && typeof o.persistent.counts.ms === 'number')
  assert.equal(o.history.minutes.length, 60)
  assert.deepEqual(o.inMemory, { queued: 0, available: 0, running: 0 })
})

test('overview: each limited type\'s limits as stored (the Cluster\'s limits option) and what the fleet holds of them', async () => {
  const o = await eventually(async () => {
    const r = (await get('/jobs/api/overview')).json
    return r.persistent.limits.length > 0 ? r : null
  }, 'the limits in the overview')
  assert.deepEqual(o.persistent.limits.map((l) => l.taskType), ['OK'])
  const [ok] = o.persistent.limits
  assert.deepEqual(ok.limits, { concurrency: 5, rate: { max: 1000, per: 60000 } })
  assert.equal(typeof ok.inUse.running, 'number')
  assert.ok(ok.inUse.running <= 5)
  assert.equal(typeof ok.inUse.startsInWindow, 'number')
})

test('/metrics: this master\'s Prometheus text behind authorize (401 and 403 without it), or public with metrics: \'public\' while the rest stays closed', async () => {
  const m = await get('/jobs/metrics')
  assert.equal(m.status, 200)
  assert.equal(m.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8')
  assert.match(m.body, /^# HELP meteor_cluster_/m)
  assert.match(m.body, /^# TYPE meteor_cluster_tasks_added_total counter$/m)
  assert.equal((await get('/basic/metrics')).status, 401)
  assert.equal((await get('/basic/metrics', { headers: basic('admin', 's3cret') })).status, 200)
  assert.equal((await get('/deny/metrics')).status, 403)
  const open = await get('/scrape/metrics')
  assert.equal(open.status, 200)
  assert.match(open.body, /^# TYPE meteor_cluster_tasks_added_total counter$/m)
  assert.equal((await get('/scrape/api/overview')).status, 403, 'only the metrics are public')
  assert.equal((await get('/scrape/')).status, 403)
  assert.equal((await post('/scrape/metrics', sameOrigin())).status, 405)
})

test('the task list pages by cursor (50 a page, every task once), filters by type, state and _id prefix, and sorts by each field', async () => {
  const seen = []
  let after = null
  let pages = 0
  do {
    const r = (await get(`/jobs/api/tasks?type=LATER${after ? `&after=${after}` : ''}`)).json
    assert.ok(r.tasks.length <= 50)
    seen.push(...r.tasks)
    after = r.next
    pages++
  } while (after)
  assert.equal(pages, 1, 'LATER holds 35 tasks: one page')
  assert.equal(seen.length, 35)
  assert.ok(seen.every((t) => t.taskType === 'LATER' && t.data === undefined), 'the list leaves data out')
  const all = []
  after = null
  do {
    const r = (await get(`/jobs/api/tasks?prefix=seed&sort=createdAt${after ? `&after=${after}` : ''}`)).json
    all.push(...r.tasks)
    after = r.next
  } while (after)
  assert.equal(all.length, 70)
  assert.equal(new Set(all.map((t) => t._id)).size, 70, 'no task twice')
  assert.deepEqual(all.map((t) => t.createdAt), [...all.map((t) => t.createdAt)].sort((a, b) => b - a), 'newest first')
  const byPriority = (await get('/jobs/api/tasks?prefix=seed')).json.tasks
  assert.equal(byPriority.length, 50)
  assert.ok(byPriority.every((t, i) => i === 0 || byPriority[i - 1].priority >= t.priority))
  const byDue = (await get('/jobs/api/tasks?prefix=seed&sort=dueDate')).json.tasks
  assert.ok(byDue.every((t, i) => i === 0 || byDue[i - 1].dueDate <= t.dueDate))
  const failed = (await get('/jobs/api/tasks?state=failed')).json.tasks
  assert.ok(failed.some((t) => t._id === markupId))
  assert.ok(failed.every((t) => t.failed === true))
  assert.deepEqual((await get('/jobs/api/tasks?prefix=seed06')).json.tasks.map((t) => t._id).sort(),
    ['seed060', 'seed061', 'seed062', 'seed063', 'seed064', 'seed065', 'seed066', 'seed067', 'seed068', 'seed069'])
})

test('one task: its whole document as JSON (markup stays data), and 404 for a missing one', async () => {
  const r = await get(`/jobs/api/tasks/${encodeURIComponent(markupId)}`)
  assert.equal(r.status, 200)
  assert.match(r.headers['content-type'], /application\/json/)
  assert.equal(r.json.task._id, markupId)
  assert.equal(r.json.task.data.html, MARKUP)
  assert.equal(r.json.task.lastError.message, MARKUP)
  assert.equal(typeof r.json.task.createdAt, 'number', 'the task\'s dates as ms')
  assert.equal(typeof r.json.task.data.when.$date, 'number', 'data stays EJSON')
  const missing = await get('/jobs/api/tasks/nope')
  assert.equal(missing.status, 404)
  assert.equal(missing.json.code, 'ERR_NOT_FOUND')
})

test('actions: retry a failed task and it runs; retry all failed of a type in one update; run now; remove; remove failed; a stale target answers 404; each is logged with the user', async () => {
  const marker = `/tmp/mc-flaky-${process.pid}-${Date.now()}`
  await addDoc(url, { _id: 'flaky1', taskType: 'FLAKY', data: { marker } })
  await app.until((r) => r.reports.some((x) => x.kind === 'error' && x.id === 'flaky1'), 'flaky1 failed once')
  const retried = await post('/jobs/api/tasks/flaky1/retry', sameOrigin())
  assert.deepEqual(retried.json, { changed: 1 })
  await app.until((r) => r.reports.some((x) => x.kind === 'done' && x.id === 'flaky1'), 'flaky1 ran after the retry')
  const again = await post('/jobs/api/tasks/flaky1/retry', sameOrigin())
  assert.equal(again.status, 404)
  assert.equal(again.json.code, 'ERR_NOT_FOUND')
  assert.match(again.json.error, /no failed task with _id "flaky1"/)

  await withDb(url, (db) => db.collection('taskQueue').insertMany([1, 2, 3].map((i) => ({
    _id: `bulk${i}`, taskType: 'BULK', priority: 1, data: {}, createdAt: new Date(), dueDate: new Date(), onGoing: false,
    failed: true, attempts: 3, lastError: { message: 'x' }, failedAt: new Date()
  }))))
  assert.deepEqual((await post('/jobs/api/types/BULK/retry-failed', sameOrigin())).json, { changed: 3 })
  const reset = await withDb(url, (db) => db.collection('taskQueue').find({ taskType: 'BULK' }).toArray())
  assert.ok(reset.every((d) => d.failed === undefined && d.attempts === 0 && d.lastError === undefined && d.onGoing === false && d.dueDate <= new Date()), JSON.stringify(reset))
  assert.equal((await post('/jobs/api/types/BULK/retry-failed', sameOrigin())).status, 404)

  await addDoc(url, { _id: 'later1', taskType: 'OK', dueDate: new Date(Date.now() + 3600000) })
  assert.deepEqual((await post('/jobs/api/tasks/later1/run', sameOrigin())).json, { changed: 1 })
  await app.until((r) => r.reports.some((x) => x.kind === 'done' && x.id === 'later1'), 'later1 ran once made due')

  assert.deepEqual((await post('/jobs/api/tasks/seed010/remove', sameOrigin())).json, { changed: 1 })
  assert.equal((await get('/jobs/api/tasks/seed010')).status, 404)
  assert.equal((await post('/jobs/api/tasks/seed010/remove', sameOrigin())).status, 404)
  await withDb(url, (db) => db.collection('taskQueue').updateMany({ _id: { $in: ['bulk1', 'bulk2'] } }, { $set: { failed: true } }))
  assert.deepEqual((await post('/jobs/api/types/BULK/remove-failed', sameOrigin())).json, { changed: 2 })
  assert.match(app.stdout, /dashboard-log: user "tester" retry task "flaky1" \(1 changed\)/)
  assert.match(app.stdout, /dashboard-log: user "tester" retryFailed of type "BULK" \(3 changed\)/)
  assert.match(app.stdout, /dashboard-log: user "tester" run task "later1"/)
})

test('cancel: a running task is stopped through its signal and ends failed with ERR_TASK_CANCELLED; a finished one answers 404', async () => {
  await addDoc(url, { _id: 'block1', taskType: 'BLOCK' })
  await eventually(async () => (await get('/jobs/api/masters')).json.masters.some((m) => m.workers.some((w) => w.task && w.task._id === 'block1')), 'block1 runs')
  assert.deepEqual((await post('/jobs/api/tasks/block1/cancel', sameOrigin())).json, { changed: 1 })
  await app.until((r) => r.reports.some((x) => x.kind === 'error' && x.id === 'block1' && x.code === 'ERR_TASK_CANCELLED'), 'block1 cancelled')
  const doc = (await get('/jobs/api/tasks/block1')).json.task
  assert.equal(doc.failed, true)
  assert.equal(doc.lastError.code, 'ERR_TASK_CANCELLED')
  assert.equal((await post('/jobs/api/tasks/block1/cancel', sameOrigin())).status, 404)
  const [own] = (await get('/jobs/api/masters')).json.masters
  assert.ok(!own.exits.some((e) => e.task && e.task._id === 'block1'), 'a task that stops on its signal keeps its worker')
})

test('a task that ignores its signal: cancel stops its worker, and the masters view lists that exit, blamed on the task', async () => {
  await addDoc(url, { _id: 'spin1', taskType: 'STEPS', data: { steps: 1000, every: 300 } })
  await eventually(async () => (await get('/jobs/api/masters')).json.masters.some((m) => m.workers.some((w) => w.task && w.task._id === 'spin1')), 'spin1 runs')
  assert.deepEqual((await post('/jobs/api/tasks/spin1/cancel', sameOrigin())).json, { changed: 1 })
  await app.until((r) => r.reports.some((x) => x.kind === 'error' && x.id === 'spin1' && x.code === 'ERR_TASK_CANCELLED'), 'spin1 cancelled')
  const exit = await eventually(async () => (await get('/jobs/api/masters')).json.masters[0].exits.find((e) => e.task && e.task._id === 'spin1'), 'its worker\'s exit')
  assert.equal(exit.task.taskType, 'STEPS')
  assert.equal(typeof exit.pid, 'number')
  assert.ok(exit.signal !== null || exit.code !== 0, JSON.stringify(exit))
})

test('the masters\' registry: a heartbeat document with host, pid, version, task types, counters, workers and history, a TTL index, the dashboard\'s indexes; pause and resume the master', async () => {
  await addDoc(url, { _id: 'counted1', taskType: 'OK' })
  await app.until((r) => r.reports.some((x) => x.kind === 'done' && x.id === 'counted1'), 'counted1 done')
  const m = await eventually(async () => {
    const { masters } = (await get('/jobs/api/masters')).json
    assert.equal(masters.length, 1)
    return masters[0].counters.done >= 1 && masters[0].history.done.some((n) => n > 0) ? masters[0] : null
  }, 'a heartbeat counts the task done')
  assert.equal(m.local, true, 'this process\'s own master')
  assert.equal(typeof m.host, 'string')
  assert.equal(m.version, require('../package.json').version)
  assert.deepEqual([...m.taskTypes].sort(), ['BLOCK', 'FAIL', 'FLAKY', 'OK', 'STEPS'])
  assert.ok(Array.isArray(m.workers))
  assert.ok(m.expiresAt > m.heartbeatAt)
  const [stored] = await withDb(url, (db) => db.collection('taskQueue.masters').find().toArray())
  assert.equal(stored.pid, m.pid)
  assert.ok(stored.expiresAt instanceof Date)
  const indexes = await withDb(url, (db) => db.collection('taskQueue.masters').listIndexes().toArray())
  assert.ok(indexes.some((i) => i.name === 'meteorCluster_expiry' && i.expireAfterSeconds === 0))
  const board = (await withDb(url, (db) => db.collection('taskQueue').listIndexes().toArray())).map((i) => i.name)
  for (const name of ['meteorCluster_board_priority', 'meteorCluster_board_dueDate', 'meteorCluster_board_createdAt', 'meteorCluster_board_failed']) {
    assert.ok(board.includes(name), name)
  }
  assert.deepEqual((await post(`/jobs/api/masters/${encodeURIComponent(m._id)}/pause`, sameOrigin())).json, { changed: 1 })
  assert.equal((await get('/jobs/api/masters')).json.masters[0].paused, true)
  await eventually(async () => (await withDb(url, (db) => db.collection('taskQueue.masters').findOne())).paused === true, 'the heartbeat says paused')
  await post(`/jobs/api/masters/${encodeURIComponent(m._id)}/resume`, sameOrigin())
  assert.equal((await get('/jobs/api/masters')).json.masters[0].paused, false)
})

test('a master\'s registry document is removed when it closes', async () => {
  const other = await startApp(url)
  const pid = other.app.reports.find((x) => x.kind === 'listening').pid
  await eventually(async () => (await withDb(url, (db) => db.collection('taskQueue.masters').findOne({ pid }))), 'its heartbeat')
  await stopApp(other.app)
  assert.equal(other.app.code, 0, other.app.stderr)
  assert.equal(await withDb(url, (db) => db.collection('taskQueue.masters').findOne({ pid })), null)
})
