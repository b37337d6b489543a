'use strict'
// meteor-cluster/dashboard: a `(req, res, next)` handler that shows and
// steers the queue, for Meteor's WebApp, Express, Connect or plain `http`,
// and what the standalone command (`meteor-cluster dashboard`) serves.
//
//   GET  /                      the page (HTML; the rest is its script)
//   GET  /assets/*              its static files (public)
//   GET  /api/overview          counts per type and state, history, in-memory
//   GET  /api/tasks             a page of tasks (filters, sort, cursor)
//   GET  /api/tasks/:id         one task
//   GET  /api/masters           the live masters and their workers
//   POST /api/tasks/:id/{retry,run,cancel,remove}
//   POST /api/types/:type/{retry-failed,remove-failed}
//   POST /api/masters/:id/{pause,resume}
//   GET  /metrics               this master's Prometheus text (behind
//                               `authorize`, or public with metrics: 'public')

const identity = require('../identity')
const { basicAuth, check, newToken, csrfOk } = require('./auth')
const { send, json, fail, HttpError, locate, readBody } = require('./http')
const { Router } = require('./router')
const { Source } = require('./source')
const { page } = require('./page')
const { serveAsset } = require('./assets')
const { listQuery } = require('./queries')

const TASK_ACTIONS = { retry: 'retry', run: 'run', cancel: 'cancel', remove: 'remove' }
const TYPE_ACTIONS = { 'retry-failed': 'retryFailed', 'remove-failed': 'removeFailed' }
const MASTER_ACTIONS = { pause: 'pause', resume: 'resume' }

function typeError (message) {
  const error = new TypeError(`dashboard: ${message}`)
  error.code = 'ERR_INVALID_ARG'
  return error
}

/** The options, checked: TypeErrors name the field. */
function checkOptions (options) {
  if (options === null || typeof options !== 'object') {
    throw typeError('pass options: dashboard({ authorize }) (authorize: () => true opens it to everyone)')
  }
  const { authorize, readOnly = false, basePath, mongoUrl, collectionName, log, metrics = 'authorized' } = options
  if (typeof authorize !== 'function') {
    throw typeError('authorize must be a function (req) => boolean | user name | Promise of either; ' +
      'dashboard.basicAuth(user, password) makes one, and () => true opens the dashboard to everyone')
  }
  if (typeof readOnly !== 'boolean') throw typeError('readOnly must be a boolean')
  if (basePath !== undefined && (typeof basePath !== 'string' || !/^\/[^?#]*[^/?#]$/.test(basePath))) {
    throw typeError('basePath must be a path such as "/jobs" (a leading slash, no trailing one)')
  }
  if (mongoUrl !== undefined && (typeof mongoUrl !== 'string' || !/^mongodb(\+srv)?:\/\//.test(mongoUrl))) {
    throw typeError('mongoUrl must be a mongodb:// URL')
  }
  if (collectionName !== undefined && (typeof collectionName !== 'string' || collectionName === '')) {
    throw typeError('collectionName must be a non-empty string')
  }
  if (log !== undefined && typeof log !== 'function') throw typeError('log must be a function (line) => void')
  if (metrics !== 'authorized' && metrics !== 'public') {
    throw typeError(`metrics must be 'authorized' (behind authorize, the default) or 'public' (no credentials), got ${JSON.stringify(metrics)}`)
  }
  return { authorize, readOnly, basePath, mongoUrl, collectionName, log: log || defaultLog, metrics }
}

function defaultLog (line) {
  console.log(`${new Date().toISOString()}:meteor-cluster:dashboard: ${line}`)
}

/** The Cluster of this process (master side), or null. */
function localCluster () {
  if (identity.isWorker) return null
  const cluster = require('../master').cluster()
  if (cluster === null) return null
  return {
    cluster,
    TaskQueue: require('../task-queue'),
    stats: () => cluster.stats(),
    workers: () => cluster.workers()
  }
}

/**
 * `dashboard({ authorize, readOnly = false, basePath, mongoUrl, collectionName, log, metrics = 'authorized' })`:
 * the handler. `mongoUrl` and `collectionName` default to the Cluster's
 * of this process (then `MONGO_URL` and `taskQueue`).
 */
function dashboard (options) {
  const opts = checkOptions(options)
  const token = newToken()
  const standalone = opts.mongoUrl !== undefined
  const source = new Source({
    local: standalone ? () => null : localCluster,
    settings: () => {
      if (standalone) return { mongoUrl: opts.mongoUrl, collectionName: opts.collectionName || 'taskQueue' }
      const cluster = require('../master').cluster()
      const o = cluster === null ? null : cluster._options
      if (o === null) return { mongoUrl: process.env.MONGO_URL || null, collectionName: opts.collectionName || 'taskQueue' }
      return { mongoUrl: o.inMemoryOnly ? null : o.mongoUrl, collectionName: opts.collectionName || o.collectionName }
    }
  })
  const router = routes(source, opts, token, standalone ? 'standalone' : 'embedded')

  async function handle (req, res, next) {
    const where = locate(req, opts.basePath)
    if (where === null) return next()
    let found
    try {
      found = router.match(req.method, where.path)
    } catch {
      return json(res, 400, { error: 'the path does not decode', code: 'ERR_INVALID_ARG' })
    }
    if (found === null) return json(res, 404, { error: `nothing at ${where.path}`, code: 'ERR_NOT_FOUND' })
    if (found.allowed) return json(res, 405, { error: `use ${found.allowed.join(' or ')}`, code: 'ERR_INVALID_ARG' }, { Allow: found.allowed.join(', ') })
    const { route, params } = found
    if (route.access === 'act' && opts.readOnly) {
      return json(res, 403, { error: 'this dashboard is read-only', code: 'ERR_READ_ONLY' })
    }
    let user = null
    if (route.access !== 'public') {
      const verdict = await check(opts.authorize, req, opts.log)
      if (verdict.status) {
        const body = verdict.status === 401 ? 'credentials required' : 'not allowed'
        return route.access === 'read' && where.path === '/'
          ? send(res, verdict.status, body, { 'Content-Type': 'text/plain; charset=utf-8', ...verdict.headers })
          : json(res, verdict.status, { error: body, code: 'ERR_UNAUTHORIZED' }, verdict.headers)
      }
      user = verdict.user
    }
    if (route.access === 'act' && !csrfOk(req, token)) {
      return json(res, 403, { error: 'refused: the request carries neither the page\'s CSRF token nor a same-origin Origin', code: 'ERR_CSRF' })
    }
    try {
      await route.handle({ req, res, params, query: where.query, base: where.base, user })
    } catch (error) {
      fail(res, error)
    }
  }

  return function meteorClusterDashboard (req, res, next = defaultNext(res)) {
    // In a worker the app is served by the master: nothing to show here.
    if (identity.isWorker) return next()
    handle(req, res, next).catch((error) => fail(res, error))
  }
}

/** Without a `next` (a plain server), what is not ours is a 404. */
function defaultNext (res) {
  return () => send(res, 404, 'Not found', { 'Content-Type': 'text/plain; charset=utf-8' })
}

function routes (source, opts, token, mode) {
  const act = (what, action, target) => async ({ req, res, user }) => {
    await readBody(req)
    const result = await source.act(action, target)
    opts.log(`${user === null ? 'someone (authorize gave no name)' : `user ${JSON.stringify(user)}`} ${what} (${result.changed} changed)`)
    json(res, 200, result)
  }
  return new Router()
    .add('GET', '/', 'read', ({ res, base, user }) => {
      send(res, 200, page({ base, token, user, readOnly: opts.readOnly, mode }), {
        'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store'
      })
    })
    .add('GET', '/assets/*name', 'public', ({ req, res, params }) => {
      if (!serveAsset(req, res, params.name)) json(res, 404, { error: 'no such asset', code: 'ERR_NOT_FOUND' })
    })
    .add('GET', '/api/overview', 'read', async ({ res }) => json(res, 200, await source.overview()))
    .add('GET', '/api/tasks', 'read', async ({ res, query }) => json(res, 200, await source.tasks(listQuery(query))))
    .add('GET', '/api/tasks/:id', 'read', async ({ res, params }) => {
      const answer = await source.task(params.id)
      if (answer.task === null) throw new HttpError(404, `no task with _id ${JSON.stringify(params.id)}`, 'ERR_NOT_FOUND')
      json(res, 200, answer)
    })
    .add('GET', '/api/masters', 'read', async ({ res }) => json(res, 200, await source.masters()))
    .add('GET', '/metrics', opts.metrics === 'public' ? 'public' : 'read', async ({ res }) => {
      send(res, 200, await source.metrics(), { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Cache-Control': 'no-store' })
    })
    .add('POST', '/api/tasks/:id/:action', 'act', (ctx) => {
      const action = TASK_ACTIONS[ctx.params.action]
      if (!action) throw new HttpError(404, `no task action ${JSON.stringify(ctx.params.action)}; known: ${Object.keys(TASK_ACTIONS).join(', ')}`, 'ERR_NOT_FOUND')
      return act(`${action} task ${JSON.stringify(ctx.params.id)}`, action, ctx.params.id)(ctx)
    })
    .add('POST', '/api/types/:type/:action', 'act', (ctx) => {
      const action = TYPE_ACTIONS[ctx.params.action]
      if (!action) throw new HttpError(404, `no type action ${JSON.stringify(ctx.params.action)}; known: ${Object.keys(TYPE_ACTIONS).join(', ')}`, 'ERR_NOT_FOUND')
      return act(`${action} of type ${JSON.stringify(ctx.params.type)}`, action, ctx.params.type)(ctx)
    })
    .add('POST', '/api/masters/:id/:action', 'act', (ctx) => {
      const action = MASTER_ACTIONS[ctx.params.action]
      if (!action) throw new HttpError(404, `no master action ${JSON.stringify(ctx.params.action)}; known: pause, resume`, 'ERR_NOT_FOUND')
      return act(`${action} master ${JSON.stringify(ctx.params.id)}`, action, ctx.params.id)(ctx)
    })
}

dashboard.basicAuth = basicAuth
dashboard.dashboard = dashboard
dashboard.default = dashboard

module.exports = dashboard
