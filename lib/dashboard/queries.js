'use strict'
// The dashboard's query parameters, checked: a bad one is a 400 that names
// it and says what it takes.

const { TASK_STATES, SORTS } = require('../wire')
const { HttpError } = require('./http')

/** Tasks on one page. */
const PAGE = 50
const MAX_TEXT = 200

function bad (message) {
  return new HttpError(400, message, 'ERR_INVALID_ARG')
}

function text (query, name) {
  const values = query.getAll(name)
  if (values.length === 0 || values[0] === '') return undefined
  if (values.length > 1) throw bad(`${name}: give it once`)
  if (values[0].length > MAX_TEXT) throw bad(`${name}: at most ${MAX_TEXT} characters`)
  return values[0]
}

function oneOf (query, name, allowed) {
  const value = text(query, name)
  if (value !== undefined && !allowed.includes(value)) throw bad(`${name}: one of ${allowed.join(', ')}; got ${JSON.stringify(value)}`)
  return value
}

const KNOWN = new Set(['type', 'state', 'prefix', 'sort', 'after', 'where'])

/** `GET api/tasks?type=&state=&prefix=&sort=&after=&where=`. */
function listQuery (query) {
  for (const key of query.keys()) {
    if (!KNOWN.has(key)) throw bad(`unknown parameter ${JSON.stringify(key)}; known: ${[...KNOWN].join(', ')}`)
  }
  const after = text(query, 'after')
  if (after !== undefined && !/^[A-Za-z0-9_-]+$/.test(after)) throw bad('after: not a cursor this dashboard gave (start from the first page)')
  return {
    taskType: text(query, 'type'),
    state: oneOf(query, 'state', TASK_STATES),
    idPrefix: text(query, 'prefix'),
    sort: oneOf(query, 'sort', SORTS) || 'priority',
    after,
    where: oneOf(query, 'where', ['persistent', 'memory']) || 'persistent',
    limit: PAGE
  }
}

module.exports = { listQuery, PAGE }
