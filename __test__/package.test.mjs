// The package as a user gets it: `npm run package`, then both tarballs
// installed into an empty project with no cargo on PATH, where a pool runs
// through require() and through import; and the installed addon needs
// glibc 2.17 at most.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, delimiter } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import { fixtures } from './helpers.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const platforms = createRequire(import.meta.url)('../lib/platforms.js')
const here = platforms.current().id
const mainTarball = join(root, 'dist', `meteor-cluster-${version}.tgz`)
const platformTarball = join(root, 'dist', `meteor-cluster-${here}-${version}.tgz`)

// PATH without any folder that holds cargo: the install must not need Rust.
const noCargoPath = process.env.PATH.split(delimiter).filter((dir) => dir && !existsSync(join(dir, 'cargo'))).join(delimiter)
const noCargoEnv = { ...process.env, PATH: noCargoPath }
let project = null

function sh (command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 15 * 60000, ...options })
  assert.ifError(result.error)
  assert.equal(result.status, 0, `${command} ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`)
  return result.stdout
}

const manifestIn = (tarball) => JSON.parse(sh('tar', ['xzf', tarball, '-O', 'package/package.json']))

/** Runs a fixture copied into the project; returns its report. */
function runInProject (file, extraEnv = {}) {
  const result = spawnSync(process.execPath, [file], { cwd: project, env: { ...noCargoEnv, ...extraEnv }, encoding: 'utf8', timeout: 60000 })
  assert.equal(result.status, 0, `${file} failed:\n${result.stdout}\n${result.stderr}`)
  const line = result.stdout.split('\n').find((l) => l.startsWith('@@'))
  assert.ok(line, `${file} reported nothing:\n${result.stdout}\n${result.stderr}`)
  return JSON.parse(line.slice(2))
}

before(() => {
  // Builds the release addon when the sources changed (about 5 minutes cold); npm test does it first (scripts/ensure-test-deps.mjs).
  sh('npm', ['run', 'package'], { cwd: root })
  project = mkdtempSync(join(tmpdir(), 'meteor-cluster-install-'))
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'install-test', private: true }))
  assert.notEqual(spawnSync('cargo', ['--version'], { env: noCargoEnv }).status, 0, 'cargo is still on PATH')
  // --offline: the other platform packages are optional and not on any
  // registry yet; npm skips an optional dependency it cannot fetch.
  sh('npm', ['install', '--offline', '--no-audit', '--no-fund', '--no-package-lock', mainTarball, platformTarball], { cwd: project, env: noCargoEnv })
  for (const file of ['pool.cjs', 'require.cjs', 'import.mjs']) cpSync(join(fixtures, 'installed', file), join(project, file))
})

after(() => {
  if (project) rmSync(project, { recursive: true, force: true })
})

test('npm run package writes the main and the platform tarball, versions in step', () => {
  const main = manifestIn(mainTarball)
  assert.equal(main.version, version)
  assert.deepEqual(main.optionalDependencies,
    Object.fromEntries(platforms.supported().map((t) => [`meteor-cluster-${t.id}`, version])),
    'the main package names every platform package, at its own version')
  assert.equal(main.scripts, undefined, 'no scripts that need the repository')
  assert.deepEqual(main.os, ['!win32'])
  assert.equal(main.engines.node, '>= 14.21')
  const mainFiles = sh('tar', ['tzf', mainTarball]).split('\n')
  assert.ok(mainFiles.includes('package/lib/binding.js') && mainFiles.includes('package/index.d.ts'))
  assert.ok(!mainFiles.some((f) => f.endsWith('.node')), 'no addon in the main package')
  for (const file of ['dashboard.js', 'dashboard.mjs', 'dashboard.d.ts', 'bin/meteor-cluster.js', 'lib/dashboard/index.js',
    'lib/dashboard/assets/app.js', 'lib/dashboard/assets/vendor/uPlot.iife.min.js']) {
    assert.ok(mainFiles.includes(`package/${file}`), `the dashboard ships ${file}`)
  }
  assert.deepEqual(main.bin, { 'meteor-cluster': 'bin/meteor-cluster.js' })
  assert.deepEqual(Object.keys(main.exports['./dashboard']), ['types', 'import', 'require'])

  const target = platforms.supported().find((t) => t.id === here)
  const platform = manifestIn(platformTarball)
  assert.equal(platform.name, `meteor-cluster-${here}`)
  assert.equal(platform.version, version)
  assert.deepEqual([platform.os, platform.cpu, platform.libc], [[target.os], [target.cpu], target.libc ? [target.libc] : undefined])
  assert.ok(sh('tar', ['tzf', platformTarball]).split('\n').includes(`package/meteor-cluster.${here}.node`))
})

for (const [file, how] of [['require.cjs', 'require'], ['import.mjs', 'import']]) {
  test(`installed without cargo, a pool runs through ${how === 'require' ? "require('meteor-cluster')" : "import { Cluster, TaskQueue } from 'meteor-cluster'"}`, () => {
    const report = runInProject(file)
    assert.equal(report.how, how)
    assert.deepEqual(report.results.map((r) => r.squared).sort((a, b) => a - b), [1, 4, 9, 16, 25])
    assert.deepEqual(report.addons, [join(project, 'node_modules', `meteor-cluster-${here}`, `meteor-cluster.${here}.node`)],
      'the addon comes from the platform package')
  })
}

// A glibc build must run on glibc 2.17 (CentOS 7, Amazon Linux 2); any
// other build (musl) must not need glibc at all.
const gnu = here.endsWith('-gnu')
test(`the installed addon needs ${gnu ? 'glibc 2.17 at most' : 'no glibc'}`, () => {
  const addon = join(project, 'node_modules', `meteor-cluster-${here}`, `meteor-cluster.${here}.node`)
  const versions = [...sh('objdump', ['-T', addon]).matchAll(/GLIBC_(\d+)\.(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])])
  if (!gnu) {
    assert.deepEqual(versions, [], `the ${here} addon needs no glibc symbol versions`)
    return
  }
  assert.ok(versions.length > 0, 'objdump -T lists glibc symbol versions')
  const [major, minor] = versions.sort((a, b) => b[0] - a[0] || b[1] - a[1])[0]
  assert.ok(major < 2 || (major === 2 && minor <= 17), `the addon needs GLIBC_${major}.${minor}`)
})

test('a platform package of another version is refused, saying which versions to reinstall', () => {
  const manifest = join(project, 'node_modules', `meteor-cluster-${here}`, 'package.json')
  const original = readFileSync(manifest, 'utf8')
  writeFileSync(manifest, JSON.stringify({ ...JSON.parse(original), version: '0.0.0-older' }))
  try {
    const result = spawnSync(process.execPath, ['require.cjs'], { cwd: project, env: noCargoEnv, encoding: 'utf8', timeout: 60000 })
    assert.notEqual(result.status, 0)
    assert.match(result.stderr, new RegExp(`meteor-cluster ${version} needs meteor-cluster-${here} ${version}, but 0\\.0\\.0-older is installed`))
  } finally {
    writeFileSync(manifest, original)
  }
})
