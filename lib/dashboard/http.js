'use strict'
// Small HTTP helpers of the dashboard: answers with their security headers,
// errors as `{ error, code }` (never a stack), and the mount path.

/** The page's Content-Security-Policy: everything from this server, nothing inline. */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"

const SECURITY = {
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'SAMEORIGIN'
}

function send (res, status, body, headers = {}) {
  if (res.headersSent) return res.end()
  res.writeHead(status, { ...SECURITY, 'Content-Length': Buffer.byteLength(body), ...headers })
  res.end(body)
}

function json (res, status, value, headers = {}) {
  send(res, status, JSON.stringify(value), { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers })
}

/** An error the client caused or may act on: its message and code, nothing else. */
class HttpError extends Error {
  constructor (status, message, code) {
    super(message)
    this.status = status
    this.code = code
  }
}

/** The status of an error from the addon or a call: 400, 404, 503 or 500. */
function statusOf (error) {
  if (error instanceof HttpError) return error.status
  switch (error && error.code) {
    case 'ERR_INVALID_ARG': return 400
    case 'ERR_NOT_FOUND': return 404
    case 'ERR_MONGO_UNAVAILABLE': case 'ERR_NO_PERSISTENT_QUEUE': return 503
    default: return 500
  }
}

function fail (res, error) {
  const status = statusOf(error)
  const message = status === 500 ? `internal error: ${(error && error.message) || error}` : error.message
  json(res, status, { error: message, code: (error && error.code) || null })
}

/**
 * Where the handler is mounted, and the path under it: Express, Connect
 * and Meteor's WebApp strip the mount path from `req.url` and keep it in
 * `req.originalUrl` (Express also in `req.baseUrl`); a plain server gives
 * the whole path, and `basePath` says what to strip. `null` when the
 * request is not under `basePath`.
 */
function locate (req, basePath) {
  const url = req.url || '/'
  const [path, query = ''] = splitQuery(url)
  let base = ''
  let rest = path
  if (typeof req.baseUrl === 'string') {
    base = req.baseUrl
  } else if (typeof req.originalUrl === 'string') {
    const [original] = splitQuery(req.originalUrl)
    if (original.endsWith(path)) base = original.slice(0, original.length - path.length)
    else if (path === '/') base = original
  }
  if (basePath) {
    if (rest !== basePath && !rest.startsWith(`${basePath}/`)) return null
    base = base + basePath
    rest = rest.slice(basePath.length) || '/'
  }
  base = base.replace(/\/+$/, '')
  return { base, path: rest, query: new URLSearchParams(query) }
}

function splitQuery (url) {
  const at = url.indexOf('?')
  return at < 0 ? [url, ''] : [url.slice(0, at), url.slice(at + 1)]
}

/** An action's body: empty, or a small JSON object. */
function readBody (req, limit = 16 * 1024) {
  if (req.body !== undefined && typeof req.body === 'object' && req.body !== null && !Buffer.isBuffer(req.body)) {
    return Promise.resolve(req.body)
  }
  return new Promise((resolve, reject) => {
    let size = 0
    const chunks = []
    req.on('data', (chunk) => {
      size += chunk.length
      if (size > limit) {
        reject(new HttpError(413, `the request body is over ${limit} bytes`, 'ERR_INVALID_ARG'))
        req.destroy()
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim()
      if (text === '') return resolve({})
      try {
        const value = JSON.parse(text)
        if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object')
        resolve(value)
      } catch {
        reject(new HttpError(400, 'the request body must be a JSON object', 'ERR_INVALID_ARG'))
      }
    })
    req.on('error', reject)
  })
}

module.exports = { send, json, fail, HttpError, locate, readBody, SECURITY, CSP }
