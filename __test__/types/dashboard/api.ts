// Compile test of meteor-cluster/dashboard's typings. Run by `npm run lint`
// (tsc --strict); each `@ts-expect-error` marks a call that must not
// compile. Never run.
import http from 'node:http'
import { dashboard, basicAuth, type Authorize, type DashboardHandler } from 'meteor-cluster/dashboard'
import defaultDashboard from 'meteor-cluster/dashboard'
import { check, type Equal } from '../assert.js'

const open: DashboardHandler = dashboard({ authorize: () => true })
const named = dashboard({ authorize: (req) => req.headers['x-user'] === 'ops' ? 'ops' : false, readOnly: true, basePath: '/jobs' })
const later = dashboard({ authorize: async () => 'alice', log: (line) => console.log(line) })
const basic: Authorize = basicAuth('admin', 'secret')
dashboard({ authorize: dashboard.basicAuth('admin', 'secret'), mongoUrl: 'mongodb://127.0.0.1/app', collectionName: 'jobs' })
dashboard({ authorize: () => false, metrics: 'public' })
check<Equal<typeof defaultDashboard, typeof dashboard>>()

// Mounts in a plain http server, with or without next.
http.createServer((req, res) => named(req, res, () => { res.end('app') }))
http.createServer((req, res) => later(req, res))
open({} as http.IncomingMessage, {} as http.ServerResponse)
void basic

// @ts-expect-error authorize is required
dashboard({})
// @ts-expect-error readOnly is a boolean
dashboard({ authorize: () => true, readOnly: 'yes' })
// @ts-expect-error authorize gives a boolean or a user name
dashboard({ authorize: () => 42 })
// @ts-expect-error metrics is 'authorized' or 'public'
dashboard({ authorize: () => true, metrics: true })
