// The standalone command, `meteor-cluster dashboard`: the same dashboard
// served from the collection and the masters' registry with no master of
// its own; loopback by default, credentials required elsewhere; a pause
// asked here reaches the master through its registry document.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { setup, teardown, freshUrl, withDb } from './mongo.mjs'
import { startApp, stopApp, seed, eventually, startStandalone, runStandalone } from './dashboard-helpers.mjs'

let url
let app

before(async () => {
  await setup()
  url = freshUrl()
  await seed(url)
  ;({ app } = await startApp(url))
})
after(async () => {
  if (app) await stopApp(app)
  await teardown()
})

async function fetchJson (target, options = {}) {
  const r = await fetch(target, options)
  return { status: r.status, headers: r.headers, json: await r.json().catch(() => null) }
}

test('bad arguments exit with the usage: no URL, a bad port, an unknown option, a user without a password', async () => {
  for (const [args, message] of [
    [['dashboard'], /--mongo-url is required/],
    [['dashboard', '--mongo-url', 'http://x/db'], /mongodb:\/\//],
    [['dashboard', '--mongo-url', url, '--port', 'eighty'], /--port/],
    [['dashboard', '--mongo-url', url, '--color'], /unknown option/],
    [['dashboard', '--mongo-url', url, '--user', 'u'], /--user and --password go together/],
    [['serve'], /unknown command/]
  ]) {
    const { code, output } = await runStandalone(args, { METEOR_CLUSTER_DASHBOARD_PASSWORD: '' })
    assert.equal(code, 2, args.join(' '))
    assert.match(output, message)
    assert.match(output, /usage: meteor-cluster dashboard/)
  }
})

test('a host other than loopback is refused without credentials', async () => {
  const { code, output } = await runStandalone(['dashboard', '--mongo-url', url, '--host', '0.0.0.0', '--port', '0'])
  assert.equal(code, 2)
  assert.match(output, /refusing to serve on 0\.0\.0\.0 without credentials/)
})

test('it prints the URL it serves (--port 0 picks one), on loopback, and shows the live master and the queue with no master of its own', async () => {
  const s = await startStandalone(['dashboard', '--mongo-url', url, '--port', '0'])
  try {
    assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+$/)
    const page = await fetch(`${s.url}/`)
    assert.equal(page.status, 200)
    assert.match(await page.text(), /<meta name="mc-mode" content="standalone">/)
    const { json } = await fetchJson(`${s.url}/api/masters`)
    assert.equal(json.masters.length, 1, 'the app\'s master, from the registry')
    assert.equal(json.masters[0].pid, app.reports.find((x) => x.kind === 'listening').pid)
    assert.equal(json.masters[0].local, undefined, 'not this process')
    const tasks = await fetchJson(`${s.url}/api/tasks?type=LATER`)
    assert.equal(tasks.json.tasks.length, 35)
    const overview = await eventually(async () => (await fetchJson(`${s.url}/api/overview`)).json.persistent.counts, 'counts')
    assert.ok(overview.byType.some((t) => t.taskType === 'OTHER' && t.total === 35))
    const metrics = await fetchJson(`${s.url}/metrics`)
    assert.equal(metrics.status, 404, 'metrics are per master: none here')
    assert.match(metrics.json.error, /served by the dashboard mounted in each master/)
  } finally {
    s.child.kill('SIGTERM')
  }
})

test('on loopback without credentials it answers only to a loopback Host (a rebound name is refused)', async () => {
  const s = await startStandalone(['dashboard', '--mongo-url', url, '--port', '0'])
  try {
    const port = new URL(s.url).port
    const ask = (host) => new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/api/overview', headers: { host } }, (res) => { res.resume(); resolve(res.statusCode) }).on('error', reject)
    })
    assert.equal(await ask(`127.0.0.1:${port}`), 200)
    assert.equal(await ask(`localhost:${port}`), 200)
    assert.equal(await ask(`evil.example:${port}`), 403)
    assert.equal(await ask('evil.example'), 403)
  } finally {
    s.child.kill('SIGTERM')
  }
})

test('pause and resume from the standalone dashboard reach the master through its registry document', async () => {
  const s = await startStandalone(['dashboard', '--mongo-url', url, '--port', '0'])
  try {
    const { json } = await fetchJson(`${s.url}/api/masters`)
    const id = json.masters[0]._id
    const post = (action) => fetchJson(`${s.url}/api/masters/${encodeURIComponent(id)}/${action}`, { method: 'POST', headers: { origin: s.url } })
    assert.deepEqual((await post('pause')).json, { changed: 1 })
    await eventually(async () => (await withDb(url, (db) => db.collection('taskQueue.masters').findOne({ _id: id }))).paused === true, 'the master paused')
    assert.deepEqual((await post('resume')).json, { changed: 1 })
    await eventually(async () => (await withDb(url, (db) => db.collection('taskQueue.masters').findOne({ _id: id }))).paused === false, 'the master resumed')
    const gone = await fetchJson(`${s.url}/api/masters/nobody/pause`, { method: 'POST', headers: { origin: s.url } })
    assert.equal(gone.status, 404)
    assert.match(gone.json.error, /no live master "nobody"/)
  } finally {
    s.child.kill('SIGTERM')
  }
})

test('with --user and a password from the environment, it asks for basic credentials; --read-only refuses actions', async () => {
  const s = await startStandalone(['dashboard', '--mongo-url', url, '--port', '0', '--user', 'ops', '--read-only'],
    { METEOR_CLUSTER_DASHBOARD_PASSWORD: 'pw-from-env' })
  try {
    assert.match(s.output(), /\(read-only\)/)
    const none = await fetch(`${s.url}/api/overview`)
    assert.equal(none.status, 401)
    assert.match(none.headers.get('www-authenticate'), /^Basic/)
    const auth = { authorization: `Basic ${Buffer.from('ops:pw-from-env').toString('base64')}` }
    assert.equal((await fetch(`${s.url}/api/overview`, { headers: auth })).status, 200)
    const action = await fetchJson(`${s.url}/api/tasks/seed001/run`, { method: 'POST', headers: { ...auth, origin: s.url } })
    assert.equal(action.status, 403)
    assert.equal(action.json.code, 'ERR_READ_ONLY')
  } finally {
    s.child.kill('SIGTERM')
  }
})
