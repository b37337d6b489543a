// Runs a fixture script as a real master process (which starts real worker
// processes) and collects what it reports: lines "@@<json>" on stdout.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { existsSync, readFileSync } from 'node:fs'

export const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures')

/**
 * Starts `fixtures/<file>` with `args` on the Node binary `execPath` (this
 * one by default); `onReport` sees each report as it comes. The result's
 * `until(check, what)` resolves once `check(result)` holds, looked at on
 * each report and each chunk of stderr (no polling); `tell(line)` writes a
 * line to the fixture's stdin (see `heard` in fixtures/report.mjs).
 */
export function start (file, args = [], { env = {}, onReport = () => {}, execPath = process.execPath } = {}) {
  const child = spawn(execPath, [join(fixtures, file), ...args], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  // A fixture that exits early closes its stdin: a late tell() must not throw.
  child.stdin.on('error', () => {})
  const result = { name: `${file} ${args.join(' ')}`.trim(), reports: [], stdout: '', stderr: '', code: null, signal: null }
  const waiters = new Set()
  const look = () => {
    for (const waiter of waiters) waiter()
  }
  let partial = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk) => {
    result.stdout += chunk
    const lines = (partial + chunk).split('\n')
    partial = lines.pop()
    for (const line of lines) {
      if (line.startsWith('@@')) {
        const report = JSON.parse(line.slice(2))
        result.reports.push(report)
        onReport(report, child)
        look()
      }
    }
  })
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk) => {
    result.stderr += chunk
    look()
  })
  result.exited = new Promise((resolve) => child.on('close', (code, signal) => {
    result.code = code
    result.signal = signal
    look()
    resolve(result)
  }))
  result.child = child
  result.tell = (line) => child.stdin.write(`${line}\n`)
  /**
   * Resolves once `check(result)` is true; rejects (with the output so far)
   * if the fixture exits first or `timeout` ms pass: a generous bound for
   * a failure, not a timing to meet.
   */
  result.until = (check, what, timeout = 30000) => new Promise((resolve, reject) => {
    let timer = null
    const end = (error) => {
      waiters.delete(waiter)
      clearTimeout(timer)
      if (error) reject(new Error(`${result.name}: ${error}: ${what}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`))
      else resolve(result)
    }
    const waiter = () => {
      if (check(result)) end()
      else if (result.code !== null || result.signal !== null) end('exited before')
    }
    timer = setTimeout(() => end(`not within ${timeout} ms`), timeout)
    waiters.add(waiter)
    waiter()
  })
  return result
}

/** Runs a fixture to its end; fails (with its output) if it takes over `timeout` ms. */
export function run (file, args = [], { timeout = 30000, ...options } = {}) {
  return finished(start(file, args, options), timeout)
}

/** Waits for a started fixture to end; kills it and fails (with its output) after `timeout` ms. */
export async function finished (result, timeout = 30000) {
  let timer
  const timedOut = new Promise((resolve, reject) => {
    timer = setTimeout(() => {
      result.child.kill('SIGKILL')
      reject(new Error(`${result.name} did not exit within ${timeout} ms\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`))
    }, timeout)
  })
  try {
    return await Promise.race([result.exited, timedOut])
  } finally {
    clearTimeout(timer)
  }
}

/** The reports of one kind. */
export function reportsOf (result, kind) {
  return result.reports.filter((r) => r.kind === kind)
}

export function alive (pid) {
  return existsSync(`/proc/${pid}`) && !/State:\s+Z/.test(readStatus(pid))
}

function readStatus (pid) {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return ''
  }
}

/**
 * Waits until `check()` is true, polling every `every` ms, up to `timeout`
 * ms; returns its last value. Only for what gives no event: whether a
 * process still exists (/proc). A fixture's reports and output have
 * `until` (see `start`).
 */
export async function waitFor (check, timeout = 10000, every = 50) {
  const until = Date.now() + timeout
  while (Date.now() < until) {
    if (check()) return true
    await new Promise((resolve) => setTimeout(resolve, every))
  }
  return check()
}
