// Where a chaos run ran: the addon build it loaded (its timing, not its
// verdict, depends on it), the commit, Node and the machine's load.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'

function sameFile (a, b) {
  try {
    return statSync(a).size === statSync(b).size && readFileSync(a).equals(readFileSync(b))
  } catch {
    return false
  }
}

/** 'release', 'debug', 'unknown' or 'missing', by comparing the loaded .node with cargo's outputs. */
function buildProfile (root) {
  const addon = readdirSync(root).find((f) => f.endsWith('.node'))
  if (!addon) return 'missing'
  for (const profile of ['release', 'debug']) {
    for (const dir of [join(root, 'target', 'x86_64-unknown-linux-gnu', profile), join(root, 'target', profile)]) {
      if (sameFile(join(root, addon), join(dir, 'libmeteor_cluster.so'))) return profile
    }
  }
  return 'unknown'
}

function commit (root) {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'lib', 'index.js'], { cwd: root, encoding: 'utf8' }).trim()
    return dirty ? `${sha} with uncommitted changes in src/lib` : sha
  } catch {
    return 'unknown commit'
  }
}

/** One line for the report. */
export function machineLine (root) {
  const cpus = os.cpus()
  return `meteor-cluster ${commit(root)} (${buildProfile(root)} build), Node ${process.version}, ` +
    `${cpus.length} × ${cpus[0]?.model ?? 'CPU'}, load average at the end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`
}
