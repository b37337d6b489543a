// The dashboard at depth: each request it makes, timed through the real
// handler (standalone, over HTTP, on this process's loopback) against the
// same queries sent with the plain `mongodb` driver (the server's own
// floor), on a collection of `params.sizes` tasks (filled in turn, so each
// size adds to the last). The counts per type and state are counted in the
// background, never in a request: their time is reported on its own.
import http from 'node:http'
import { createRequire } from 'node:module'
import { MongoClient } from 'mongodb'
import { args, now, runSubject, watchdog, within, median } from '../lib/common.mjs'

const require = createRequire(import.meta.url)
const { dashboard } = require('../../dashboard.js')

const { params } = args()
watchdog(params.watchdogMs ?? 3600000)
const TYPES = 10
let client = null
let server = null

runSubject(async () => {
  client = new MongoClient(params.url)
  await within(client.connect(), params.timeoutMs, 'connect')
  const coll = client.db().collection('taskQueue')
  await indexes(coll)
  const handler = dashboard({ authorize: () => true, mongoUrl: params.url, collectionName: 'taskQueue', log: () => {} })
  server = http.createServer((req, res) => handler(req, res))
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${server.address().port}`
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const get = (path) => new Promise((resolve, reject) => {
    http.get(`${base}${path}`, { agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c) => { body += c })
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(`${path}: ${res.statusCode} ${body}`))))
    }).on('error', reject)
  })
  const sizes = []
  let filled = 0
  for (const size of params.sizes) {
    const started = now()
    filled = await fill(coll, filled, size)
    process.stderr.write(`dashboard bench: ${size} tasks in the collection (${Math.round(now() - started)} ms to add)\n`)
    sizes.push({ tasks: size, ...(await measure(coll, get)) })
  }
  agent.destroy()
  return { sizes }
}, async () => {
  if (server) server.close()
  if (client) await client.close()
})

/** The queue's and the dashboard's indexes, as a master makes them (same names and keys). */
async function indexes (coll) {
  await coll.createIndexes([
    { key: { onGoing: 1, priority: -1, createdAt: 1 }, name: 'meteorCluster_claim' },
    { key: { taskType: 1 }, name: 'taskType_1' },
    { key: { priority: -1, _id: 1 }, name: 'meteorCluster_board_priority' },
    { key: { dueDate: 1, _id: 1 }, name: 'meteorCluster_board_dueDate' },
    { key: { createdAt: -1, _id: 1 }, name: 'meteorCluster_board_createdAt' },
    { key: { failed: 1, taskType: 1 }, name: 'meteorCluster_board_failed' }
  ])
}

/** Adds tasks up to `size`: ten types, priorities 0-9, due dates past and future, a few failed, running and recurring. */
async function fill (coll, from, size) {
  const started = Date.now()
  const batch = 10000
  for (let i = from; i < size; i += batch) {
    const docs = []
    for (let j = i; j < Math.min(size, i + batch); j++) {
      const doc = {
        _id: `t${String(j).padStart(8, '0')}`,
        taskType: `TYPE${j % TYPES}`,
        priority: (j * 7) % 10,
        data: { n: j, text: 'x'.repeat(64) },
        createdAt: new Date(started - (size - j) * 10),
        dueDate: new Date(started + ((j % 3) - 1) * 3600000 + (j % 1000)),
        onGoing: j % 100 === 1
      }
      if (j % 50 === 7) Object.assign(doc, { failed: true, attempts: 1, lastError: { message: 'boom', stack: 'Error: boom' } })
      if (j % 100 === 3) doc.repeat = { every: 60000 }
      docs.push(doc)
    }
    await coll.insertMany(docs, { ordered: false })
  }
  return size
}

/**
 * Median ms of `reps` runs of `handler` and of `floor`, alternated (h, f,
 * h, f, ...) so that a busy moment of the machine hits both alike, after
 * one warm-up of each.
 */
async function timedPair (handler, floor) {
  await handler()
  await floor()
  const times = { handler: [], floor: [] }
  for (let r = 0; r < params.reps; r++) {
    for (const [name, fn] of [['handler', handler], ['floor', floor]]) {
      const t = now()
      await fn()
      times[name].push(now() - t)
    }
  }
  return { handler: { ms: median(times.handler), reps: times.handler }, floor: { ms: median(times.floor), reps: times.floor } }
}

async function measure (coll, get) {
  const masters = client.db().collection('taskQueue.masters')
  const nowDate = () => new Date()
  const sortDoc = (field, dir) => ({ [field]: dir, _id: 1 })
  const page = (filter, sort) => coll.find(filter, { projection: { data: 0 } }).sort(sort).limit(51).toArray()
  const due = () => ({ onGoing: false, failed: { $ne: true }, dueDate: { $lte: nowDate() } })
  const first = await page({}, sortDoc('priority', -1))
  const last = first[49]
  const cursor = Buffer.from(JSON.stringify([last.priority, last._id])).toString('base64url')
  const requests = {
    overview: {
      handler: () => get('/api/overview'),
      floor: () => Promise.all([
        (async () => {
          await coll.estimatedDocumentCount()
          await coll.find(due(), { projection: { dueDate: 1 } }).sort({ dueDate: 1, _id: 1 }).hint('meteorCluster_board_dueDate').limit(1).toArray()
        })(),
        masters.find({ expiresAt: { $gt: nowDate() } }).sort({ startedAt: 1, _id: 1 }).limit(200).toArray()
      ])
    },
    listByPriority: { handler: () => get('/api/tasks'), floor: () => page({}, sortDoc('priority', -1)) },
    listNextPage: {
      handler: () => get(`/api/tasks?after=${cursor}`),
      floor: () => page({ $or: [{ priority: { $lt: last.priority } }, { priority: last.priority, _id: { $gt: last._id } }] }, sortDoc('priority', -1))
    },
    listByDueDate: { handler: () => get('/api/tasks?sort=dueDate'), floor: () => page({}, sortDoc('dueDate', 1)) },
    listByCreatedAt: { handler: () => get('/api/tasks?sort=createdAt'), floor: () => page({}, sortDoc('createdAt', -1)) },
    listTypeAndState: {
      handler: () => get('/api/tasks?type=TYPE7&state=failed'),
      floor: () => page({ $and: [{ failed: true }, { taskType: 'TYPE7' }] }, sortDoc('priority', -1))
    },
    listIdPrefix: {
      handler: () => get('/api/tasks?prefix=t0012'),
      floor: () => page({ _id: { $gte: 't0012', $lt: 't0012\u{10FFFF}' } }, sortDoc('priority', -1))
    },
    task: { handler: () => get('/api/tasks/t00000123'), floor: () => coll.findOne({ _id: 't00000123' }) },
    masters: { handler: () => get('/api/masters'), floor: () => masters.find({ expiresAt: { $gt: nowDate() } }).sort({ startedAt: 1, _id: 1 }).limit(200).toArray() }
  }
  const out = {}
  // The background count first: it runs at most a fifth of the time (see
  // src/board/counts.rs), timed on its own; the requests are timed in the
  // window after it, as most requests run.
  out.backgroundCount = await backgroundCount(get)
  for (const [name, r] of Object.entries(requests)) {
    const { handler, floor } = await timedPair(r.handler, r.floor)
    out[name] = { handlerMs: handler.ms, floorMs: floor.ms, ratio: handler.ms / floor.ms, handlerReps: handler.reps, floorReps: floor.reps }
    // Progress on stderr: a long run shows where it is.
    process.stderr.write(`dashboard bench: ${name}: handler ${handler.ms.toFixed(1)} ms, floor ${floor.ms.toFixed(1)} ms\n`)
  }
  return out
}

/** Starts a count (through an overview) and waits for it: its own duration, and the wall time. */
async function backgroundCount (get) {
  const t = now()
  const before = (await get('/api/overview')).persistent.counts
  let counted = null
  while (counted === null || (before !== null && counted.at === before.at)) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    counted = (await get('/api/overview')).persistent.counts
  }
  process.stderr.write(`dashboard bench: counts per type and state: ${counted.ms} ms\n`)
  return { ms: counted.ms, wallMs: now() - t }
}
