// Processes as /proc shows them. Pids are reused (pid_max is 32768 here, and
// every thread takes one), so a chaos run names a process by its pid and its
// start time together: `<pid>@<start>`, the same in every journal.
import { readFileSync } from 'node:fs'

/** `{ state, ppid, start }` of process `pid`, or null if it is gone. */
export function processInfo (pid) {
  let stat
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return null
  }
  // The command name is in parentheses and may hold anything: read after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 of proc(5): state; 4: ppid; 22: starttime.
  return { state: fields[0], ppid: Number(fields[1]), start: fields[19] }
}

/** `<pid>@<start>` of a live process, or null. */
export function processName (pid) {
  const info = processInfo(pid)
  return info === null ? null : `${pid}@${info.start}`
}
