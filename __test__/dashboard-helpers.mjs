// What the dashboard's tests share: the app fixture (dashboard-app.mjs, a
// master with the dashboard mounted in Express and in a plain http server),
// tasks written straight into its collection (with markup in every field),
// the standalone command, and a real headless Chromium.
import { spawn } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { start } from './helpers.mjs'
import { withDb } from './mongo.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

/** Text that becomes live markup if a page ever renders it as HTML. */
export const MARKUP = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'

/** Where screenshots go (the test output, not the repository). */
export const SHOTS = join(root, 'test-output', 'dashboard')

/** Starts the app fixture on `url`'s database; resolves with it and its servers' URLs. */
export async function startApp (url) {
  const app = start('dashboard-app.mjs', [], { env: { MONGO_URL: url } })
  await app.until((r) => r.reports.some((x) => x.kind === 'listening'), 'the app listens')
  const { express, http } = app.reports.find((x) => x.kind === 'listening')
  return { app, express, http }
}

export async function stopApp (app) {
  if (app.code === null && app.signal === null) {
    app.child.kill('SIGTERM')
    await app.exited
  }
}

/**
 * Writes tasks in upstream's shape: 70 scheduled for later (LATER and
 * OTHER, for paging), and one failed task whose _id, type, data and error
 * hold markup. Returns the markup task's _id.
 */
export async function seed (url) {
  const now = Date.now()
  const docs = []
  for (let i = 0; i < 70; i++) {
    docs.push({
      _id: `seed${String(i).padStart(3, '0')}`,
      taskType: i % 2 ? 'LATER' : 'OTHER',
      priority: i % 5,
      data: { n: i, html: MARKUP },
      createdAt: new Date(now - i * 60000),
      dueDate: new Date(now + 3600000 + i * 1000),
      onGoing: false
    })
  }
  const markupId = `x${MARKUP}`
  docs.push({
    _id: markupId,
    taskType: `T${MARKUP}`,
    priority: 3,
    data: { html: MARKUP, when: new Date(now) },
    createdAt: new Date(now),
    dueDate: new Date(now),
    onGoing: false,
    failed: true,
    attempts: 1,
    lastError: { name: 'Error', message: MARKUP, stack: `Error: ${MARKUP}\n    at task (app.js:1:1)` },
    failedAt: new Date(now)
  })
  await withDb(url, (db) => db.collection('taskQueue').insertMany(docs))
  return markupId
}

/** A task written straight into the collection (the master claims it). */
export function addDoc (url, doc) {
  const now = new Date()
  return withDb(url, (db) => db.collection('taskQueue').insertOne({
    priority: 1, data: {}, createdAt: now, dueDate: now, onGoing: false, ...doc
  }))
}

/** Polls `check()` (async) until it gives a truthy value, which it returns; fails naming `what`. */
export async function eventually (check, what, timeout = 30000) {
  const until = Date.now() + timeout
  let last
  while (Date.now() < until) {
    try {
      last = await check()
      if (last) return last
    } catch (error) {
      last = error
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`not within ${timeout} ms: ${what} (last: ${last && (last.stack || JSON.stringify(last))})`)
}

/**
 * Runs the standalone command with `args`; resolves once it printed the
 * URL it serves on, with `{ child, url, output }`.
 */
export function startStandalone (args, env = {}) {
  const child = spawn(process.execPath, [join(root, 'bin', 'meteor-cluster.js'), ...args], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  return new Promise((resolve, reject) => {
    const look = (chunk) => {
      output += chunk
      const match = /serving \S+ on (http:\/\/\S+?)\/?(\s|$)/.exec(output)
      if (match) resolve({ child, url: match[1], output: () => output })
    }
    child.stdout.setEncoding('utf8').on('data', look)
    child.stderr.setEncoding('utf8').on('data', look)
    child.on('exit', (code) => reject(Object.assign(new Error(`the command exited (${code}): ${output}`), { code, output })))
  })
}

/** Runs the command to its end: `{ code, output }`. */
export function runStandalone (args, env = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'bin', 'meteor-cluster.js'), ...args], { env: { ...process.env, ...env } })
    let output = ''
    child.stdout.on('data', (c) => { output += c })
    child.stderr.on('data', (c) => { output += c })
    child.on('exit', (code) => resolve({ code, output }))
  })
}

/**
 * A headless Chromium (Debian's, found by scripts/ensure-test-deps.mjs),
 * driven by playwright-core, which never downloads a browser and gives
 * each launch a fresh profile of its own. A missing
 * Chromium fails the test with the command that installs it.
 */
export async function launchChromium () {
  const { findChromium } = await import('../scripts/ensure-test-deps.mjs')
  const found = findChromium()
  if (!found) {
    throw new Error('no Chromium for the browser tests: run `node scripts/ensure-test-deps.mjs chromium` (apt-get install chromium, as root), or set CHROME_PATH')
  }
  const { chromium } = await import('playwright-core')
  const executablePath = found.includes('/') ? found : await which(found)
  return chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync']
  })
}

function which (name) {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', `command -v ${name}`])
    let out = ''
    child.stdout.on('data', (c) => { out += c })
    child.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`${name} not on PATH`))))
  })
}

export function shotsDir () {
  mkdirSync(SHOTS, { recursive: true })
  return SHOTS
}
