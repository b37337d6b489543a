'use strict'
// Who may use the dashboard: the app's `authorize(req)` (a boolean, a user
// name, or a Promise of either), `basicAuth(user, password)` as a ready one,
// and the CSRF check of actions (the page's token, or a same-origin Origin).

const { createHash, randomBytes, timingSafeEqual } = require('crypto')

/** Marks an `authorize` made by `basicAuth`: a refusal then asks for credentials (401). */
const BASIC_REALM = Symbol('meteor-cluster.basicAuth')

/** SHA-256 digests compare in constant time whatever the lengths. */
function sameSecret (given, expected) {
  const digest = (text) => createHash('sha256').update(String(text)).digest()
  return timingSafeEqual(digest(given), digest(expected))
}

/** An `authorize` that accepts HTTP basic credentials `user`:`password`; it returns the user name. */
function basicAuth (user, password) {
  if (typeof user !== 'string' || user.length === 0 || user.includes(':')) {
    throw new TypeError('dashboard.basicAuth: user must be a non-empty string without ":"')
  }
  if (typeof password !== 'string' || password.length === 0) {
    throw new TypeError('dashboard.basicAuth: password must be a non-empty string')
  }
  const authorize = (req) => {
    const header = req.headers.authorization
    if (typeof header !== 'string') return false
    const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header)
    if (!match) return false
    const decoded = Buffer.from(match[1], 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon < 0) return false
    // Both compared, always: the time taken does not say which was wrong.
    const userOk = sameSecret(decoded.slice(0, colon), user)
    const passwordOk = sameSecret(decoded.slice(colon + 1), password)
    return userOk && passwordOk ? user : false
  }
  authorize[BASIC_REALM] = 'meteor-cluster dashboard'
  return authorize
}

/**
 * Runs `authorize(req)`: `{ user }` when allowed (`user` the name it gave,
 * or null), `{ status, headers }` when not: 401 asking for credentials for
 * basic auth, 403 otherwise (a throw is a refusal, logged).
 */
async function check (authorize, req, log) {
  let verdict
  try {
    verdict = await authorize(req)
  } catch (error) {
    log(`authorize threw (the request is refused): ${(error && error.stack) || error}`)
    verdict = false
  }
  if (verdict === true) return { user: null }
  if (typeof verdict === 'string' && verdict.length > 0) return { user: verdict }
  if (authorize[BASIC_REALM]) {
    return { status: 401, headers: { 'WWW-Authenticate': `Basic realm="${authorize[BASIC_REALM]}", charset="UTF-8"` } }
  }
  return { status: 403, headers: {} }
}

/** A random token for the page's actions (one per handler). */
function newToken () {
  return randomBytes(24).toString('base64url')
}

/**
 * Whether an action POST may go on: it carries the page's token (header
 * `x-csrf-token`), or an `Origin` that is this server's own. A missing
 * Origin, `null` or another origin does not count as same-origin.
 */
function csrfOk (req, token) {
  const given = req.headers['x-csrf-token']
  if (typeof given === 'string' && given.length > 0 && sameSecret(given, token)) return true
  const origin = req.headers.origin
  if (typeof origin !== 'string' || origin === 'null') return false
  const host = req.headers.host
  if (typeof host !== 'string' || host.length === 0) return false
  const scheme = req.socket && req.socket.encrypted ? 'https' : 'http'
  const forwarded = req.headers['x-forwarded-proto']
  const schemes = new Set([scheme, typeof forwarded === 'string' ? forwarded.split(',')[0].trim() : scheme])
  return [...schemes].some((s) => origin === `${s}://${host}`)
}

module.exports = { basicAuth, check, newToken, csrfOk, BASIC_REALM }
