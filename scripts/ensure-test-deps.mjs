// What the tests need beyond npm's dev dependencies and the debug addon
// (scripts/ensure-build.mjs), installed when missing, so that `npm test`
// works on a fresh clone with nothing run before it:
//
//   node scripts/ensure-test-deps.mjs               what `npm test` needs (FOR_TESTS)
//   node scripts/ensure-test-deps.mjs database zigbuild    only those
//
// One function per dependency; each is a no-op when it is already there,
// installs it otherwise, and when it cannot, throws an error that gives the
// exact command to run. The tests never skip over a missing dependency:
// they fail with the same command.
//
//   database       SecantusDB, the test MongoDB server (cargo install: the longest step)
//   zigbuild       cargo-zigbuild and zig from PyPI, for the release build
//   node-versions  Node 14.21.3 (with fibers) and Node 22, from the npm registry
//   package        the release addon and the tarballs in dist/ (`npm run package`;
//                  seconds when the addon is newer than the Rust sources)
//   chromium       a Chromium for browser tests (apt-get; root)
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ensureServer } from './mongo-server.mjs'
import { ensureNodeVersions } from './node-versions.mjs'
import { ZIGBUILD_PACKAGES, HOW_TO_INSTALL_ZIGBUILD, hasZigbuild, withPipScripts } from './lib/zig.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

/** The test database server, secantusd-rs (scripts/mongo-server.mjs). */
export function ensureDatabase () {
  ensureServer()
}

/** cargo-zigbuild and zig (pip), which `npm run package` links the release addon with. */
export function ensureZigbuild () {
  // Only Linux targets are linked with zig; a Mac builds its own with cargo.
  if (process.platform !== 'linux' || hasZigbuild()) return
  console.error(`meteor-cluster: installing ${ZIGBUILD_PACKAGES.join(' ')} (pip)…`)
  const pip = spawnSync('python3', ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check',
    '--root-user-action=ignore', ...ZIGBUILD_PACKAGES], { stdio: 'inherit' })
  if (pip.error || pip.status !== 0 || !hasZigbuild()) {
    throw new Error(`could not install cargo-zigbuild and zig; run: ${HOW_TO_INSTALL_ZIGBUILD} ` +
      '(and put Python\'s scripts folder on PATH)')
  }
}

/** Node 14.21.3 with fibers 5.0.3, and Node 22 (scripts/node-versions.mjs). */
export { ensureNodeVersions }

/**
 * The tarballs of dist/, with this machine's release addon
 * (scripts/package.mjs: the build is skipped when the addon is newer than
 * the Rust sources, the packing takes seconds).
 */
export function ensurePackage () {
  ensureZigbuild()
  const result = spawnSync(process.execPath, [join(root, 'scripts', 'package.mjs')], { cwd: root, stdio: 'inherit', env: withPipScripts() })
  if (result.error || result.status !== 0) throw new Error('could not build the release tarballs; run: npm run package')
}

/** A Chromium's path (CHROME_PATH, else chromium or a Chrome on PATH), or null. */
export function findChromium () {
  for (const candidate of [process.env.CHROME_PATH, 'chromium', 'chromium-browser', 'google-chrome']) {
    if (candidate && spawnSync(candidate, ['--version'], { stdio: 'ignore' }).status === 0) return candidate
  }
  return null
}

const HOW_TO_INSTALL_CHROMIUM = 'apt-get update && apt-get install -y chromium'

/** Chromium, for tests that drive a real browser; apt-get, as root. Returns its path. */
export function ensureChromium () {
  const found = findChromium()
  if (found) return found
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
  if (!isRoot || spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status !== 0) {
    throw new Error(`no Chromium found (set CHROME_PATH, or run as root: ${HOW_TO_INSTALL_CHROMIUM})`)
  }
  console.error(`meteor-cluster: installing Chromium (${HOW_TO_INSTALL_CHROMIUM})…`)
  const apt = spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium'], { stdio: 'inherit' })
  const installed = findChromium()
  if (apt.status !== 0 || !installed) throw new Error(`could not install Chromium; run: ${HOW_TO_INSTALL_CHROMIUM}`)
  return installed
}

/** Every dependency by name, in the order they are installed. */
export const DEPENDENCIES = {
  database: ensureDatabase,
  zigbuild: ensureZigbuild,
  'node-versions': ensureNodeVersions,
  package: ensurePackage,
  chromium: ensureChromium
}

/** What `npm test` needs (Chromium: the dashboard's browser tests). */
export const FOR_TESTS = ['database', 'zigbuild', 'node-versions', 'package', 'chromium']

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : FOR_TESTS
  const unknown = names.filter((name) => !(name in DEPENDENCIES))
  if (unknown.length > 0) {
    console.error(`meteor-cluster: unknown test dependency ${unknown.join(', ')}; known: ${Object.keys(DEPENDENCIES).join(', ')}`)
    process.exit(2)
  }
  for (const name of names) {
    const started = Date.now()
    try {
      DEPENDENCIES[name]()
    } catch (error) {
      console.error(`meteor-cluster: test dependency ${name}: ${error.message}`)
      process.exit(1)
    }
    const seconds = (Date.now() - started) / 1000
    if (seconds >= 10) console.error(`meteor-cluster: test dependency ${name} ready in ${Math.round(seconds)} s`)
  }
}
