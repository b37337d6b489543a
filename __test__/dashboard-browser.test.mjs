// The dashboard in a real headless Chromium (Debian's, driven by
// playwright-core): mounted in Express and at a sub-path of a plain http
// server, and standalone. What a user does: see the counts, filter, open a
// task, retry a failed one and see it run, cancel a running one, watch a
// progress bar move, pause a master; with markup in every field shown as
// text, at desktop and phone width, by keyboard. A screenshot of each page
// goes to test-output/dashboard/.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { setup, teardown, freshUrl } from './mongo.mjs'
import { startApp, stopApp, seed, addDoc, MARKUP, launchChromium, shotsDir, startStandalone } from './dashboard-helpers.mjs'

let url
let app
let E
let H
let markupId
let browser
const errors = []

before(async () => {
  await setup()
  url = freshUrl()
  markupId = await seed(url)
  ;({ app, express: E, http: H } = await startApp(url))
  browser = await launchChromium()
})
after(async () => {
  if (browser) await browser.close()
  if (app) await stopApp(app)
  await teardown()
})

/**
 * A page at `width`; script errors, CSP violations and assets that did not
 * load are collected in `errors`. (An API answer of 404 is the page's own
 * business: a task that is gone.)
 */
async function open (target, { width = 1280, height = 900 } = {}) {
  const page = await browser.newPage({ viewport: { width, height } })
  page.on('console', (m) => {
    if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) errors.push(`${target}: ${m.text()}`)
  })
  page.on('pageerror', (e) => errors.push(`${target}: ${e}`))
  page.on('response', (r) => {
    if (!r.url().includes('/api/') && r.status() >= 400) errors.push(`${r.url()}: ${r.status()}`)
  })
  await page.goto(target)
  return page
}

const shot = (page, name) => page.screenshot({ path: join(shotsDir(), `${name}.png`), fullPage: true })

/** Markup from the queue never became elements or ran. */
async function assertInert (page) {
  assert.equal(await page.evaluate(() => window.__xss), undefined, 'no markup ran')
  assert.equal(await page.locator('main img, main script, main b').count(), 0, 'no markup became elements')
}

/** Clicks an action button and confirms in the page's dialog. */
async function actAndConfirm (page, name) {
  await page.getByRole('button', { name, exact: true }).click()
  const dialog = page.locator('dialog#confirm')
  await dialog.waitFor({ state: 'visible' })
  await dialog.getByRole('button', { name: 'Go back' }).waitFor()
  await page.locator('#confirm-ok').click()
}

test('overview (Express at /jobs): counts per type and state, markup in a task type shown as text, the chart; no console error or CSP violation', async () => {
  const page = await open(`${E}/jobs/`)
  await page.locator('table').first().waitFor()
  await page.getByRole('link', { name: `T${MARKUP}`, exact: true }).waitFor()
  const later = page.locator('tr', { has: page.getByRole('link', { name: 'LATER', exact: true }) })
  assert.match(await later.innerText(), /35/)
  await page.locator('.chart canvas').first().waitFor()
  assert.match(await page.locator('#counts-note').innerText(), /Counted .* ago/)
  const limits = page.locator('section[aria-labelledby="limits-title"] tbody tr')
  await limits.first().waitFor()
  assert.match(await limits.first().innerText(), /^OK\s+5\s+\d+\s+1,000 per 1 min\s+\d+\s+–\s+\d+$/)
  await assertInert(page)
  await shot(page, 'overview')
  await page.setViewportSize({ width: 390, height: 844 })
  await shot(page, 'overview-phone')
  const width = await page.evaluate(() => document.documentElement.scrollWidth)
  assert.ok(width <= 390, `no sideways scroll of the page at phone width (${width}px)`)
  await page.close()
  assert.deepEqual(errors, [])
})

test('the task list: filter by type and state, page by cursor, open a task whose fields hold markup, shown as text', async () => {
  const page = await open(`${E}/jobs/#/tasks`)
  await page.locator('tbody tr').first().waitFor()
  await page.getByLabel('Type').fill('OTHER')
  await page.getByLabel('State').selectOption('scheduled')
  await page.getByRole('button', { name: 'Apply' }).click()
  await page.waitForFunction(() => location.hash.includes('type=OTHER'))
  await page.waitForFunction(() => [...document.querySelectorAll('tbody tr td:nth-child(2)')].every((td) => td.textContent === 'OTHER') &&
    document.querySelectorAll('tbody tr').length > 0)
  const types = await page.locator('tbody tr td:nth-child(2)').allInnerTexts()
  assert.ok(types.length > 0 && types.length <= 35)
  assert.ok(types.every((t) => t === 'OTHER'))
  await shot(page, 'tasks-filtered')

  await page.goto(`${E}/jobs/#/tasks?prefix=seed`)
  await page.locator('#next-page').waitFor()
  const first = await page.locator('tbody tr td.id').allInnerTexts()
  assert.equal(first.length, 50)
  // A refresh keeps a keyboard user's focus on the same control.
  await page.locator('tbody tr td.id a').nth(3).focus()
  const focusedBefore = await page.evaluate(() => document.activeElement.textContent)
  const refreshed = await page.evaluate(() => document.querySelector('#status').textContent)
  await page.waitForFunction((before) => document.querySelector('#status').textContent !== before, refreshed)
  assert.equal(await page.evaluate(() => document.activeElement.textContent), focusedBefore, 'the focus survives a refresh')
  await page.locator('#next-page').click()
  await page.waitForFunction(() => /Page 2/.test(document.querySelector('main p.muted').textContent))
  const second = await page.locator('tbody tr td.id').allInnerTexts()
  assert.equal(second.length, 20)
  assert.equal(new Set([...first, ...second]).size, 70, 'each task once')
  await shot(page, 'tasks')
  await page.setViewportSize({ width: 390, height: 844 })
  await shot(page, 'tasks-phone')

  await page.setViewportSize({ width: 1280, height: 900 })
  await page.goto(`${E}/jobs/#/tasks?state=failed`)
  await page.getByRole('link', { name: markupId, exact: true }).click()
  await page.locator('#data').waitFor()
  assert.match(await page.locator('#data').innerText(), /"html": "<img src=x onerror=\\"window.__xss=1\\"><script>/)
  assert.match(await page.locator('#data').innerText(), /"when": \{\s+"\$date": \d+/, 'dates in data as EJSON')
  assert.equal(await page.locator('#last-error').innerText(), `Error: ${MARKUP}`)
  assert.match(await page.locator('main h2').first().innerText(), /Task x<img/)
  await assertInert(page)
  await shot(page, 'task-markup')
  await page.setViewportSize({ width: 390, height: 844 })
  await shot(page, 'task-markup-phone')
  await page.close()
  assert.deepEqual(errors, [])
})

test('retry a failed task from its page and see it run (it leaves the queue)', async () => {
  const marker = `/tmp/mc-flaky-browser-${process.pid}-${Date.now()}`
  await addDoc(url, { _id: 'flakyB', taskType: 'FLAKY', data: { marker } })
  await app.until((r) => r.reports.some((x) => x.kind === 'error' && x.id === 'flakyB'), 'flakyB failed once')
  const page = await open(`${E}/jobs/#/task/flakyB`)
  await page.locator('#last-error', { hasText: 'first run fails' }).waitFor()
  await shot(page, 'task-failed')
  await actAndConfirm(page, 'Retry')
  await app.until((r) => r.reports.some((x) => x.kind === 'done' && x.id === 'flakyB'), 'flakyB ran after the retry')
  await page.locator('#gone').waitFor()
  assert.match(await page.locator('#gone').innerText(), /gone/)
  await page.close()
  assert.match(app.stdout, /user "tester" retry task "flakyB"/)
  assert.deepEqual(errors, [])
})

test('watch a progress bar move, then cancel the running task', async () => {
  await addDoc(url, { _id: 'stepsB', taskType: 'STEPS', data: { steps: 40, every: 300 } })
  const page = await open(`${E}/jobs/#/task/stepsB`)
  const bar = page.locator('#progress progress')
  await bar.waitFor()
  const first = Number(await bar.getAttribute('value'))
  await page.waitForFunction((before) => Number(document.querySelector('#progress progress').value) > before, first)
  const later = Number(await bar.getAttribute('value'))
  assert.ok(later > first, `the bar moved (${first} -> ${later})`)
  await shot(page, 'task-progress')
  await actAndConfirm(page, 'Cancel')
  await app.until((r) => r.reports.some((x) => x.kind === 'error' && x.id === 'stepsB' && x.code === 'ERR_TASK_CANCELLED'), 'stepsB cancelled')
  await page.locator('#last-error').waitFor()
  assert.match(await page.locator('#last-error').innerText(), /ERR_TASK_CANCELLED/)
  await page.close()
  assert.deepEqual(errors, [])
})

test('a plain http server at /admin/queue: the masters view shows the workers, and a running task with its elapsed time; pause and resume by keyboard', async () => {
  await addDoc(url, { _id: 'blockB', taskType: 'BLOCK' })
  const page = await open(`${H}/admin/queue/`)
  await page.locator('table').first().waitFor()
  // To the Masters link by keyboard: skip link, home, Overview, Tasks, Masters.
  for (let i = 0; i < 5; i++) await page.keyboard.press('Tab')
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Masters')
  await page.keyboard.press('Enter')
  await page.waitForFunction(() => location.hash === '#/masters')
  await page.locator('td.id a', { hasText: 'blockB' }).waitFor()
  const row = page.locator('tr', { has: page.locator('td.id a', { hasText: 'blockB' }) })
  assert.match(await row.innerText(), /running/)
  await shot(page, 'masters')
  await page.setViewportSize({ width: 390, height: 844 })
  await shot(page, 'masters-phone')
  await page.setViewportSize({ width: 1280, height: 900 })
  await page.getByRole('button', { name: 'Pause', exact: true }).focus()
  await page.keyboard.press('Enter')
  await page.locator('dialog#confirm').waitFor({ state: 'visible' })
  await page.keyboard.press('Enter') // the confirm button has the focus
  await page.getByRole('button', { name: 'Resume', exact: true }).waitFor()
  await page.locator('.badge.paused').waitFor()
  await actAndConfirm(page, 'Resume')
  await page.getByRole('button', { name: 'Pause', exact: true }).waitFor()
  await page.goto(`${H}/admin/queue/#/task/blockB`)
  await actAndConfirm(page, 'Cancel')
  await app.until((r) => r.reports.some((x) => x.kind === 'error' && x.id === 'blockB'), 'blockB cancelled')
  await page.close()
  assert.deepEqual(errors, [])
})

test('the standalone command: the same dashboard from the collection and the registry', async () => {
  const s = await startStandalone(['dashboard', '--mongo-url', url, '--port', '0'])
  try {
    const page = await open(`${s.url}/`)
    await page.getByRole('link', { name: 'LATER', exact: true }).waitFor()
    await assertInert(page)
    await shot(page, 'standalone-overview')
    await page.goto(`${s.url}/#/masters`)
    await page.locator('section.master').first().waitFor()
    assert.equal(await page.locator('section.master').count(), 1)
    await shot(page, 'standalone-masters')
    await page.close()
  } finally {
    s.child.kill('SIGTERM')
  }
  assert.deepEqual(errors, [])
})
