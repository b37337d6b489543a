// Builds the release addon for one Rust target into
// npm/<id>/meteor-cluster.<id>.node, the file that target's platform package
// ships. The release workflow runs it once per target; `npm run package`
// runs it for this machine.
//
//   node scripts/build-release.mjs [--target <triple>] [--force]
//
// Linux targets are built with cargo-zigbuild (zig as the C compiler and
// linker; `pip install cargo-zigbuild` brings both): the gnu binary is linked
// against glibc 2.17 whatever glibc the build machine has, so it loads on
// RHEL 7-era systems, and musl ones build from any Linux host. macOS targets
// use plain cargo on a Mac. Nothing is built when the binary is newer than
// every input (src/, build.rs, Cargo.toml, Cargo.lock): re-running is cheap.
//
// Cargo's target folder is CARGO_TARGET_DIR when set, else
// ~/.cache/meteor-cluster/release-target (METEOR_CLUSTER_CACHE or
// XDG_CACHE_HOME move it): it outlives the clone, so a fresh clone on the
// same machine (every CI run) compiles only this crate again, not its
// dependencies.
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import { cacheDir } from './node-versions.mjs'
import { HOW_TO_INSTALL_ZIGBUILD, hasZigbuild, withPipScripts } from './lib/zig.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const platforms = createRequire(import.meta.url)('../lib/platforms.js')

/** The oldest glibc the linux-gnu binaries may need (the `.2.17` suffix cargo-zigbuild reads). */
export const GLIBC_FLOOR = '2.17'
const ZIGBUILD_HELP = 'cargo-zigbuild is needed for Linux targets; install it (with zig) from PyPI: ' +
  `\`${HOW_TO_INSTALL_ZIGBUILD}\` (\`node scripts/ensure-test-deps.mjs zigbuild\` does it), ` +
  'or `cargo install cargo-zigbuild` with zig on PATH'

/** Cargo's target folder for release builds (see the top of this file). */
export function releaseTargetDir () {
  return process.env.CARGO_TARGET_DIR || join(cacheDir(), 'release-target')
}

/** The supported target this machine builds natively, e.g. x86_64-unknown-linux-gnu. */
export function hostTarget () {
  const here = platforms.current()
  const match = platforms.supported().find((t) => t.id === here.id)
  if (!match) {
    throw new Error(`${platforms.describe(here)} is not among package.json's napi.targets; ` +
      'pass --target, or use `npm run build` for a local build')
  }
  return match.triple
}

/** Where the target's binary goes: npm/<id>/meteor-cluster.<id>.node. */
export function addonPath (triple) {
  const { id } = platforms.target(triple)
  return join(root, 'npm', id, `meteor-cluster.${id}.node`)
}

function newest (path) {
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  let latest = stat.mtimeMs
  for (const entry of readdirSync(path)) latest = Math.max(latest, newest(join(path, entry)))
  return latest
}

/** Whether the target's binary is newer than everything it is built from. */
export function upToDate (triple) {
  const addon = addonPath(triple)
  if (!existsSync(addon)) return false
  const inputs = ['src', 'build.rs', 'Cargo.toml', 'Cargo.lock'].map((p) => join(root, p)).filter(existsSync)
  return statSync(addon).mtimeMs > Math.max(...inputs.map(newest))
}

function run (command, args, env = process.env) {
  console.error(`meteor-cluster: ${command} ${args.join(' ')}`)
  const result = spawnSync(command, args, { cwd: root, env, stdio: 'inherit' })
  if (result.error) throw result.error
  return result.status === 0
}

/** Builds `triple` (skipped when up to date unless `force`); returns the binary's path. */
export function buildRelease (triple = hostTarget(), { force = false } = {}) {
  const target = platforms.target(triple)
  const addon = addonPath(triple)
  if (!force && upToDate(triple)) {
    console.error(`meteor-cluster: ${addon} is newer than the Rust sources; not rebuilding`)
    return addon
  }
  let args
  const env = { ...withPipScripts(), CARGO_TARGET_DIR: releaseTargetDir() }
  if (target.os === 'linux') {
    if (!hasZigbuild(env)) throw new Error(ZIGBUILD_HELP)
    // The glibc suffix tells cargo-zigbuild which glibc's symbol versions to link against.
    args = ['zigbuild', '--release', '--target', target.libc === 'glibc' ? `${triple}.${GLIBC_FLOOR}` : triple]
    // Rust's musl targets link the C runtime statically by default, and then
    // drop cdylib outputs; a .node is dlopen()ed by a Node that is itself
    // dynamically linked against musl, so link musl dynamically.
    if (target.libc === 'musl') env.RUSTFLAGS = `${env.RUSTFLAGS || ''} -C target-feature=-crt-static`.trim()
  } else {
    args = ['build', '--release', '--target', triple]
  }
  if (!run('cargo', args, env)) {
    throw new Error(`the release build for ${triple} failed (is the Rust target installed? ` +
      `rustup target add ${triple})`)
  }
  const built = join(env.CARGO_TARGET_DIR, triple, 'release', target.os === 'darwin' ? 'libmeteor_cluster.dylib' : 'libmeteor_cluster.so')
  mkdirSync(dirname(addon), { recursive: true })
  // A copy, not a link: its fresh mtime is what makes the next run skip the build.
  copyFileSync(built, addon)
  console.error(`meteor-cluster: wrote ${addon}`)
  return addon
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2)
  const at = args.indexOf('--target')
  try {
    if (at >= 0 && !args[at + 1]) throw new Error('usage: node scripts/build-release.mjs [--target <rust target triple>] [--force]')
    buildRelease(at >= 0 ? args[at + 1] : undefined, { force: args.includes('--force') })
  } catch (error) {
    console.error(`meteor-cluster: ${error.message}`)
    process.exit(1)
  }
}
