// What a user on a platform without an addon is told, and the platform list
// kept in step: package.json's napi.targets, npm/<id>/ and the release workflow.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import { fixtures } from './helpers.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const platforms = createRequire(import.meta.url)('../lib/platforms.js')
const supportedIds = platforms.supported().map((t) => t.id)

/** `new Cluster` in a process that looks like `fake` ("freebsd-x64"); what it threw. */
function errorOn (fake) {
  const script = `const { Cluster } = require(${JSON.stringify(root)})
    try { new Cluster({ T: () => 1 }); console.log('null') } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })) }`
  const result = spawnSync(process.execPath, ['-r', join(fixtures, 'fake-platform.cjs'), '-e', script], {
    env: { ...process.env, FAKE_PLATFORM: fake },
    encoding: 'utf8'
  })
  assert.equal(result.status, 0, result.stderr)
  const error = JSON.parse(result.stdout)
  assert.ok(error, `new Cluster did not throw on ${fake}`)
  assert.equal(error.code, 'METEOR_CLUSTER_NO_ADDON', 'never a bare MODULE_NOT_FOUND')
  return error.message
}

test('on a platform without a prebuilt addon, new Cluster names it, lists the supported ones and says how to build', () => {
  const message = errorOn('freebsd-x64')
  assert.match(message, /no prebuilt addon for this platform \(freebsd x64, platform id freebsd-x64\)/)
  assert.match(message, new RegExp(`Prebuilt addons exist for: ${supportedIds.join(', ')}\\.`))
  assert.match(message, /install Rust .*npm install && npm run build/)
})

test('on a supported platform whose package was not installed, the error names the missing optional dependency', () => {
  const message = errorOn('linux-arm64')
  assert.match(message, /linux arm64 with (glibc|musl), platform id linux-arm64-(gnu|musl)\) is missing/)
  assert.match(message, /optional dependency meteor-cluster-linux-arm64-(gnu|musl) was not installed/)
  assert.match(message, /npm run build/)
})

test('on Windows, the error says it is not supported and why', () => {
  assert.match(errorOn('win32-x64'), /Windows is not supported: .*socketpairs.*posix_spawn.*WSL 2/)
})

test('every napi target has npm/<id>/package.json with its os, cpu and libc, and a build in the release workflow', () => {
  const { version, engines } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  const workflow = readFileSync(join(root, '.github', 'workflows', 'release.yml'), 'utf8')
  assert.deepEqual(supportedIds, ['linux-x64-gnu', 'linux-x64-musl', 'linux-arm64-gnu', 'linux-arm64-musl', 'darwin-x64', 'darwin-arm64'])
  for (const target of platforms.supported()) {
    const pkg = JSON.parse(readFileSync(join(root, 'npm', target.id, 'package.json'), 'utf8'))
    assert.equal(pkg.name, `meteor-cluster-${target.id}`)
    assert.equal(pkg.version, version, `npm/${target.id} is at the main package's version`)
    assert.equal(pkg.main, `meteor-cluster.${target.id}.node`)
    assert.deepEqual(pkg.files, [pkg.main])
    assert.deepEqual([pkg.os, pkg.cpu, pkg.libc], [[target.os], [target.cpu], target.libc ? [target.libc] : undefined])
    assert.deepEqual(pkg.engines, engines)
    assert.match(workflow, new RegExp(`target: ${target.triple} \\}`), `the release workflow builds ${target.triple}`)
    assert.match(workflow, new RegExp(`platform: ${target.id},`), `the release workflow tests ${target.id}`)
  }
})
