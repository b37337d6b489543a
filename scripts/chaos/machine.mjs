// Where a chaos run ran: the addon build it loaded (its timing, not its
// verdict, depends on it), the commit, Node and the machine's load.
import os from 'node:os'
import { buildProfile, gitCommit } from '../lib/build-info.mjs'

/** What the report records of the machine, at the end of the run. */
export function machineInfo (root) {
  const cpus = os.cpus()
  return {
    commit: gitCommit(root) ?? 'unknown commit',
    build: buildProfile(root),
    node: process.version,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'CPU',
    loadAverageAtEnd: os.loadavg().map((l) => Number(l.toFixed(2)))
  }
}

/** One line for the report. */
export function machineLine (info) {
  return `meteor-cluster ${info.commit} (${info.build} build), Node ${info.node}, ` +
    `${info.cpus} × ${info.cpuModel}, load average at the end ${info.loadAverageAtEnd.map((l) => l.toFixed(2)).join(' ')}`
}
