// The test database: SecantusDB, a MongoDB-wire-compatible server from the
// Rust crate registry, started on a free port with a temporary storage
// directory. Used by the tests and the benchmarks.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir, homedir } from 'node:os'
import { join } from 'node:path'

export const SECANTUS_VERSION = '0.5.3-beta.196'
const HOW_TO_INSTALL = 'apt-get install -y cmake && ' +
  `cargo install secantus-mdb --version ${SECANTUS_VERSION} --ignore-rust-version --locked`

/** The server binary's path, or null. */
export function findServer () {
  for (const candidate of [process.env.SECANTUSD, join(homedir(), '.cargo', 'bin', 'secantusd-rs'), 'secantusd-rs']) {
    if (!candidate) continue
    const probe = spawnSync(candidate, ['--help'], { stdio: 'ignore' })
    if (probe.status === 0) return candidate
  }
  return null
}

/** Installs the server with cargo when it is missing (about 8 minutes cold). */
export function ensureServer () {
  if (findServer()) return
  console.error(`meteor-cluster: installing the test database (${HOW_TO_INSTALL})…`)
  if (spawnSync('cmake', ['--version'], { stdio: 'ignore' }).status !== 0) {
    const apt = spawnSync('sh', ['-c', 'apt-get update -qq && apt-get install -y -qq cmake'], { stdio: 'inherit' })
    if (apt.status !== 0) throw new Error(`could not install cmake; install it and run: ${HOW_TO_INSTALL}`)
  }
  const cargo = spawnSync('cargo', ['install', 'secantus-mdb', '--version', SECANTUS_VERSION, '--ignore-rust-version', '--locked'], { stdio: 'inherit' })
  if (cargo.status !== 0 || !findServer()) throw new Error(`could not install secantusd-rs; run: ${HOW_TO_INSTALL}`)
}

function launch (binary, port, dir, syncOnCommit) {
  const args = ['--host', '127.0.0.1', '--port', String(port), '--storage-path', dir,
    '--log-file-max', '16MB', '--cache-size', '256M', '--log-level', 'WARNING']
  // Without it, a write acknowledged just before a SIGKILL of the server
  // can be lost: the server, not the queue, would have lost it.
  if (syncOnCommit) args.push('--sync-on-commit')
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  return new Promise((resolve, reject) => {
    let output = ''
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`secantusd-rs did not start within 30 s:\n${output}`)) }, 30000)
    const onData = (chunk) => {
      output += chunk
      const match = /listening on 127\.0\.0\.1:(\d+)/.exec(output)
      if (match) {
        clearTimeout(timer)
        child.stdout.removeListener('data', onData)
        child.stderr.removeListener('data', onData)
        child.stdout.resume()
        child.stderr.resume()
        resolve({ child, port: Number(match[1]) })
      }
    }
    child.stdout.setEncoding('utf8').on('data', onData)
    child.stderr.setEncoding('utf8').on('data', onData)
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`secantusd-rs exited (${code}) before listening:\n${output}`)) })
  })
}

/**
 * Starts a server; `url` is its MongoDB URL (with the database `dbName`).
 * `stop()` ends it with SIGTERM (as an outage; `stop('SIGKILL')` as a
 * crash) and resolves once it has exited; `restart()` brings it back on the
 * same port with the same data. `syncOnCommit: true` makes it keep every
 * write it acknowledged through a SIGKILL.
 */
export async function startServer (dbName = 'meteor_cluster_test', { syncOnCommit = false } = {}) {
  const binary = findServer()
  if (!binary) {
    throw new Error(`the test database server secantusd-rs is not installed; \`npm test\` installs it, or run: ${HOW_TO_INSTALL}`)
  }
  const dir = mkdtempSync(join(tmpdir(), 'meteor-cluster-db-'))
  let { child, port } = await launch(binary, 0, dir, syncOnCommit)
  const server = {
    url: `mongodb://127.0.0.1:${port}/${dbName}`,
    port,
    dir,
    /** The running server's pid (a new one after each restart). */
    get pid () {
      return child.pid
    },
    async stop (signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), 15000)
      await exited
      clearTimeout(timer)
    },
    async restart () {
      await server.stop()
      child = (await launch(binary, port, dir, syncOnCommit)).child
    },
    async dispose () {
      await server.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  }
  return server
}

// `node scripts/mongo-server.mjs --ensure`: install the server if missing.
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()) && process.argv.includes('--ensure')) {
  ensureServer()
}
