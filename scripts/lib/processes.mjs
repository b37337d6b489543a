// Processes a script started, found again by a tag in their environment
// (which every child inherits), so they can all be stopped however the
// script ends.
import { readdirSync, readFileSync } from 'node:fs'

/** Pids of the live processes (this one aside) whose environment has `name=value`. */
export function taggedPids (name, value) {
  const needle = Buffer.from(`${name}=${value}\0`)
  const pids = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      if (readFileSync(`/proc/${entry}/environ`).includes(needle)) pids.push(Number(entry))
    } catch {}
  }
  return pids
}

/** SIGKILLs each pid; one already gone is fine. */
export function killPids (pids) {
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL') } catch {}
  }
}
