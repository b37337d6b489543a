// Which addon build and commit a measurement ran on: its timings depend on
// both, so the bench and the chaos run print them with their results.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

function sameFile (a, b) {
  try {
    return statSync(a).size === statSync(b).size && readFileSync(a).equals(readFileSync(b))
  } catch {
    return false
  }
}

/** 'release', 'debug', 'unknown' or 'missing', by comparing the loaded .node with cargo's outputs. */
export function buildProfile (root) {
  const addon = readdirSync(root).find((f) => f.endsWith('.node'))
  if (!addon) return 'missing'
  // Cargo's target folder: CARGO_TARGET_DIR when the build ran with it set.
  const targets = [...new Set([process.env.CARGO_TARGET_DIR, join(root, 'target')].filter(Boolean))]
  for (const profile of ['release', 'debug']) {
    for (const dir of targets.flatMap((t) => [join(t, 'x86_64-unknown-linux-gnu', profile), join(t, profile)])) {
      if (sameFile(join(root, addon), join(dir, 'libmeteor_cluster.so'))) return profile
    }
  }
  return 'unknown'
}

/** The short commit, saying so when the code (src, lib) has uncommitted changes; null outside git. */
export function gitCommit (root) {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'lib', 'index.js', 'Cargo.toml'], { cwd: root, encoding: 'utf8' }).trim()
    return dirty ? `${sha} (with uncommitted changes in src/lib)` : sha
  } catch {
    return null
  }
}
