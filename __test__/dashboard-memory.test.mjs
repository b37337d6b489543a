// The dashboard embedded in a master with no persistent queue
// (inMemoryOnly): it shows this process's in-memory tasks, its own master
// and workers from the Cluster itself, and cancels and removes in memory.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { start } from './helpers.mjs'
import { stopApp, eventually } from './dashboard-helpers.mjs'

let app
let E
let ids

before(async () => {
  app = start('dashboard-app.mjs', ['memory'], { env: { MONGO_URL: '' } })
  await app.until((r) => r.reports.some((x) => x.kind === 'listening'), 'the app listens')
  const listening = app.reports.find((x) => x.kind === 'listening')
  E = listening.express
  ids = listening.inMemory
})
after(async () => {
  if (app) await stopApp(app)
})

const get = async (path) => {
  const r = await fetch(`${E}${path}`)
  return { status: r.status, json: await r.json() }
}
const post = (path) => fetch(`${E}${path}`, { method: 'POST', headers: { origin: E } }).then(async (r) => ({ status: r.status, json: await r.json() }))

test('overview: no persistent queue, and this process\'s in-memory counts', async () => {
  const o = (await get('/jobs/api/overview')).json
  assert.equal(o.persistent, null)
  assert.equal(o.inMemory.queued, 4)
  assert.equal(o.masters, 0, 'no registry without MongoDB')
})

test('the in-memory task list, a task\'s detail, and persistent calls that answer 503 with a message', async () => {
  const list = (await get('/jobs/api/tasks?where=memory&state=scheduled')).json
  assert.deepEqual(list.tasks.map((t) => t._id).sort(), ids.slice(0, 3).sort())
  assert.ok(list.tasks.every((t) => t.inMemory === true && t.data.html.startsWith('<img')))
  const one = (await get(`/jobs/api/tasks/${ids[0]}`)).json.task
  assert.equal(one.taskType, 'OK')
  assert.equal(typeof one.dueDate, 'number')
  const persistent = await get('/jobs/api/tasks')
  assert.equal(persistent.status, 503)
  assert.match(persistent.json.error, /no persistent queue/)
})

test('the masters view shows this process from its Cluster, with the running in-memory task; cancel and remove work in memory', async () => {
  const m = await eventually(async () => {
    const { masters } = (await get('/jobs/api/masters')).json
    return masters.length === 1 && masters[0].workers.some((w) => w.task && w.task._id === ids[3]) ? masters[0] : null
  }, 'the BLOCK task runs')
  assert.equal(m.local, true)
  assert.equal(m.pid, app.reports.find((x) => x.kind === 'listening').pid)
  assert.deepEqual((await post(`/jobs/api/tasks/${ids[3]}/cancel`)).json, { changed: 1 })
  await app.until((r) => r.reports.some((x) => x.kind === 'error' && x.id === ids[3] && x.code === 'ERR_TASK_CANCELLED'), 'cancelled')
  assert.deepEqual((await post(`/jobs/api/tasks/${ids[0]}/remove`)).json, { changed: 1 })
  assert.equal((await get(`/jobs/api/tasks/${ids[0]}`)).status, 404)
  assert.deepEqual((await post(`/jobs/api/masters/local/pause`)).json, { changed: 1 })
  assert.equal((await get('/jobs/api/masters')).json.masters[0].paused, true)
  assert.equal((await post(`/jobs/api/tasks/${ids[3]}/cancel`)).status, 404, 'a cancelled task is gone')
})
