// Where a chaos run ran: the addon build it loaded (its timing, not its
// verdict, depends on it), the commit, Node and the machine's load.
import os from 'node:os'
import { buildProfile, gitCommit } from '../lib/build-info.mjs'

/** One line for the report. */
export function machineLine (root) {
  const cpus = os.cpus()
  return `meteor-cluster ${gitCommit(root) ?? 'unknown commit'} (${buildProfile(root)} build), Node ${process.version}, ` +
    `${cpus.length} × ${cpus[0]?.model ?? 'CPU'}, load average at the end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`
}
