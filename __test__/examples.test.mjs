// The runnable examples, run as a user runs them (`node examples/<name>.mjs`
// from the repository root, on the built addon): each exits by itself with
// code 0 and prints what its header comment says.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

/** Runs `examples/<name>.mjs`; its stdout lines, stderr, code and signal. */
function example (name, timeout = 30000) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`examples/${name}.mjs`], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk) => { stdout += chunk })
    child.stderr.setEncoding('utf8').on('data', (chunk) => { stderr += chunk })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`examples/${name}.mjs did not exit within ${timeout} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`))
    }, timeout)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const result = { lines: stdout.split('\n').filter((line) => line !== ''), stdout, stderr, code, signal }
      assert.equal(signal, null, `killed by ${signal}\n${stderr}`)
      assert.equal(code, 0, `exit code ${code}\nstdout:\n${stdout}\nstderr:\n${stderr}`)
      assert.doesNotMatch(stderr, /Unhandled|unhandledRejection|nothing awaited or caught/, stderr)
      resolve(result)
    })
  })
}

/** The lines that match `pattern`, in order. */
const matching = (result, pattern) => result.lines.filter((line) => pattern.test(line))

test('examples/basic.mjs runs the upstream README\'s tasks and exits', async () => {
  const result = await example('basic')
  assert.equal(matching(result, /^done: /).length, 7, result.stdout)
  assert.equal(matching(result, /^error: /).length, 0)
  assert.ok(result.lines.includes('this is a synchrone task'))
  assert.ok(result.lines.includes('this is an asynchrone task'))
})

test('examples/ipc.mjs: a single exchange, a chained one and one ended by closeIPC, with the worker id in each message', async () => {
  const result = await example('ipc')
  const broker = matching(result, /^master got /)
  assert.equal(broker.length, 4, result.stdout)
  for (const line of broker) assert.match(line, /from worker \d+$/)
  assert.deepEqual(matching(result, / done: /), [
    'PING done: "worker got pong"',
    'CHAINED done: ["pong","pong again"]',
    'CLOSED done: {"answer":"the answer to \\"life\\" is 42"}'
  ])
  // The chained task's two messages come before its result.
  const chained = result.lines.indexOf('CHAINED done: ["pong","pong again"]')
  assert.match(result.lines[chained - 1], /^master got "again" \(status 5\)/)
  assert.match(result.lines[chained - 2], /^master got "ping" \(status 4\)/)
})

test('examples/recurring.mjs: an every-series runs 3 times on its grid and is ended by removeById; a cron series is rescheduled to 03:00 Paris time', async () => {
  const result = await example('recurring')
  assert.equal(result.lines[0], 'added series heartbeat; adding it again resolved with heartbeat and queued nothing (1 task queued)')
  const beats = matching(result, /^heartbeat \d: /)
  assert.equal(beats.length, 3, result.stdout)
  const offsets = beats.map((line) => Number(line.match(/\+(\d+) ms$/)[1]))
  assert.equal(offsets[0], 0)
  for (let i = 1; i < offsets.length; i++) {
    assert.ok(offsets[i] > offsets[i - 1] && offsets[i] % 300 === 0, `on the 300 ms grid: ${offsets}`)
  }
  assert.match(matching(result, /^nightly report: /)[0], /^nightly report: report sent; next run \d\d\/\d\d\/\d{4}, 03:00 \(Paris time\)$/)
  assert.ok(result.lines.includes('nightly report series ended'))
  assert.ok(result.lines.includes('heartbeat series ended (removed heartbeat)'))
  assert.equal(result.lines[result.lines.length - 1], 'no series left: exiting')
})

test('examples/retry.mjs: a flaky task retried with exponential backoff succeeds on its third attempt; one whose retries are spent fails once', async () => {
  const result = await example('retry')
  const a = matching(result, /^order A: /)
  assert.equal(a.length, 3, result.stdout)
  assert.match(a[0], /^order A: attempt 1 failed \(payment service answered 503: try again later\); next attempt in about \d+ ms$/)
  assert.match(a[1], /^order A: attempt 2 failed /)
  assert.equal(a[2], 'order A: done: order A charged on call 3')
  const waits = a.slice(0, 2).map((line) => Number(line.match(/about (\d+) ms/)[1]))
  assert.ok(waits[1] > waits[0], `exponential: the second wait is longer (${waits})`)
  assert.deepEqual(matching(result, /^order B: /).map((line) => line.replace(/about \d+ ms/, 'about N ms')), [
    'order B: attempt 1 failed (payment service answered 503: try again later); next attempt in about N ms',
    'order B: failed for good: payment service answered 503: try again later'
  ])
  // Each failed attempt is logged too: A's 2, B's 2.
  assert.equal(matching({ lines: result.stderr.split('\n') }, /:nschwarz:cluster:ERROR task CHARGE:/).length, 4, result.stderr)
})

test('examples/graceful-shutdown.mjs: on SIGTERM, close({ timeout }) lets the short task finish and hands back the long one, not failed', async () => {
  const result = await example('graceful-shutdown')
  assert.deepEqual(result.lines, [
    'SIGTERM: closing, waiting up to 2000 ms for running tasks',
    'SHORT done: short task finished',
    'closed; still queued: LONG (onGoing: false), LATER (onGoing: false)'
  ])
  assert.match(result.stderr, /close\(\): worker \d+ still runs a task after the timeout; stopping it/)
})

test('examples/progress-and-cancel.mjs: progress events in order, a queued task cancelled at once, a running one through its signal with the reason as its message', async () => {
  const result = await example('progress-and-cancel')
  assert.deepEqual(matching(result, /^first: /), ['first: 20%', 'first: 40%', 'first: 60%', 'first: 80%', 'first: 100%', 'first: 5 batches imported'])
  assert.deepEqual(matching(result, /^third: /), ['third: ERR_TASK_CANCELLED: not needed after all'])
  assert.deepEqual(matching(result, /^second: /), ['second: 20%', 'second: ERR_TASK_CANCELLED: the upload was withdrawn'])
  assert.deepEqual(matching(result, /^cancelled /), ['cancelled 1 task', 'cancelled 1 task'])
  assert.deepEqual(matching(result, /^workers running: /), ['workers running: IMPORT'])
})
