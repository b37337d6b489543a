'use strict'
// The dashboard's static files, served only from its own asset folder: the
// folder is listed once, and a request names one of those files exactly or
// gets a 404, so no path (`..`, an encoded slash, a symlink) leads out.

const { readdirSync, readFileSync, realpathSync } = require('fs')
const { join, extname, relative, sep } = require('path')
const { createHash } = require('crypto')
const { send, SECURITY } = require('./http')

const FOLDER = join(__dirname, 'assets')

const TYPES = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8'
}

/** Every file under the folder, by its path relative to it (with `/`). */
function list (dir = FOLDER, out = new Map()) {
  const root = realpathSync(FOLDER)
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) list(path, out)
    else if (entry.isFile() && TYPES[extname(entry.name)]) {
      const real = realpathSync(path)
      if (!real.startsWith(root + sep)) continue
      out.set(relative(FOLDER, path).split(sep).join('/'), path)
    }
  }
  return out
}

let files = null

/** Answers `GET assets/<name>`; false when there is no such asset. */
function serveAsset (req, res, name) {
  if (files === null) files = list()
  const path = files.get(name)
  if (path === undefined) return false
  const body = readFileSync(path)
  const etag = `"${createHash('sha1').update(body).digest('base64url')}"`
  const headers = { ...SECURITY, 'Content-Type': TYPES[extname(path)], ETag: etag, 'Cache-Control': 'no-cache' }
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, headers)
    res.end()
    return true
  }
  if (req.method === 'HEAD') {
    res.writeHead(200, { ...headers, 'Content-Length': body.length })
    res.end()
    return true
  }
  send(res, 200, body, headers)
  return true
}

module.exports = { serveAsset, FOLDER }
