'use strict'
// The standalone dashboard command: arguments checked, an http server on
// loopback by default (another host only with credentials), the URL printed.

const http = require('http')
const dashboard = require('./index')

const USAGE = `usage: meteor-cluster dashboard --mongo-url URL [--collection taskQueue] [--port 4000]
       [--host 127.0.0.1] [--read-only] [--user U --password P]
  The password may come from METEOR_CLUSTER_DASHBOARD_PASSWORD instead.`

const FLAGS = new Set(['--mongo-url', '--collection', '--port', '--host', '--user', '--password'])

function usage (message) {
  return new Error(`${message}\n${USAGE}`)
}

/** The options of `dashboard ...`; an Error with the usage when they are wrong. */
function parse (args, env = process.env) {
  const [command, ...rest] = args
  if (command === undefined || command === '--help' || command === '-h') throw usage('a command is needed')
  if (command !== 'dashboard') throw usage(`unknown command ${JSON.stringify(command)}`)
  const o = { collection: 'taskQueue', port: 4000, host: '127.0.0.1', readOnly: false }
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]
    if (arg === '--read-only') {
      o.readOnly = true
      continue
    }
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined]
    if (!FLAGS.has(flag)) throw usage(`unknown option ${JSON.stringify(arg)}`)
    const value = inline !== undefined ? inline : rest[++i]
    if (value === undefined || value === '') throw usage(`${flag} needs a value`)
    o[flag.slice(2).replace(/-(\w)/g, (_, c) => c.toUpperCase())] = value
  }
  if (!o.mongoUrl) throw usage('--mongo-url is required (a mongodb:// URL with its database)')
  if (!/^mongodb(\+srv)?:\/\//.test(o.mongoUrl)) throw usage('--mongo-url must be a mongodb:// URL')
  const port = Number(o.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw usage('--port must be a port number (0 picks a free one)')
  o.port = port
  if (o.password === undefined && env.METEOR_CLUSTER_DASHBOARD_PASSWORD) o.password = env.METEOR_CLUSTER_DASHBOARD_PASSWORD
  if ((o.user === undefined) !== (o.password === undefined)) {
    throw usage('--user and --password go together (the password may come from METEOR_CLUSTER_DASHBOARD_PASSWORD)')
  }
  if (!isLoopback(o.host) && o.user === undefined) {
    throw usage(`refusing to serve on ${o.host} without credentials: give --user and --password, or keep the default --host 127.0.0.1`)
  }
  return o
}

function isLoopback (host) {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

/** Starts the server; resolves with it once it listens (the URL printed). */
async function main (args, { env = process.env, out = console.log } = {}) {
  const o = parse(args, env)
  const handler = dashboard({
    authorize: o.user === undefined ? () => true : dashboard.basicAuth(o.user, o.password),
    readOnly: o.readOnly,
    mongoUrl: o.mongoUrl,
    collectionName: o.collection
  })
  // On loopback without credentials, only requests that name this server
  // by a loopback host are served: a page elsewhere whose name was
  // rebound to 127.0.0.1 (DNS rebinding) sends its own name as Host.
  let hosts = null
  const server = http.createServer((req, res) => {
    if (hosts !== null && !hosts.has(String(req.headers.host).toLowerCase())) {
      res.writeHead(403, { 'Content-Type': 'text/plain; charset=utf-8' })
      res.end('refused: this dashboard answers only to a loopback Host (127.0.0.1, localhost, [::1])')
      return
    }
    handler(req, res)
  })
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port, o.host, resolve)
  })
  const { port } = server.address()
  if (o.user === undefined) hosts = new Set(['127.0.0.1', 'localhost', '[::1]', o.host].flatMap((h) => [h, `${h}:${port}`]))
  const shown = o.host.includes(':') ? `[${o.host}]` : o.host
  out(`meteor-cluster dashboard: serving ${o.collection} on http://${shown}:${port}/${o.readOnly ? ' (read-only)' : ''}`)
  const stop = () => {
    server.close(() => process.exit(0))
    // Idle keep-alive connections would hold the close (Node 18.2+ has this).
    if (typeof server.closeAllConnections === 'function') server.closeAllConnections()
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
  return server
}

module.exports = { main, parse, isLoopback }
