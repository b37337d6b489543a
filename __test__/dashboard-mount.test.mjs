// Where the dashboard finds itself, in-process (pure JS): the mount path
// as Express (req.baseUrl), Connect and Meteor 2's WebApp (req.originalUrl,
// the prefix stripped from req.url) and a plain server (basePath) give it,
// and the router's matching (parameters decoded, other methods named).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { locate } = require('../lib/dashboard/http.js')
const { Router } = require('../lib/dashboard/router.js')

const at = (req, basePath) => {
  const found = locate({ headers: {}, ...req }, basePath)
  return found && { base: found.base, path: found.path, query: found.query.toString() }
}

test('Express (and Meteor 3\'s WebApp.handlers) mounted at /jobs: baseUrl is the mount path', () => {
  assert.deepEqual(at({ url: '/api/tasks?state=due', baseUrl: '/jobs', originalUrl: '/jobs/api/tasks?state=due' }), { base: '/jobs', path: '/api/tasks', query: 'state=due' })
  assert.deepEqual(at({ url: '/', baseUrl: '/jobs', originalUrl: '/jobs' }), { base: '/jobs', path: '/', query: '' })
  assert.deepEqual(at({ url: '/', baseUrl: '', originalUrl: '/' }), { base: '', path: '/', query: '' })
})

test('Connect (and Meteor 2\'s WebApp.connectHandlers) at /admin/jobs: the prefix is what originalUrl has beyond url', () => {
  assert.deepEqual(at({ url: '/api/masters', originalUrl: '/admin/jobs/api/masters' }), { base: '/admin/jobs', path: '/api/masters', query: '' })
  assert.deepEqual(at({ url: '/', originalUrl: '/admin/jobs' }), { base: '/admin/jobs', path: '/', query: '' })
  assert.deepEqual(at({ url: '/', originalUrl: '/admin/jobs/' }), { base: '/admin/jobs', path: '/', query: '' })
  assert.deepEqual(at({ url: '/assets/app.js?v=1', originalUrl: '/admin/jobs/assets/app.js?v=1' }), { base: '/admin/jobs', path: '/assets/app.js', query: 'v=1' })
})

test('a plain server with basePath: only paths under it are the dashboard\'s', () => {
  assert.deepEqual(at({ url: '/queue/api/overview' }, '/queue'), { base: '/queue', path: '/api/overview', query: '' })
  assert.deepEqual(at({ url: '/queue' }, '/queue'), { base: '/queue', path: '/', query: '' })
  assert.equal(at({ url: '/queued' }, '/queue'), null)
  assert.equal(at({ url: '/' }, '/queue'), null)
  assert.deepEqual(at({ url: '/api/overview' }), { base: '', path: '/api/overview', query: '' }, 'mounted at the root')
})

test('the router decodes parameters, names the methods a path takes, and matches nothing else', () => {
  const router = new Router()
    .add('GET', '/api/tasks/:id', 'read', () => {})
    .add('POST', '/api/tasks/:id/:action', 'act', () => {})
    .add('GET', '/assets/*name', 'public', () => {})
  assert.deepEqual(router.match('GET', '/api/tasks/a%2Fb%20c').params, { id: 'a/b c' })
  assert.deepEqual(router.match('POST', '/api/tasks/x/retry').params, { id: 'x', action: 'retry' })
  assert.deepEqual(router.match('GET', '/api/tasks/x/retry'), { allowed: ['POST'] })
  assert.equal(router.match('HEAD', '/api/tasks/x').route.access, 'read', 'HEAD as GET')
  assert.deepEqual(router.match('GET', '/assets/vendor/uPlot.min.css').params, { name: 'vendor/uPlot.min.css' })
  assert.equal(router.match('GET', '/api/other'), null)
  assert.throws(() => router.match('GET', '/api/tasks/%E0%A4%A'), URIError)
})
