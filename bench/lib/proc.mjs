// Memory of processes, from /proc (Linux): a process's peak and current
// resident set, and the descendants of a process (a pool's workers).
import { readFileSync, readdirSync } from 'node:fs'

/** `VmHWM` (peak resident set) or `VmRSS` of `pid`, in MiB; null when unreadable. */
export function vmMiB (pid, field) {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) / 1024 : null
  } catch {
    return null
  }
}

/** Pids of the live descendants of `pid` (children, their children, …). */
export function descendants (pid) {
  const parentOf = new Map()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]))
    } catch {}
  }
  const found = []
  let frontier = [pid]
  while (frontier.length > 0) {
    const next = []
    for (const [child, parent] of parentOf) if (frontier.includes(parent)) next.push(child)
    found.push(...next)
    frontier = next
  }
  return found
}
