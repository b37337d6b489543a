// Writes docs/dashboard.png, the README's picture of the dashboard: a test
// database, a master with a few task types (some fail, some run a while),
// the dashboard served by a plain http server, and a headless Chromium's screenshot of
// the overview once its counts and chart are in.
//
//   node scripts/dashboard-screenshot.mjs [--out docs/dashboard.png]
import http from 'node:http'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Cluster, TaskQueue } from 'meteor-cluster'
import { dashboard } from 'meteor-cluster/dashboard'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

const taskMap = {
  'send-email': () => sleep(30),
  'resize-image': async (job) => {
    for (let i = 1; i <= 4; i++) {
      job.progress(i * 25)
      await sleep(400)
    }
  },
  'sync-crm': (job) => {
    if (job.data.account % 4 === 0) throw new Error(`CRM account ${job.data.account} refused the sync (HTTP 409)`)
  },
  'nightly-report': () => sleep(50)
}

const options = { maxAvailableWorkers: 2, refreshRate: 200, logs: 'error' }

// Workers run this script too: they serve the taskMap, nothing more.
if (!Cluster.isMaster()) new Cluster(taskMap, options)
else {
  const outArg = process.argv.indexOf('--out')
  const out = outArg > 0 ? process.argv[outArg + 1] : join(root, 'docs', 'dashboard.png')
  const { startServer } = await import('./mongo-server.mjs')
  const { findChromium } = await import('./ensure-test-deps.mjs')
  const { chromium } = await import('playwright-core')
  let db = null
  let browser = null
  let server = null
  let cluster = null
  try {
    if (!process.env.MONGO_URL) {
      db = await startServer('dashboard_demo')
      process.env.MONGO_URL = db.url
    }
    cluster = new Cluster(taskMap, options)
    const handler = dashboard({ authorize: () => 'ops', log: () => {} })
    server = http.createServer((req, res) => handler(req, res))
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    const base = `http://127.0.0.1:${server.address().port}`

    const later = new Date(Date.now() + 3600000)
    await TaskQueue.addTasks([
      ...Array.from({ length: 40 }, (_, i) => ({ taskType: 'send-email', data: { to: `user${i}@example.com` } })),
      ...Array.from({ length: 12 }, (_, i) => ({ taskType: 'sync-crm', data: { account: i } })),
      ...Array.from({ length: 6 }, (_, i) => ({ taskType: 'resize-image', data: { image: `photo-${i}.jpg` } })),
      ...Array.from({ length: 25 }, (_, i) => ({ taskType: 'send-email', data: { to: `later${i}@example.com` }, dueDate: later })),
      { taskType: 'nightly-report', data: {}, repeat: { cron: '0 3 * * *' } }
    ])
    const executablePath = findChromium()
    if (!executablePath) throw new Error('no Chromium: node scripts/ensure-test-deps.mjs chromium')
    browser = await chromium.launch({
      executablePath: executablePath.includes('/') ? executablePath : `/usr/bin/${executablePath}`,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
    })
    const page = await browser.newPage({ viewport: { width: 1100, height: 760 } })
    await page.goto(`${base}/`)
    // Counts that show every type, a chart with some of the last minute in it.
    await page.waitForFunction(() => document.querySelectorAll('tbody tr').length >= 3 && document.querySelector('.chart canvas'), null, { timeout: 60000 })
    await page.waitForFunction(() => /resize-image/.test(document.body.textContent) && /failed/.test(document.body.textContent), null, { timeout: 60000 })
    await sleep(4500)
    await page.screenshot({ path: out, fullPage: true })
    console.log(`wrote ${out}`)
  } finally {
    if (browser) await browser.close()
    if (server) server.close()
    if (cluster) await cluster.close({ timeout: 2000 })
    if (db) await db.dispose()
    process.exit(0)
  }
}
