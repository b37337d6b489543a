// The master processes of a chaos run (scripts/chaos/master.mjs): starting
// one, killing it, restarting it under the same name, sending it commands,
// and finding its workers' pids in /proc.
import { spawn } from 'node:child_process'
import { openSync, closeSync, readFileSync, readdirSync } from 'node:fs'
import { processInfo } from './proc.mjs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const script = join(dirname(fileURLToPath(import.meta.url)), 'master.mjs')
const root = join(dirname(script), '..', '..')
/** A master that has not said it is up in this long has failed to start. */
const START_TIMEOUT_MS = 60000

export class Masters {
  /**
   * `env`: the environment of every master (MONGO_URL and the CHAOS_*
   * settings); `onRecord(record)`: each record a master prints, as it comes.
   */
  constructor ({ dir, env, onRecord }) {
    this.dir = dir
    this.env = env
    this.onRecord = onRecord
    /** name -> { child, pid, proc, up } of the current incarnation, while it lives. */
    this.running = new Map()
  }

  /** Starts master `name`; resolves with its `<pid>@<start>` once it reported `up`. */
  start (name) {
    const stderr = openSync(join(this.dir, `stderr-${name}.log`), 'a')
    const child = spawn(process.execPath, [script], {
      cwd: root,
      env: { ...this.env, CHAOS_MASTER: name },
      // Its workers inherit stderr: their errors land in the same file.
      stdio: ['pipe', 'pipe', stderr]
    })
    closeSync(stderr)
    const incarnation = { child, pid: child.pid, proc: null, up: false, exited: null }
    this.running.set(name, incarnation)
    incarnation.exited = new Promise((resolve) => child.on('exit', (code, signal) => {
      if (this.running.get(name) === incarnation) this.running.delete(name)
      resolve({ code, signal })
    }))
    // A write to a master that just died fails; the harness accounts for
    // that command from its own journal.
    child.stdin.on('error', () => {})
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(new Error(`master ${name} (pid ${child.pid}) did not start within ${START_TIMEOUT_MS} ms; see ${join(this.dir, `stderr-${name}.log`)}`))
      }, START_TIMEOUT_MS)
      incarnation.exited.then(({ code, signal }) => {
        clearTimeout(timer)
        if (!incarnation.up) reject(new Error(`master ${name} exited (${code ?? signal}) before it was up; see ${join(this.dir, `stderr-${name}.log`)}`))
      })
      let partial = ''
      child.stdout.setEncoding('utf8').on('data', (chunk) => {
        const lines = (partial + chunk).split('\n')
        partial = lines.pop()
        for (const line of lines) {
          if (!line.startsWith('@@')) continue
          const record = JSON.parse(line.slice(2))
          if (record.event === 'up') {
            incarnation.up = true
            incarnation.proc = record.proc
            clearTimeout(timer)
            resolve(record.proc)
          }
          this.onRecord(record)
        }
      })
    })
  }

  /** Master `name` as `<pid>@<start>` if it is running, else null. */
  proc (name) {
    return this.running.get(name)?.proc ?? null
  }

  /** Sends a command; false when master `name` is not running. */
  send (name, command) {
    const incarnation = this.running.get(name)
    if (!incarnation || !incarnation.up) return false
    incarnation.child.stdin.write(JSON.stringify(command) + '\n')
    return true
  }

  /** SIGKILLs master `name`; resolves once it has exited. */
  async kill (name) {
    const incarnation = this.running.get(name)
    if (!incarnation) return
    incarnation.child.kill('SIGKILL')
    await incarnation.exited
  }

  /**
   * Asks every running master to close (running tasks finish, claims are
   * handed back); one that has not exited within `graceMs` is SIGKILLed.
   * Resolves with the names of those that had to be killed.
   */
  async closeAll (graceMs) {
    const killed = []
    await Promise.all([...this.running.entries()].map(async ([name, incarnation]) => {
      this.send(name, { op: 'close' })
      let timer
      const late = new Promise((resolve) => { timer = setTimeout(() => resolve(true), graceMs) })
      if (await Promise.race([incarnation.exited.then(() => false), late])) {
        killed.push(name)
        incarnation.child.kill('SIGKILL')
        await incarnation.exited
      }
      clearTimeout(timer)
    }))
    return killed
  }

  /**
   * The live workers of the running masters, from /proc:
   * `[{ pid, proc, master, masterProc }]` (`proc`: `<pid>@<start>`).
   */
  workers () {
    const byPid = new Map([...this.running.entries()].filter(([, i]) => i.up).map(([name, i]) => [i.pid, { name, proc: i.proc }]))
    const found = []
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue
      const info = processInfo(entry)
      if (info === null || info.state === 'Z' || !byPid.has(info.ppid) || !isWorker(entry)) continue
      const master = byPid.get(info.ppid)
      found.push({ pid: Number(entry), proc: `${entry}@${info.start}`, master: master.name, masterProc: master.proc })
    }
    return found
  }
}

/** Whether a master started this process as a worker (its initial environment says so). */
function isWorker (pid) {
  try {
    return readFileSync(`/proc/${pid}/environ`).includes('METEOR_CLUSTER_WORKER=')
  } catch {
    return false
  }
}
