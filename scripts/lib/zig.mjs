// cargo-zigbuild and zig, from PyPI: the release build links the Linux
// addons with them (scripts/build-release.mjs), and the test dependencies
// install them (scripts/ensure-test-deps.mjs). pip puts cargo-zigbuild in
// Python's scripts folder, which a fresh install may not have on PATH
// (pyenv's shims, for one, learn of a new script only after a rehash), so
// both add that folder to PATH themselves.
import { spawnSync } from 'node:child_process'
import { delimiter } from 'node:path'

export const ZIGBUILD_PACKAGES = ['cargo-zigbuild==0.24.1', 'ziglang==0.17.1']
export const HOW_TO_INSTALL_ZIGBUILD = `python3 -m pip install ${ZIGBUILD_PACKAGES.join(' ')}`

/** Python's scripts folder (where pip puts cargo-zigbuild), or null without python3. */
export function pipScriptsDir () {
  const probe = spawnSync('python3', ['-c', 'import sysconfig; print(sysconfig.get_path("scripts"))'], { encoding: 'utf8' })
  return probe.status === 0 ? probe.stdout.trim() : null
}

/** `env` with Python's scripts folder at the end of its PATH. */
export function withPipScripts (env = process.env) {
  const dir = pipScriptsDir()
  const path = env.PATH ?? ''
  if (!dir || path.split(delimiter).includes(dir)) return env
  return { ...env, PATH: path ? `${path}${delimiter}${dir}` : dir }
}

/** Whether `cargo zigbuild` runs and finds zig (on PATH, or `python3 -m ziglang` as pip installs it). */
export function hasZigbuild (env = withPipScripts()) {
  const ok = (command, args) => spawnSync(command, args, { env, stdio: 'ignore' }).status === 0
  return ok('cargo', ['zigbuild', '--help']) && (ok('zig', ['version']) || ok('python3', ['-m', 'ziglang', 'version']))
}
