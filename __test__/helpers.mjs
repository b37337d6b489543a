// Runs a fixture script as a real master process (which starts real worker
// processes) and collects what it reports: lines "@@<json>" on stdout.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { existsSync, readFileSync } from 'node:fs'

export const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures')

/**
 * Starts `fixtures/<file>` with `args` on the Node binary `execPath` (this
 * one by default); `onReport` sees each report as it comes.
 */
export function start (file, args = [], { env = {}, onReport = () => {}, execPath = process.execPath } = {}) {
  const child = spawn(execPath, [join(fixtures, file), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const result = { reports: [], stdout: '', stderr: '', code: null, signal: null }
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
      }
    }
  })
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk) => { result.stderr += chunk })
  result.exited = new Promise((resolve) => child.on('close', (code, signal) => {
    result.code = code
    result.signal = signal
    resolve(result)
  }))
  result.child = child
  return result
}

/** Runs a fixture to its end; fails (with its output) if it takes over `timeout` ms. */
export async function run (file, args = [], { timeout = 30000, ...options } = {}) {
  const result = start(file, args, options)
  let timer
  const timedOut = new Promise((resolve, reject) => {
    timer = setTimeout(() => {
      result.child.kill('SIGKILL')
      reject(new Error(`${file} ${args.join(' ')} did not exit within ${timeout} ms\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`))
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

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Waits until `check()` is true, up to `timeout` ms; returns its last value. */
export async function waitFor (check, timeout = 10000, every = 50) {
  const until = Date.now() + timeout
  while (Date.now() < until) {
    if (check()) return true
    await sleep(every)
  }
  return check()
}
